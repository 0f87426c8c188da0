//! `jifen serve --demo`: an economy with the brief's rules (the SPEC §3 defaults) and 60 days
//! of activity (`demo_history`), so a newcomer sees a living programme at once.

use jifen_journal::JournalError;

use crate::economies::Economies;
use crate::store::StoreHandle;

pub const DEMO_ECONOMY: &str = "demo";

/// The demo's artwork: a 96×96 PNG of a wine-red seal on a gold ground, drawn here and encoded
/// by the `png` crate.
pub fn demo_image() -> Vec<u8> {
    const SIZE: u32 = 96;
    let mut rgb = Vec::with_capacity((SIZE * SIZE * 3) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (dx, dy) = (x as i32 - 48, y as i32 - 48);
            let d2 = dx * dx + dy * dy;
            let pixel = if d2 < 30 * 30 {
                [128 - (d2 / 20) as u8, 16, 40]
            } else if d2 < 34 * 34 {
                [214, 170, 60]
            } else {
                [240, 226 - (y / 4) as u8, 190]
            };
            rgb.extend_from_slice(&pixel);
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, SIZE, SIZE);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Encoding into memory fails only on a programming error (a wrong size), which the test
    // below would show.
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&rgb);
    }
    png
}

/// Creates the demo economy unless it exists, with 60 days of history up to `now_ms`
/// (`demo_history`). Returns whether it was created.
pub fn ensure_demo(
    economies: &Economies,
    store: &StoreHandle,
    now_ms: i64,
) -> Result<bool, JournalError> {
    if economies.get(DEMO_ECONOMY).is_some() {
        return Ok(false);
    }
    let rules = jifen_core::Rules::default();
    let zone = jifen_journal::DEFAULT_TIMEZONE;
    let tz = crate::times::time_zone(zone).map_err(|e| JournalError::Invalid(e.message))?;
    let days_ago = now_ms - crate::demo_history::DAYS * crate::bounds::DAY_MS;
    let (start_ms, _) =
        crate::times::day_start(&tz, days_ago).map_err(|e| JournalError::Invalid(e.message))?;
    let meta = store.with(|s| {
        Ok(jifen_journal::create_economy(
            s,
            DEMO_ECONOMY,
            "示例酒庄 Demo wine shop",
            &rules,
            zone,
            start_ms,
        ))
    })??;
    let image = demo_image();
    let sha = crate::keys::sha256_hex(&image);
    store.with(|s| s.put_content(&sha, "image/png", &image))?;
    crate::demo_history::write_history(economies, store, &meta, start_ms, &sha)?;
    economies.open(meta)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_image_decodes_to_its_size() {
        let bytes = super::demo_image();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (96, 96));
        assert_eq!(info.color_type, png::ColorType::Rgb);
    }
}
