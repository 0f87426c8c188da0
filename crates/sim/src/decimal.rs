//! Decimal digits without the formatting machinery: a year's run writes millions of names
//! (`u123456`, `o2345678`) and CSV fields, and `format!` costs several times more per number.

use compact_str::CompactString;

/// `prefix` followed by the digits of `n`: the name of a simulated account or order.
pub(crate) fn name(prefix: &'static str, n: u64) -> CompactString {
    let mut s = CompactString::const_new(prefix);
    s.push_str(itoa::Buffer::new().format(n));
    s
}

/// Appends the digits of `n`.
pub(crate) fn push(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Points, for display: whole points with up to 8 decimals, trailing zeros dropped.
pub fn points(atoms: u64) -> String {
    let frac = format!("{:08}", atoms % jifen_core::ATOMS_PER_POINT);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        (atoms / jifen_core::ATOMS_PER_POINT).to_string()
    } else {
        format!("{}.{frac}", atoms / jifen_core::ATOMS_PER_POINT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_format_writes() {
        for n in [0, 1, 9, 10, 99, 100, 123_456, u64::from(u32::MAX), u64::MAX] {
            let mut s = String::new();
            push(&mut s, n);
            assert_eq!(s, n.to_string());
            assert_eq!(name("u", n), format!("u{n}"));
        }
    }
}
