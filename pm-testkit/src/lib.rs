//! Helpers shared by the tests, benches and examples of pmrs: a deterministic pseudo-random
//! generator for test inputs (splitmix64), dot products and relative differences.
//!
//! Part of pmrs: `docs/ARCHITECTURE.md` in the workspace is the map of the crates. This crate
//! is a dev-dependency only (`publish = false`) and has no dependencies of its own, so that
//! every crate, pm-decomp and pm-cosmo included, can use it without a cycle.
//!
//! Every function here was once copied into the test files that use it; the arithmetic is
//! kept bit for bit, so the tests draw the same numbers and compare them the same way as
//! before. Where the copies differed (in how the index is keyed, or in how 64 bits map to
//! an interval) the variants are kept as separately named functions, never merged.
//!
//! # Random numbers
//!
//! - [`SplitMix64`]: the stateful generator (a Weyl sequence with step [`GOLDEN_GAMMA`]
//!   through the [`mix64`] finalizer): [`SplitMix64::uniform`] in `[0, 1)`,
//!   [`SplitMix64::signed`] in `[-1, 1)`, vectors and unit vectors.
//! - [`uniform`], [`signed`]: stateless, keyed by an index and a seed, for values that must
//!   not depend on the order they are drawn in (a particle's value on any rank count).
//! - [`signed_spread`]: the keyed variant of pm-fft's tests, with another key.

/// The splitmix64 increment, `2^64 / phi` rounded to odd.
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 output function (Stafford's "Mix13" variant of the murmur3 finalizer).
pub fn mix64(z: u64) -> u64 {
    let mut z = z;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of `bits` as a double in `[0, 1)`: `(bits >> 11) / 2^53`, exact.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The top 53 bits of `bits` as a double in `[-1, 1)`: `2 (bits >> 11) / 2^53 - 1`.
fn unit_signed(bits: u64) -> f64 {
    2.0 * unit(bits) - 1.0
}

/// The 64 mixed bits for index `i` under `seed`: `mix64(i + seed * GOLDEN_GAMMA)` (wrapping),
/// what [`uniform`] and [`signed`] map to an interval.
pub fn keyed_u64(i: u64, seed: u64) -> u64 {
    mix64(i.wrapping_add(seed.wrapping_mul(GOLDEN_GAMMA)))
}

/// A deterministic pseudo-random value in `[0, 1)` for index `i` and `seed` (splitmix64,
/// stateless: the same `(i, seed)` gives the same value whatever else is drawn).
pub fn uniform(i: u64, seed: u64) -> f64 {
    unit(keyed_u64(i, seed))
}

/// A deterministic pseudo-random value in `[-1, 1)` for index `i` and `seed`: `2 u - 1` for
/// `u = uniform(i, seed)` (the same value as `(bits >> 11) / 2^52 - 1`, both exact).
pub fn signed(i: u64, seed: u64) -> f64 {
    unit_signed(keyed_u64(i, seed))
}

/// Like [`signed`], with the key of pm-fft's tests: `mix64(seed * GOLDEN_GAMMA + i *
/// 0xBF58_476D_1CE4_E5B9)` (wrapping), the index spread by the first mixing constant instead
/// of added. Not the same numbers as [`signed`]; kept so those tests keep their inputs.
pub fn signed_spread(i: u64, seed: u64) -> f64 {
    let key = seed
        .wrapping_mul(GOLDEN_GAMMA)
        .wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    unit_signed(mix64(key))
}

/// The splitmix64 generator: a tiny, deterministic source of test inputs.
///
/// Each draw adds [`GOLDEN_GAMMA`] to the state and returns [`mix64`] of it; the first draw
/// of `SplitMix64::new(s)` is `mix64(s + GOLDEN_GAMMA)`.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator with state `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`: the top 53 bits over `2^53`.
    pub fn uniform(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// Uniform in `(0, 1]`: the top 53 bits plus one over `2^53`, never zero (for a
    /// logarithm, as in Box-Muller).
    pub fn uniform_nonzero(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[-1, 1)`: `2 u - 1` for one [`uniform`](Self::uniform) draw `u`.
    pub fn signed(&mut self) -> f64 {
        unit_signed(self.next_u64())
    }

    /// Uniform in `[a, b)`: `a + (b - a) u` for one [`uniform`](Self::uniform) draw `u`.
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.uniform()
    }

    /// `n` vectors of three [`signed`](Self::signed) components, drawn x, y, z, particle
    /// after particle.
    pub fn vec3(&mut self, n: usize) -> Vec<[f64; 3]> {
        (0..n)
            .map(|_| [self.signed(), self.signed(), self.signed()])
            .collect()
    }

    /// A unit vector uniform on the sphere: `z = 2 u - 1`, then the azimuth `2 pi u`.
    pub fn unit_vector(&mut self) -> [f64; 3] {
        let z = 2.0 * self.uniform() - 1.0;
        let phi = 2.0 * std::f64::consts::PI * self.uniform();
        let s = (1.0 - z * z).sqrt();
        [s * phi.cos(), s * phi.sin(), z]
    }
}

/// `sum a_i b_i` over the pairs of `a` and `b`, summed in order.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `sum a_ik b_ik` over particles `i` and components `k`, summed in order (the dot product
/// of the flattened arrays).
pub fn dot3(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| x * y)
        .sum()
}

/// `max |a_i - b_i| / max |b_i|` over the pairs of `a` and `b` (NaN when every `b_i` is 0).
pub fn max_rel_diff(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>) -> f64 {
    let (mut d, mut m) = (0.0f64, 0.0f64);
    for (x, y) in a.into_iter().zip(b) {
        d = d.max((x - y).abs());
        m = m.max(y.abs());
    }
    d / m
}

/// [`max_rel_diff`] over every component of every particle.
pub fn max_rel_diff3(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    max_rel_diff(a.iter().flatten().copied(), b.iter().flatten().copied())
}

/// Like [`max_rel_diff`], but `max |a_i - b_i|` itself when every `b_i` is 0 (for reports
/// that must stay finite).
pub fn max_rel_diff_or_abs(
    a: impl IntoIterator<Item = f64>,
    b: impl IntoIterator<Item = f64>,
) -> f64 {
    let (mut d, mut m) = (0.0f64, 0.0f64);
    for (x, y) in a.into_iter().zip(b) {
        d = d.max((x - y).abs());
        m = m.max(y.abs());
    }
    if m > 0.0 { d / m } else { d }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference values of splitmix64 (Vigna's `splitmix64.c`, state 0 then 1234567).
    #[test]
    fn matches_the_reference_sequence() {
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }

    /// The stateful and the keyed generators agree where their keys do: the `k`-th draw of
    /// `SplitMix64::new(0)` mixes the state `k * GOLDEN_GAMMA`, as `keyed_u64(0, k)` does.
    #[test]
    fn keyed_and_stateful_draws_agree() {
        let mut r = SplitMix64::new(0);
        for k in 1..10u64 {
            assert_eq!(r.next_u64(), keyed_u64(0, k));
        }
    }

    #[test]
    fn intervals() {
        let mut r = SplitMix64::new(42);
        for i in 0..10_000u64 {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            let s = r.signed();
            assert!((-1.0..1.0).contains(&s));
            let p = r.uniform_nonzero();
            assert!(p > 0.0 && p <= 1.0);
            let x = r.range(2.0, 3.0);
            assert!((2.0..3.0).contains(&x));
            let v = r.unit_vector();
            assert!((v.iter().map(|c| c * c).sum::<f64>() - 1.0).abs() < 1e-15);
            assert!((0.0..1.0).contains(&uniform(i, 3)));
            assert!((-1.0..1.0).contains(&signed(i, 3)));
            assert!((-1.0..1.0).contains(&signed_spread(i, 3)));
        }
    }

    /// `signed` is `2 uniform - 1` and `(bits >> 11) / 2^52 - 1`, bit for bit.
    #[test]
    fn signed_forms_are_identical() {
        for i in 0..1000u64 {
            let bits = keyed_u64(i, 5);
            assert_eq!(
                signed(i, 5).to_bits(),
                ((bits >> 11) as f64 / (1u64 << 52) as f64 - 1.0).to_bits()
            );
            assert_eq!(
                signed(i, 5).to_bits(),
                (2.0 * uniform(i, 5) - 1.0).to_bits()
            );
        }
    }

    #[test]
    fn dots_and_differences() {
        let a = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = [[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]];
        assert_eq!(dot3(&a, &b), 1.0 - 3.0 + 7.5);
        assert_eq!(dot(a.as_flattened(), b.as_flattened()), dot3(&a, &b));
        assert_eq!(max_rel_diff3(&a, &b), 5.5);
        assert_eq!(max_rel_diff([1.0, 2.0], [1.0, 4.0]), 0.5);
        assert!(max_rel_diff([1.0], [0.0]).is_infinite());
        assert_eq!(max_rel_diff_or_abs([1.0], [0.0]), 1.0);
        assert!(max_rel_diff([0.0], [0.0]).is_nan());
        assert_eq!(max_rel_diff_or_abs([0.0], [0.0]), 0.0);
    }
}
