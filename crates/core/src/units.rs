//! Units and exact arithmetic (SPEC §2).
//!
//! Money is counted in fen, points in atoms, ratios in basis points. Every intermediate product
//! is computed in `u128`; divisions round down and fees round up, so the remainder always stays
//! in the reserve.

use core::cmp::Ordering;
use core::fmt;

/// Atoms in one growth point.
pub const ATOMS_PER_POINT: u64 = 100_000_000;
/// Basis points in 100 %.
pub const BPS_ONE: u64 = 10_000;

/// An amount of money (or of stable points, or of quota), in fen: 0.01 yuan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(pub u64);

/// An amount of growth points, in atoms: one point is [`ATOMS_PER_POINT`] atoms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Atoms(pub u64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn get(self) -> u64 {
        self.0
    }
}

impl Atoms {
    pub const ZERO: Atoms = Atoms(0);

    pub fn get(self) -> u64 {
        self.0
    }
}

/// Sums and differences of amounts of one unit. Like `u64`'s, they panic on overflow (the
/// release profile keeps overflow checks): an amount that wraps is a bug.
macro_rules! amount_arithmetic {
    ($t:ident) => {
        impl core::ops::Add for $t {
            type Output = $t;
            fn add(self, other: $t) -> $t {
                $t(self.0 + other.0)
            }
        }
        impl core::ops::Sub for $t {
            type Output = $t;
            fn sub(self, other: $t) -> $t {
                $t(self.0 - other.0)
            }
        }
        impl core::ops::AddAssign for $t {
            fn add_assign(&mut self, other: $t) {
                self.0 += other.0;
            }
        }
        impl core::ops::SubAssign for $t {
            fn sub_assign(&mut self, other: $t) {
                self.0 -= other.0;
            }
        }
        impl core::iter::Sum for $t {
            fn sum<I: Iterator<Item = $t>>(iter: I) -> $t {
                $t(iter.map(|a| a.0).sum())
            }
        }
        impl From<$t> for u64 {
            fn from(a: $t) -> u64 {
                a.0
            }
        }
    };
}

amount_arithmetic!(Fen);
amount_arithmetic!(Atoms);

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Atoms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `floor(a × b / c)` in `u128`. `c` must be positive.
#[inline]
pub fn mul_div_floor(a: u64, b: u64, c: u64) -> u128 {
    debug_assert!(c > 0);
    (a as u128 * b as u128) / c as u128
}

/// `floor(value × bps / 10000)`. The result never exceeds `value × 10` for any valid rate, so it
/// fits `u64` for every amount the rules allow; a larger one is a programmer error.
#[inline]
pub fn bps_floor(value: u64, bps: u64) -> u64 {
    to_u64(mul_div_floor(value, bps, BPS_ONE))
}

/// `ceil(value × bps / 10000)`: fees round up, toward the reserve.
#[inline]
pub fn bps_ceil(value: u64, bps: u64) -> u64 {
    let product = value as u128 * bps as u128;
    to_u64(product.div_ceil(BPS_ONE as u128))
}

#[inline]
pub(crate) fn to_u64(x: u128) -> u64 {
    u64::try_from(x).expect("exact arithmetic result exceeds u64: a rules bound is missing")
}

/// A price as the exact fraction `fen / atoms`. It is compared by cross-multiplying, never by
/// division, and never converted to a float in any computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub num_fen: u64,
    pub den_atoms: u64,
}

impl Price {
    /// The price of `fen` per whole point.
    pub fn per_point(fen: u64) -> Price {
        Price {
            num_fen: fen,
            den_atoms: ATOMS_PER_POINT,
        }
    }

    /// `atoms_for(v) = floor(v × den / num)`, in `u128` because a low price can ask for more
    /// atoms than `u64` holds; the issuance cap bounds what is granted.
    #[inline]
    pub fn atoms_for(self, fen: u64) -> u128 {
        mul_div_floor(fen, self.den_atoms, self.num_fen)
    }

    /// The value of `atoms` at this price, rounded down.
    #[inline]
    pub fn value_fen(self, atoms: u64) -> u64 {
        to_u64(mul_div_floor(atoms, self.num_fen, self.den_atoms))
    }

    /// The display value: yuan per point, rounded half up to `decimals` places, as a string.
    /// Only for people; never used in arithmetic.
    pub fn yuan_per_point(self, decimals: u32) -> String {
        // fen/atom × 1e8 atoms/point ÷ 100 fen/yuan = num × 1e6 / den yuan per point.
        let scale = 10u128.pow(decimals);
        let scaled_num = self.num_fen as u128 * 1_000_000 * scale;
        let den = self.den_atoms as u128;
        let rounded = (scaled_num + den / 2) / den;
        let whole = rounded / scale;
        let frac = rounded % scale;
        if decimals == 0 {
            return whole.to_string();
        }
        format!("{whole}.{frac:0width$}", width = decimals as usize)
    }
}

impl Ord for Price {
    fn cmp(&self, other: &Self) -> Ordering {
        let left = self.num_fen as u128 * other.den_atoms as u128;
        let right = other.num_fen as u128 * self.den_atoms as u128;
        left.cmp(&right)
    }
}

impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.yuan_per_point(4))
    }
}

/// Compares the fractions `a_num / a_den` and `b_num / b_den` for non-negative integers with
/// positive denominators, exactly.
#[inline]
pub fn cmp_fraction(a_num: u64, a_den: u64, b_num: u64, b_den: u64) -> Ordering {
    (a_num as u128 * b_den as u128).cmp(&(b_num as u128 * a_den as u128))
}

/// `⌊n / d⌋` for a 128-bit `n` and a 64-bit `d`, when the quotient fits in 64 bits (that is,
/// `n < d × 2^64`); `None` otherwise, and for `d = 0`. On x86_64 this is one `div` instruction,
/// which divides 128 bits by 64 in hardware; Rust's `u128 / u128` calls a general routine that
/// costs several times as much, and settlement divides twice for every holder every day.
#[inline]
pub(crate) fn div_wide(n: u128, d: u64) -> Option<u64> {
    let high = (n >> 64) as u64;
    if high >= d {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let quotient: u64;
        // SAFETY: `div` divides rdx:rax by the operand, leaving the quotient in rax and the
        // remainder in rdx. It faults only when the divisor is zero or the quotient does not fit
        // in 64 bits, and `high < d` rules out both (d > high ≥ 0, and n < d × 2^64). It reads
        // and writes no memory.
        unsafe {
            core::arch::asm!(
                "div {d}",
                d = in(reg) d,
                inout("rax") n as u64 => quotient,
                inout("rdx") high => _,
                options(pure, nomem, nostack),
            );
        }
        Some(quotient)
    }
    #[cfg(not(target_arch = "x86_64"))]
    Some((n / d as u128) as u64)
}

/// A xorshift64 stream from `seed` (non-zero), for unit tests that need many varied values.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_division_matches_u128_division() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..100_000 {
            let d = next() >> (next() % 64);
            let n = ((next() as u128) << 64 | next() as u128) >> (next() % 128);
            let want = (d > 0)
                .then(|| n / d as u128)
                .and_then(|q| u64::try_from(q).ok());
            assert_eq!(div_wide(n, d), want, "{n} / {d}");
        }
        assert_eq!(div_wide(u128::MAX, u64::MAX), None);
        let half = u128::MAX >> 1;
        assert_eq!(
            div_wide(half, u64::MAX),
            Some((half / u64::MAX as u128) as u64)
        );
        assert_eq!(div_wide((u64::MAX as u128) << 64, u64::MAX), None);
        assert_eq!(
            div_wide(((u64::MAX as u128) << 64) - 1, u64::MAX),
            Some(u64::MAX)
        );
        assert_eq!(div_wide(7, 0), None);
        assert_eq!(div_wide(0, 3), Some(0));
    }

    #[test]
    fn fees_round_up_and_shares_round_down() {
        assert_eq!(bps_floor(999, 1000), 99);
        assert_eq!(bps_ceil(999, 1000), 100);
        assert_eq!(bps_ceil(1000, 1000), 100);
        assert_eq!(bps_ceil(0, 1000), 0);
        assert_eq!(bps_floor(u64::MAX / 10, 100_000), u64::MAX / 10 * 10);
    }

    #[test]
    fn price_display_rounds_half_up() {
        let check = |num, den, want: &str| {
            let p = Price {
                num_fen: num,
                den_atoms: den,
            };
            assert_eq!(p.yuan_per_point(4), want, "{num}/{den}");
        };
        check(3000, 2_100_000_000, "1.4286");
        check(100, ATOMS_PER_POINT, "1.0000");
        check(1, ATOMS_PER_POINT * 3, "0.0033");
        check(100_000_000, ATOMS_PER_POINT, "1000000.0000");
    }

    #[test]
    fn price_order_is_exact() {
        let a = Price {
            num_fen: 1,
            den_atoms: 3,
        };
        let b = Price {
            num_fen: 2,
            den_atoms: 6,
        };
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let c = Price {
            num_fen: u64::MAX,
            den_atoms: u64::MAX - 1,
        };
        assert!(c > Price::per_point(100_000_000));
        assert_eq!(a.atoms_for(5), 15);
    }
}
