//! The rules of one economy (SPEC §3).

use crate::units::ATOMS_PER_POINT;

/// The rules of an economy. Fields hold raw integers exactly as given; [`Rules::is_valid`] says
/// whether they may be used. Only valid rules ever reach an [`crate::Economy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub initial_price_fen: u64,
    pub reserve_bps: u64,
    pub reward_bps: u64,
    pub referral_bps: u64,
    pub dividend_bps: u64,
    pub quota_multiplier_bps: u64,
    pub sell_fee_bps: u64,
    pub convert_fee_bps: u64,
    pub issuance_cap_points: u64,
    pub exit_enabled: bool,
    pub stable_payment_earns: bool,
    pub order_max_fen: u64,
}

pub const BPS_MAX: u64 = 10_000;
pub const QUOTA_MULTIPLIER_BPS_MAX: u64 = 100_000;
pub const INITIAL_PRICE_FEN_MAX: u64 = 100_000_000;
pub const ISSUANCE_CAP_POINTS_MAX: u64 = 100_000_000_000;
pub const ORDER_MAX_FEN_MAX: u64 = 1_000_000_000_000;

fn set_flag(slot: &mut bool, value: bool) -> bool {
    *slot = value;
    true
}

/// The keys of SPEC §3, in the SPEC's order. The wire format uses exactly these.
pub const RULE_KEYS: [&str; 12] = [
    "initial_price_fen",
    "reserve_bps",
    "reward_bps",
    "referral_bps",
    "dividend_bps",
    "quota_multiplier_bps",
    "sell_fee_bps",
    "convert_fee_bps",
    "issuance_cap_points",
    "exit_enabled",
    "stable_payment_earns",
    "order_max_fen",
];

impl Default for Rules {
    fn default() -> Self {
        Rules {
            initial_price_fen: 100,
            reserve_bps: 3000,
            reward_bps: 7000,
            referral_bps: 1000,
            dividend_bps: 3000,
            quota_multiplier_bps: 20000,
            sell_fee_bps: 1000,
            convert_fee_bps: 0,
            issuance_cap_points: 100_000_000,
            exit_enabled: true,
            stable_payment_earns: false,
            order_max_fen: 100_000_000,
        }
    }
}

/// The value of one rule: an integer, or a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleValue {
    Int(u64),
    Flag(bool),
}

impl Rules {
    /// Every rule's value, in the order of [`RULE_KEYS`]: the one list of the rules' fields
    /// that the formats (TOML, JSON, snapshots) walk.
    pub fn values(&self) -> [RuleValue; 12] {
        use RuleValue::{Flag, Int};
        [
            Int(self.initial_price_fen),
            Int(self.reserve_bps),
            Int(self.reward_bps),
            Int(self.referral_bps),
            Int(self.dividend_bps),
            Int(self.quota_multiplier_bps),
            Int(self.sell_fee_bps),
            Int(self.convert_fee_bps),
            Int(self.issuance_cap_points),
            Flag(self.exit_enabled),
            Flag(self.stable_payment_earns),
            Int(self.order_max_fen),
        ]
    }

    /// Sets rule `key` to `value`: `false` when there is no such rule, or it is of the other
    /// kind.
    pub fn set(&mut self, key: &str, value: RuleValue) -> bool {
        use RuleValue::{Flag, Int};
        let slot = match (key, value) {
            ("exit_enabled", Flag(b)) => return set_flag(&mut self.exit_enabled, b),
            ("stable_payment_earns", Flag(b)) => {
                return set_flag(&mut self.stable_payment_earns, b)
            }
            (_, Flag(_)) => return false,
            ("initial_price_fen", Int(_)) => &mut self.initial_price_fen,
            ("reserve_bps", Int(_)) => &mut self.reserve_bps,
            ("reward_bps", Int(_)) => &mut self.reward_bps,
            ("referral_bps", Int(_)) => &mut self.referral_bps,
            ("dividend_bps", Int(_)) => &mut self.dividend_bps,
            ("quota_multiplier_bps", Int(_)) => &mut self.quota_multiplier_bps,
            ("sell_fee_bps", Int(_)) => &mut self.sell_fee_bps,
            ("convert_fee_bps", Int(_)) => &mut self.convert_fee_bps,
            ("issuance_cap_points", Int(_)) => &mut self.issuance_cap_points,
            ("order_max_fen", Int(_)) => &mut self.order_max_fen,
            _ => return false,
        };
        if let Int(n) = value {
            *slot = n;
        }
        true
    }

    /// Whether these rules are valid for an economy that has already issued `issued_atoms`.
    pub fn is_valid(&self, issued_atoms: u64) -> bool {
        self.check(issued_atoms).is_ok()
    }

    /// Like [`Rules::is_valid`], naming the first broken bound for people.
    pub fn check(&self, issued_atoms: u64) -> Result<(), &'static str> {
        let bps = [
            (self.reserve_bps, "reserve_bps must be at most 10000"),
            (self.reward_bps, "reward_bps must be at most 10000"),
            (self.referral_bps, "referral_bps must be at most 10000"),
            (self.dividend_bps, "dividend_bps must be at most 10000"),
            (self.sell_fee_bps, "sell_fee_bps must be at most 10000"),
            (
                self.convert_fee_bps,
                "convert_fee_bps must be at most 10000",
            ),
        ];
        for (value, why) in bps {
            if value > BPS_MAX {
                return Err(why);
            }
        }
        if self.quota_multiplier_bps > QUOTA_MULTIPLIER_BPS_MAX {
            return Err("quota_multiplier_bps must be at most 100000");
        }
        if self.reward_bps + self.referral_bps > BPS_MAX {
            return Err("reward_bps + referral_bps must be at most 10000");
        }
        if self.reserve_bps + self.dividend_bps > BPS_MAX {
            return Err("reserve_bps + dividend_bps must be at most 10000");
        }
        if !(1..=INITIAL_PRICE_FEN_MAX).contains(&self.initial_price_fen) {
            return Err("initial_price_fen must be in 1..=100000000");
        }
        if !(1..=ISSUANCE_CAP_POINTS_MAX).contains(&self.issuance_cap_points) {
            return Err("issuance_cap_points must be in 1..=100000000000");
        }
        if !(1..=ORDER_MAX_FEN_MAX).contains(&self.order_max_fen) {
            return Err("order_max_fen must be in 1..=1000000000000");
        }
        if self.cap_atoms() < issued_atoms {
            return Err("issuance_cap_points is below what is already issued");
        }
        Ok(())
    }

    /// The issuance cap in atoms. At most 1e19, which fits `u64`.
    pub fn cap_atoms(&self) -> u64 {
        self.issuance_cap_points.saturating_mul(ATOMS_PER_POINT)
    }

    /// The rates fixed on an order at payment (the † keys of SPEC §5).
    pub fn order_rates(&self) -> OrderRates {
        OrderRates {
            reserve_bps: self.reserve_bps as u16,
            reward_bps: self.reward_bps as u16,
            referral_bps: self.referral_bps as u16,
            dividend_bps: self.dividend_bps as u16,
            quota_multiplier_bps: self.quota_multiplier_bps as u32,
            stable_payment_earns: self.stable_payment_earns,
        }
    }
}

/// The rates that an order carries from payment to confirmation, packed: every bps is at most
/// 10000 (fits `u16`) and the quota multiplier at most 100000.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRates {
    pub reserve_bps: u16,
    pub reward_bps: u16,
    pub referral_bps: u16,
    pub dividend_bps: u16,
    pub quota_multiplier_bps: u32,
    pub stable_payment_earns: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let ok = Rules::default();
        assert!(ok.is_valid(0));
        let check = |f: fn(&mut Rules), valid: bool| {
            let mut r = Rules::default();
            f(&mut r);
            assert_eq!(r.is_valid(0), valid, "{r:?}");
        };
        check(|r| r.reward_bps = 10001, false);
        check(|r| r.reward_bps = 9000, true);
        check(|r| r.referral_bps = 3001, false);
        check(|r| r.quota_multiplier_bps = 100_000, true);
        check(|r| r.quota_multiplier_bps = 100_001, false);
        check(|r| r.dividend_bps = 7001, false);
        check(|r| r.initial_price_fen = 0, false);
        check(|r| r.initial_price_fen = 100_000_001, false);
        check(|r| r.issuance_cap_points = 0, false);
        check(|r| r.issuance_cap_points = 100_000_000_001, false);
        check(|r| r.order_max_fen = 1_000_000_000_001, false);
        check(|r| r.sell_fee_bps = u64::MAX, false);
        let small_cap = Rules {
            issuance_cap_points: 1,
            ..Rules::default()
        };
        assert!(small_cap.is_valid(ATOMS_PER_POINT));
        assert!(!small_cap.is_valid(ATOMS_PER_POINT + 1));
    }
}
