//! Snapshot framing: which economy, which journal position, and a checksum over everything.
//!
//! `b"JFSNAP01" ‖ len(economy) u8 ‖ economy ‖ seq u64 ‖ chain hash at seq [32] ‖ len(payload)
//! u64 ‖ payload ‖ SHA-256 of all the preceding bytes [32]`, integers big-endian. The payload
//! is `Ledger::encode`.

use sha2::{Digest, Sha256};

use crate::entry::Hash;

const MAGIC: &[u8; 8] = b"JFSNAP01";

pub fn frame(economy: &str, seq: u64, hash: &Hash, payload: &[u8]) -> Vec<u8> {
    frame_with(economy, seq, hash, payload.len(), |out| {
        out.extend_from_slice(payload)
    })
}

/// Frames the payload that `write` appends, without copying it; `len_hint` reserves room.
pub fn frame_with(
    economy: &str,
    seq: u64,
    hash: &Hash,
    len_hint: usize,
    write: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(len_hint + 128);
    out.extend_from_slice(MAGIC);
    out.push(economy.len() as u8);
    out.extend_from_slice(economy.as_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(hash);
    let len_at = out.len();
    out.extend_from_slice(&[0; 8]);
    write(&mut out);
    let payload_len = (out.len() - len_at - 8) as u64;
    out[len_at..len_at + 8].copy_from_slice(&payload_len.to_be_bytes());
    let sum: Hash = Sha256::digest(&out).into();
    out.extend_from_slice(&sum);
    out
}

/// A snapshot's position and payload, after its checksum and economy were checked.
pub struct Unframed<'a> {
    pub seq: u64,
    pub hash: Hash,
    pub payload: &'a [u8],
}

pub fn unframe<'a>(economy: &str, bytes: &'a [u8]) -> Result<Unframed<'a>, String> {
    if bytes.len() < MAGIC.len() + 1 + 8 + 32 + 8 + 32 || &bytes[..8] != MAGIC {
        return Err("not a jifen snapshot".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    let want: Hash = Sha256::digest(body).into();
    if want[..] != sum[..] {
        return Err("snapshot checksum does not match".into());
    }
    let id_len = body[8] as usize;
    let rest = body.get(9..).ok_or("truncated")?;
    if rest.len() < id_len + 48 {
        return Err("snapshot truncated".into());
    }
    let (id, rest) = rest.split_at(id_len);
    if id != economy.as_bytes() {
        return Err(format!(
            "snapshot belongs to economy {:?}",
            String::from_utf8_lossy(id)
        ));
    }
    let seq = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
    let hash: Hash = rest[8..40].try_into().expect("32 bytes");
    let len = u64::from_be_bytes(rest[40..48].try_into().expect("8 bytes"));
    let payload = &rest[48..];
    if payload.len() as u64 != len {
        return Err("snapshot length does not match".into());
    }
    Ok(Unframed { seq, hash, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flip_detected() {
        let bytes = frame("eco", 7, &[3; 32], b"payload");
        let u = unframe("eco", &bytes).unwrap();
        assert_eq!((u.seq, u.hash, u.payload), (7, [3; 32], &b"payload"[..]));
        assert!(unframe("other", &bytes).is_err());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(unframe("eco", &bad).is_err(), "flip at {i} not detected");
        }
    }
}
