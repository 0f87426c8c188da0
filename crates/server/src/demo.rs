//! `jifen serve --demo`: an economy with the brief's rules (the SPEC §3 defaults) and some
//! activity, so a newcomer sees something at once.

use jifen_journal::{JournalError, Submitted};
use serde_json::{json, Value};

use crate::app::App;

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

/// The demo's artwork: a 96×96 PNG of a wine-red seal on a gold ground, made here (stored
/// deflate blocks, so it needs no compressor).
pub fn demo_image() -> Vec<u8> {
    const SIZE: u32 = 96;
    let mut raw = Vec::with_capacity(((SIZE * 3 + 1) * SIZE) as usize);
    for y in 0..SIZE {
        raw.push(0); // no filter
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
            raw.extend_from_slice(&pixel);
        }
    }
    // zlib: header, stored blocks of up to 65,535 bytes, Adler-32.
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + byte as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&SIZE.to_be_bytes());
    header.extend_from_slice(&SIZE.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    for (kind, data) in [(b"IHDR", header), (b"IDAT", z), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Creates the demo economy unless it exists. Returns whether it was created.
pub fn ensure_demo(app: &App) -> Result<bool, JournalError> {
    if app.economy(DEMO_ECONOMY).is_some() {
        return Ok(false);
    }
    let now = app.now_ms();
    let rules = jifen_core::Rules::default();
    let meta = app.with_store(|s| {
        Ok(jifen_journal::create_economy(
            s,
            DEMO_ECONOMY,
            "示例酒庄 Demo wine shop",
            &rules,
            jifen_journal::DEFAULT_TIMEZONE,
            now,
        ))
    })??;
    let image = demo_image();
    let sha = crate::keys::sha256_hex(&image);
    app.with_store(|s| s.put_content(&sha, "image/png", &image))?;
    let economy = app.open_economy(meta)?;
    let commands = demo_commands().into_iter().map(Submitted::Value).collect();
    economy.journal.submit_wait(commands)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
    }
}
