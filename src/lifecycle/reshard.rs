//! Resharding: which targets move when the shard count changes, the count that moves
//! the fewest, and how long retired shards must stay.
//!
//! A target lands on shard `hashmod(address) % shards`. Going from `n` to `m` shards, a
//! target stays on its shard exactly when `h % n == h % m`; over one period
//! `lcm(n, m)` of `h` that holds for `h ≡ k (mod lcm)` with `k < min(n, m)`, so the
//! share that stays is `min(n, m) / lcm(n, m)`: doubling keeps half, `n → n + 1` keeps
//! `1 / (n + 1)`.

/// Greatest common divisor.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The share of targets (0..=1) that change shard when the count goes `from → to`.
pub fn moved_share(from: u16, to: u16) -> f64 {
    let (n, m) = (u64::from(from.max(1)), u64::from(to.max(1)));
    if n == m {
        return 0.0;
    }
    let lcm = n / gcd(n, m) * m;
    1.0 - n.min(m) as f64 / lcm as f64
}

/// The count in `to..=2*to` (within `max`) whose move from `from` is smallest, and that
/// share; ties go to the smaller count. Growing to a multiple of the current count moves
/// the least (to `k * from`: all but `1/k` move, and every target moves to a shard whose
/// number is its old one modulo `from`).
pub fn least_moving(from: u16, to: u16, max: u16) -> (u16, f64) {
    let hi = to.saturating_mul(2).min(max.max(to));
    let mut best = (to, moved_share(from, to));
    for c in to..=hi {
        let s = moved_share(from, c);
        if s < best.1 - 1e-12 {
            best = (c, s);
        }
    }
    best
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` → days since the epoch, if it is a real date.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = &s[r];
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let days = days_from_civil(i64::from(y), m, d);
    (civil_from_days(days) == (i64::from(y), m, d)).then_some(days)
}

/// `YYYY-MM-DD` of a day count.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The first day a retired shard's data is past `retention_ms`, when it stopped scraping
/// on `since` (days since the epoch): the day after `since + retention`, rounded up to
/// whole days, plus one for the block still open when scraping stopped.
pub fn retired_until(since: i64, retention_ms: u64) -> i64 {
    let days = retention_ms.div_ceil(86_400_000) as i64;
    since.saturating_add(days).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_moves_half_and_one_more_moves_all_but_one_share() {
        assert_eq!(moved_share(4, 8), 0.5);
        assert_eq!(moved_share(8, 4), 0.5);
        assert!((moved_share(4, 5) - 4.0 / 5.0).abs() < 1e-12);
        assert!((moved_share(63, 64) - 63.0 / 64.0).abs() < 1e-12);
        assert_eq!(moved_share(7, 7), 0.0);
    }

    /// The formula against counting: hash values 0..lcm*3 spread over the shards.
    #[test]
    fn the_moved_share_is_what_counting_hashes_gives() {
        for n in 1u16..=12 {
            for m in 1u16..=12 {
                let total = 27_720u64; // lcm(1..=12): a whole number of periods
                let stay = (0..total).filter(|h| h % u64::from(n) == h % u64::from(m)).count();
                let counted = 1.0 - stay as f64 / total as f64;
                assert!((moved_share(n, m) - counted).abs() < 1e-12, "{n} -> {m}");
            }
        }
    }

    #[test]
    fn growing_to_a_multiple_moves_least() {
        assert_eq!(least_moving(4, 6, 1024), (8, 0.5));
        assert_eq!(least_moving(4, 8, 1024).0, 8);
        assert_eq!(least_moving(3, 4, 1024), (6, 0.5));
    }

    #[test]
    fn dates_round_trip_and_invalid_dates_are_refused() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-12-01").map(format_date).as_deref(), Some("2026-12-01"));
        assert_eq!(parse_date("2024-02-29").map(format_date).as_deref(), Some("2024-02-29"));
        for bad in ["2023-02-29", "2026-13-01", "2026-1-01", "26-12-01", "2026/12/01", "2026-12-0x"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        let since = parse_date("2026-12-01").unwrap();
        assert_eq!(format_date(retired_until(since, 15 * 86_400_000)), "2026-12-17");
        assert_eq!(format_date(retired_until(since, 36 * 3_600_000)), "2026-12-04");
    }
}
