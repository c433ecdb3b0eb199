//! The simulator's single source of randomness: a seeded PCG-64 stream behind every
//! decision, duration and identifier, so one seed gives byte-identical output.
//!
//! Durations come from log-normal distributions (parameterised by their mean, as contact
//! center handle times are), waits from exponentials, and UUIDs are drawn from the same
//! stream with the version-4 bits set.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};
use rand_pcg::Pcg64;

/// Seeded random stream with the helpers the simulation needs.
pub(crate) struct SimRng(Pcg64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        Self(Pcg64::seed_from_u64(seed))
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.gen()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform integer in `lo..=hi` (returns `lo` when `hi < lo`).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.0.gen_range(lo..=hi)
        }
    }

    /// Uniform index below `n` (`n` must be positive).
    pub fn index(&mut self, n: usize) -> usize {
        self.0.gen_range(0..n.max(1))
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        let e: f64 = Exp1.sample(&mut self.0);
        e * mean
    }

    /// Log-normal with the given mean and shape `sigma` (spread of the underlying normal).
    pub fn lognormal(&mut self, mean: f64, sigma: f64) -> f64 {
        let mu = mean.ln() - sigma * sigma / 2.0;
        let z: f64 = StandardNormal.sample(&mut self.0);
        (mu + sigma * z).exp()
    }

    /// A log-normal duration in milliseconds, clamped to `[min_s, max_s]` seconds.
    pub fn duration_ms(&mut self, mean_s: f64, sigma: f64, min_s: f64, max_s: f64) -> i64 {
        let s = self.lognormal(mean_s, sigma).clamp(min_s, max_s);
        (s * 1000.0).round() as i64
    }

    /// Index drawn with probability proportional to `weights` (all non-negative, at least
    /// one positive; otherwise 0).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return 0;
        }
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }

    /// A random (version 4) UUID in lowercase 8-4-4-4-12 form.
    pub fn uuid(&mut self) -> String {
        let mut v: u128 = self.0.gen();
        v = (v & !(0xF_u128 << 76)) | (0x4_u128 << 76); // version 4
        v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62); // variant 10xx
        let hex = format!("{v:032x}");
        let mut s = String::with_capacity(36);
        for (i, part) in [
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32],
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                s.push('-');
            }
            s.push_str(part);
        }
        s
    }

    /// `n` random lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.0.gen_range(0..16), 16).unwrap_or('0'))
            .collect()
    }

    /// `n` random decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.0.gen_range(0..10u8)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_seeded() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        for _ in 0..100 {
            let u = a.uuid();
            assert_eq!(u, b.uuid());
            assert_eq!(u.len(), 36);
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'));
            assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
            assert!(u
                .chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        assert_ne!(SimRng::new(8).uuid(), SimRng::new(7).uuid());
    }

    #[test]
    fn lognormal_has_the_requested_mean() {
        let mut r = SimRng::new(1);
        let n = 20_000;
        let mean = (0..n).map(|_| r.lognormal(300.0, 0.6)).sum::<f64>() / n as f64;
        assert!((mean - 300.0).abs() < 15.0, "{mean}");
    }
}
