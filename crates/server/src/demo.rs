//! `jifen serve --demo`: an economy with the brief's rules (the SPEC §3 defaults) and some
//! activity, so a newcomer sees something at once.

use jifen_journal::{JournalError, Submitted};
use serde_json::{json, Value};

use crate::economies::Economies;
use crate::store::StoreHandle;

pub const DEMO_ECONOMY: &str = "demo";
/// Consumers in the demo; each buys one 100-yuan bottle, as in the brief's worked example.
const DEMO_CONSUMERS: usize = 100;

fn demo_commands() -> Vec<Value> {
    let mut out =
        vec![json!({"type": "register_merchant", "id": "demo-m", "account": "wine-shop"})];
    for i in 1..=DEMO_CONSUMERS {
        let name = format!("c{i:03}");
        let mut register =
            json!({"type": "register_consumer", "id": format!("demo-r{i}"), "account": name});
        if i > 1 && i.is_multiple_of(3) {
            register["referrer"] = json!(format!("c{:03}", i - 1));
        }
        out.push(register);
        let order = format!("o{i:03}");
        out.push(json!({"type": "pay_order", "id": format!("demo-p{i}"), "order": order, "consumer": name, "merchant": "wine-shop", "cash_fen": 10_000, "stable_fen": 0}));
        out.push(json!({"type": "confirm_order", "id": format!("demo-c{i}"), "order": order}));
    }
    // A few orders still inside the return window, one sale and one conversion.
    for i in 1..=5 {
        out.push(json!({"type": "pay_order", "id": format!("demo-q{i}"), "order": format!("p{i:03}"), "consumer": format!("c{i:03}"), "merchant": "wine-shop", "cash_fen": 29_900, "stable_fen": 0}));
    }
    out.push(json!({"type": "sell", "id": "demo-s1", "account": "c050", "atoms": 500_000_000u64}));
    out.push(json!({"type": "convert_to_stable", "id": "demo-x1", "account": "c060", "atoms": 300_000_000u64}));
    // SPEC §13: a certificate for the first bottle, and a collectible holding some points.
    let seal = crate::keys::sha256_hex(&demo_image());
    out.push(json!({"type": "issue_certificate", "id": "demo-cert1", "collectible": "cert-o001", "order": "o001", "series": "vintage-2026", "content_sha256": seal}));
    out.push(json!({"type": "mint_collectible", "id": "demo-mint1", "collectible": "vintage-2026-001", "account": "c002", "series": "vintage-2026", "atoms": 500_000_000u64, "content_sha256": seal}));
    out
}

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

/// Creates the demo economy unless it exists. Returns whether it was created.
pub fn ensure_demo(
    economies: &Economies,
    store: &StoreHandle,
    now_ms: i64,
) -> Result<bool, JournalError> {
    if economies.get(DEMO_ECONOMY).is_some() {
        return Ok(false);
    }
    let rules = jifen_core::Rules::default();
    let meta = store.with(|s| {
        Ok(jifen_journal::create_economy(
            s,
            DEMO_ECONOMY,
            "示例酒庄 Demo wine shop",
            &rules,
            jifen_journal::DEFAULT_TIMEZONE,
            now_ms,
        ))
    })??;
    let image = demo_image();
    let sha = crate::keys::sha256_hex(&image);
    store.with(|s| s.put_content(&sha, "image/png", &image))?;
    let economy = economies.open(meta)?;
    let commands = demo_commands().into_iter().map(Submitted::Value).collect();
    economy.journal.submit_wait(commands)?;
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
