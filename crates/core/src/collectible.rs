//! Digital collectibles (数字藏品) and certificates, the economy clock and the collectible
//! policy: SPEC §13.
//!
//! A collectible locks atoms taken from its owner's free atoms (a certificate locks none).
//! Locked atoms stay in circulation, backed like any others, but earn no dividends and are not
//! counted by the exit rule, which looks at free atoms only. Collectibles are never removed: a
//! dissolved one keeps its name, so names are never reused.

use crate::account::AccountId;
use crate::name::Name;
use crate::name_table::NameTable;

/// Seconds in a day, for holding periods.
pub const DAY_SECONDS: i64 = 86_400;
/// The longest holding period a policy may set, in days.
pub const GIFT_HOLD_DAYS_MAX: u32 = 3650;

/// The collectible policy (separate from the §3 rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub gifting_enabled: bool,
    pub gift_hold_days: u32,
    /// Off unless the operator switches it on knowingly (SPEC §12).
    pub exchange_enabled: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            gifting_enabled: true,
            gift_hold_days: 180,
            exchange_enabled: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectibleState {
    Held,
    Exported,
    Dissolved,
}

impl CollectibleState {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectibleState::Held => "held",
            CollectibleState::Exported => "exported",
            CollectibleState::Dissolved => "dissolved",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collectible {
    pub name: Name,
    pub series: Name,
    pub owner: AccountId,
    /// Atoms locked inside; 0 once dissolved, and always 0 for a certificate.
    pub atoms: u64,
    /// SHA-256 of its artwork or certificate document.
    pub content_sha256: [u8; 32],
    pub state: CollectibleState,
    /// The venue it was exported to, while exported.
    pub venue: Option<Name>,
    /// The economy clock (seconds since the epoch) when its owner acquired it.
    pub acquired: i64,
}

impl Collectible {
    /// The content hash as 64 lowercase hex digits.
    pub fn content_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.content_sha256 {
            out.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            out.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        out
    }

    /// When the holding period ends and it may be gifted (clock seconds).
    pub fn giftable_at(&self, policy: &Policy) -> i64 {
        self.acquired
            .saturating_add(policy.gift_hold_days as i64 * DAY_SECONDS)
    }
}

/// Every collectible ever made, in creation order, with a name index.
#[derive(Clone, Default)]
pub struct Collectibles {
    list: Vec<Collectible>,
    by_name: NameTable,
}

impl Collectibles {
    pub fn find_id(&self, name: &str) -> Option<u32> {
        let list = &self.list;
        self.by_name.find(name, |id| &list[id as usize].name)
    }

    pub fn find(&self, name: &str) -> Option<&Collectible> {
        self.find_id(name).map(|id| &self.list[id as usize])
    }

    pub fn get(&self, id: u32) -> &Collectible {
        &self.list[id as usize]
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> &mut Collectible {
        &mut self.list[id as usize]
    }

    pub(crate) fn insert(&mut self, c: Collectible) {
        let id = u32::try_from(self.list.len()).expect("more than 2^32 collectibles");
        self.by_name.insert_new(&c.name, id);
        self.list.push(c);
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Collectible> {
        self.list.iter()
    }
}

/// Parses 64 lowercase hex digits.
pub fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (UTC) into seconds since the epoch.
pub fn parse_instant(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let day = crate::day::parse_day(&s[..10])?;
    let two = |i: usize| -> Option<i64> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit()).then(|| ((h - b'0') * 10 + (l - b'0')) as i64)
    };
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = crate::day::days_from_civil((day / 10_000) as i64, day / 100 % 100, day % 100);
    Some(days * DAY_SECONDS + hour * 3600 + minute * 60 + second)
}

/// Formats clock seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_instant(seconds: i64) -> String {
    let (y, m, d) = crate::day::civil_from_days(seconds.div_euclid(DAY_SECONDS));
    let s = seconds.rem_euclid(DAY_SECONDS);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_instant("2027-05-01T12:30:05Z"), Some(1_809_174_605));
        assert_eq!(format_instant(1_809_174_605), "2027-05-01T12:30:05Z");
        for bad in [
            "2027-05-01 12:30:05Z",
            "2027-05-01T12:30:05",
            "2027-02-30T00:00:00Z",
            "2027-05-01T24:00:00Z",
            "2027-05-01T12:60:00Z",
            "2027-05-01T12:30:05+08:00",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashes() {
        let h = "00ff".repeat(16);
        assert_eq!(parse_sha256_hex(&h).unwrap()[1], 0xff);
        assert!(parse_sha256_hex(&h.to_uppercase()).is_none());
        assert!(parse_sha256_hex(&h[..62]).is_none());
    }
}
