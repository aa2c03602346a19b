//! Resharding: which targets move when the shard count changes, the count that moves
//! the fewest. How long retired shards stay is the model's (`model::sharding::Retired`),
//! since render writes it too.
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
}
