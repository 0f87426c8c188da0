//! Snapshot framing: which economy, which journal position, and a checksum over everything.
//!
//! `b"JFSNAP02" ‖ len(economy) u8 ‖ economy ‖ seq u64 ‖ chain hash at seq [32] ‖ len(payload)
//! u64 ‖ payload ‖ n u64 ‖ n Merkle group roots [32 each] ‖ SHA-256 of all the preceding bytes
//! [32]`, integers big-endian. The payload is `Ledger::encode`; the group roots are the first
//! `n` complete 256-leaf groups of the journal's Merkle tree (`merkle::Tree::groups`), so
//! start-up need not hash the whole journal again.

use sha2::{Digest, Sha256};

use crate::entry::Hash;

const MAGIC: &[u8; 8] = b"JFSNAP02";

#[cfg(test)]
pub fn frame(economy: &str, seq: u64, hash: &Hash, payload: &[u8], groups: &[Hash]) -> Vec<u8> {
    let mut out = Vec::new();
    frame_into(&mut out, economy, seq, hash, payload.len(), groups, |out| {
        out.extend_from_slice(payload)
    });
    out
}

/// Frames the payload that `write` appends into `out`, which it empties first, without copying
/// the payload; `len_hint` reserves room. A buffer kept from one snapshot to the next is written
/// over in memory already mapped, rather than hundreds of MB of new pages faulted in and zeroed
/// for each snapshot.
pub fn frame_into(
    out: &mut Vec<u8>,
    economy: &str,
    seq: u64,
    hash: &Hash,
    len_hint: usize,
    groups: &[Hash],
    write: impl FnOnce(&mut Vec<u8>),
) {
    out.clear();
    out.reserve(len_hint + 136 + groups.len() * 32);
    out.extend_from_slice(MAGIC);
    out.push(economy.len() as u8);
    out.extend_from_slice(economy.as_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(hash);
    let len_at = out.len();
    out.extend_from_slice(&[0; 8]);
    write(out);
    let payload_len = (out.len() - len_at - 8) as u64;
    out[len_at..len_at + 8].copy_from_slice(&payload_len.to_be_bytes());
    out.extend_from_slice(&(groups.len() as u64).to_be_bytes());
    for g in groups {
        out.extend_from_slice(g);
    }
    let sum: Hash = Sha256::digest(&out[..]).into();
    out.extend_from_slice(&sum);
}

/// A snapshot's position and payload, after its checksum and economy were checked.
pub struct Unframed<'a> {
    pub seq: u64,
    pub hash: Hash,
    pub payload: &'a [u8],
    /// Merkle group roots (see the module's layout).
    pub groups: Vec<Hash>,
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
    let rest = &rest[48..];
    let payload = usize::try_from(len)
        .ok()
        .and_then(|len| rest.get(..len))
        .ok_or("snapshot length does not match")?;
    let rest = &rest[payload.len()..];
    let count = rest
        .get(..8)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
        .ok_or("snapshot truncated")?;
    let rest = &rest[8..];
    if rest.len() as u64 != count.saturating_mul(32) {
        return Err("snapshot group count does not match".into());
    }
    let groups = rest
        .chunks(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();
    Ok(Unframed {
        seq,
        hash,
        payload,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer reused from a larger snapshot frames the same bytes as a new one.
    #[test]
    fn a_reused_buffer_frames_the_same_bytes() {
        let mut buffer = frame("economy-one", 99, &[1; 32], &[7; 5000], &[[2; 32], [4; 32]]);
        frame_into(&mut buffer, "eco", 7, &[3; 32], 0, &[[5; 32]], |out| {
            out.extend_from_slice(b"payload")
        });
        assert_eq!(buffer, frame("eco", 7, &[3; 32], b"payload", &[[5; 32]]));
        assert!(unframe("eco", &buffer).is_ok());
    }

    #[test]
    fn round_trip_and_every_flip_detected() {
        let bytes = frame("eco", 7, &[3; 32], b"payload", &[[5; 32]]);
        let u = unframe("eco", &bytes).unwrap();
        assert_eq!((u.seq, u.hash, u.payload), (7, [3; 32], &b"payload"[..]));
        assert_eq!(u.groups, vec![[5; 32]]);
        assert!(unframe("other", &bytes).is_err());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(unframe("eco", &bad).is_err(), "flip at {i} not detected");
        }
    }
}
