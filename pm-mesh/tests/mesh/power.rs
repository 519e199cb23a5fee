//! Tests of the power spectrum estimator `P(k) = V |delta_k|^2 / N^2`, binned in |k| and
//! weighted by mode count (auto, cross, shot noise, window compensation, binning,
//! determinism, errors).
//!
//! Reference values are computed independently by looping over the **full** spectrum
//! (every integer frequency triple `m` in `[-n/2, n/2)^3`), where on a cubic mesh the
//! default bin of a mode is `floor(sqrt(|m|^2))`, computed exactly in integers.

use std::f64::consts::PI;

use pm_fft::CpuFft3d;
use pm_mesh::{
    Binning, Complex, CrossPowerSpectrum, FourierField, Mesh, MeshError, PowerOptions,
    PowerSpectrum, Real, RealField, Scheme, cross_power_spectrum, power_spectrum,
};
use pm_testkit::SplitMix64;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// splitmix64 with Box-Muller: unit-variance Gaussian deviates, reproducible per seed.
struct Rng {
    uniform: SplitMix64,
    spare: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        Self {
            uniform: SplitMix64::new(seed),
            spare: None,
        }
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let r = (-2.0 * self.uniform.uniform_nonzero().ln()).sqrt();
        let phi = 2.0 * PI * self.uniform.uniform_nonzero();
        self.spare = Some(r * phi.sin());
        r * phi.cos()
    }
}

/// Real white noise of unit variance per cell, plus `mean`.
fn white_noise<T: Real>(mesh: Mesh, seed: u64, mean: f64) -> RealField<T> {
    let mut rng = Rng::new(seed);
    let mut f = RealField::<T>::zeros(mesh);
    for v in f.as_slice_mut() {
        *v = T::lit(mean + rng.normal());
    }
    f
}

/// |k| of the half-complex mode `(ix, iy, iz)`.
fn mode_k(k: &[Vec<f64>; 3], ix: usize, iy: usize, iz: usize) -> f64 {
    (k[0][ix].powi(2) + k[1][iy].powi(2) + k[2][iz].powi(2)).sqrt()
}

fn wavenumbers(mesh: &Mesh) -> [Vec<f64>; 3] {
    std::array::from_fn(|a| mesh.wavenumbers(a))
}

/// A Gaussian random field with spectrum `p`: white noise of unit variance per cell has
/// `<|X_k|^2> = N`; multiplying each mode by `sqrt(P(k) N / V)` gives
/// `<|delta_k|^2> = P N^2 / V`, i.e. `<V |delta_k|^2 / N^2> = P(k)`. The factor depends on
/// |k| only, so Hermitian symmetry is kept. The k = 0 mode is zeroed.
fn gaussian_field<T: Real>(mesh: Mesh, seed: u64, p: impl Fn(f64) -> f64) -> FourierField<T> {
    let plan = CpuFft3d::<T>::new(mesh.shape()).unwrap();
    let mut f = white_noise::<T>(mesh, seed, 0.0)
        .forward_in_place(&plan)
        .unwrap();
    let k = wavenumbers(&mesh);
    let (n, v) = (mesh.n_cells() as f64, mesh.volume());
    for ((ix, iy, iz), c) in f.data_mut().indexed_iter_mut() {
        let kk = mode_k(&k, ix, iy, iz);
        let amp = if kk == 0.0 {
            0.0
        } else {
            (p(kk) * n / v).sqrt()
        };
        *c = Complex::new(T::lit(c.re.as_f64() * amp), T::lit(c.im.as_f64() * amp));
    }
    f
}

/// The test spectrum: a power law `A k^-1.5` times a smooth bump at k = 0.3 h/Mpc.
fn spectrum(k: f64) -> f64 {
    2.0e4 * (k / 0.1).powf(-1.5) * (1.0 + 0.5 * (-0.5 * ((k - 0.3) / 0.05).powi(2)).exp())
}

/// Signed integer frequencies of a cubic mesh of `n` cells: `-n/2 .. n/2`.
fn freqs(n: usize) -> impl Iterator<Item = i64> + Clone {
    let h = (n / 2) as i64;
    -h..h
}

/// Per default bin (width k_f from 0 to n/2 k_f) of a cubic mesh: mode count, sum |k|,
/// sum P, sum P^2 over the full spectrum, k = 0 excluded.
struct Reference {
    count: Vec<u64>,
    sum_k: Vec<f64>,
    sum_p: Vec<f64>,
    sum_p2: Vec<f64>,
}

fn reference(mesh: &Mesh, p: impl Fn(f64) -> f64) -> Reference {
    let n = mesh.shape()[0];
    let kf = mesh.fundamental()[0];
    let nb = n / 2;
    let mut r = Reference {
        count: vec![0; nb],
        sum_k: vec![0.0; nb],
        sum_p: vec![0.0; nb],
        sum_p2: vec![0.0; nb],
    };
    for mx in freqs(n) {
        for my in freqs(n) {
            for mz in freqs(n) {
                let m2 = (mx * mx + my * my + mz * mz) as u64;
                let b = m2.isqrt() as usize;
                if m2 == 0 || b >= nb {
                    continue;
                }
                let k = kf * (m2 as f64).sqrt();
                r.count[b] += 1;
                r.sum_k[b] += k;
                r.sum_p[b] += p(k);
                r.sum_p2[b] += p(k) * p(k);
            }
        }
    }
    r
}

fn assert_bitwise(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}[{i}]: {x} vs {y}");
    }
}

fn assert_same_auto(a: &PowerSpectrum, b: &PowerSpectrum, what: &str) {
    assert_eq!(a.n_modes, b.n_modes, "{what}");
    assert_bitwise(&a.k, &b.k, what);
    assert_bitwise(&a.power, &b.power, what);
}

fn assert_same_cross(a: &CrossPowerSpectrum, b: &CrossPowerSpectrum, what: &str) {
    assert_eq!(a.n_modes, b.n_modes, "{what}");
    assert_bitwise(&a.k, &b.k, what);
    assert_bitwise(&a.p11, &b.p11, what);
    assert_bitwise(&a.p22, &b.p22, what);
    assert_bitwise(&a.p12, &b.p12, what);
}

// ---------------------------------------------------------------------------------------
// Gaussian random field with a known spectrum
// ---------------------------------------------------------------------------------------

/// Each bin's estimate against the mode average `Pbar = sum_m P(k_m) / n` of the input.
/// Modes come in Hermitian pairs (`delta_{-k} = conj(delta_k)`), so a bin of `n` modes
/// averages `n/2` independent `|delta_k|^2`, each exponentially distributed with standard
/// deviation equal to its mean `P(k_m)`: `sigma^2 = (2 / n^2) sum_m P(k_m)^2` (which is
/// `2 Pbar^2 / n` for a constant P). Tolerances: every bin within 4 sigma, and
/// `chi^2 = sum_bins ((P_hat - Pbar) / sigma)^2 < nbins + 5 sqrt(2 nbins)` (5 standard
/// deviations of a chi^2 with nbins degrees of freedom). The mode counts must match the
/// independent count exactly and the mean |k| to 1e-12 relative (summation order only).
fn check_gaussian_field<T: Real>(seed: u64) -> (f64, f64, usize) {
    let mesh = Mesh::cubic(64, 500.0).unwrap();
    let field = gaussian_field::<T>(mesh, seed, spectrum);
    let pk = power_spectrum(&field, &PowerOptions::default()).unwrap();
    let r = reference(&mesh, spectrum);
    assert_eq!(pk.n_modes, r.count, "mode counts of the default bins");
    // Bin 0 ([0, k_f)) holds only k = 0, which is excluded: empty, NaN, k = centre.
    assert_eq!(pk.n_modes[0], 0);
    assert!(pk.power[0].is_nan());
    assert!((pk.k[0] - 0.5 * mesh.fundamental()[0]).abs() < 1e-15);

    let (mut chi2, mut max_dev, mut nbins) = (0.0, 0.0f64, 0);
    for b in 1..pk.k.len() {
        let n = r.count[b] as f64;
        let k_mean = r.sum_k[b] / n;
        assert!(
            (pk.k[b] - k_mean).abs() < 1e-12 * k_mean,
            "bin {b}: k {} vs {k_mean}",
            pk.k[b]
        );
        let pbar = r.sum_p[b] / n;
        let sigma = (2.0 * r.sum_p2[b]).sqrt() / n;
        let dev = (pk.power[b] - pbar) / sigma;
        assert!(
            dev.abs() < 4.0,
            "{}: bin {b} (k = {:.4}, {n} modes): P = {} vs {pbar}, {dev:.2} sigma",
            T::NAME,
            pk.k[b],
            pk.power[b]
        );
        chi2 += dev * dev;
        max_dev = max_dev.max(dev.abs());
        nbins += 1;
    }
    let bound = nbins as f64 + 5.0 * (2.0 * nbins as f64).sqrt();
    assert!(
        chi2 < bound,
        "{}: chi^2 = {chi2} over {nbins} bins",
        T::NAME
    );
    eprintln!(
        "{} Gaussian field: chi^2 = {chi2:.2} over {nbins} bins (bound {bound:.1}), \
         max |dev| = {max_dev:.2} sigma",
        T::NAME
    );
    (chi2, max_dev, nbins)
}

#[test]
fn gaussian_field_recovers_its_input_spectrum_f64() {
    check_gaussian_field::<f64>(2024);
}

#[test]
fn gaussian_field_recovers_its_input_spectrum_f32() {
    check_gaussian_field::<f32>(4242);
}

/// The same realisation in f32 and f64 (same noise, rounded): the f32 estimate differs only
/// by f32 rounding of the field and its FFT, ~1e-7 relative per mode, far below the 1e-4
/// tolerance (and far below cosmic variance).
#[test]
fn f32_and_f64_estimates_agree() {
    let mesh = Mesh::cubic(32, 300.0).unwrap();
    let p64 = power_spectrum(
        &gaussian_field::<f64>(mesh, 7, spectrum),
        &PowerOptions::default(),
    )
    .unwrap();
    let p32 = power_spectrum(
        &gaussian_field::<f32>(mesh, 7, spectrum),
        &PowerOptions::default(),
    )
    .unwrap();
    assert_eq!(p64.n_modes, p32.n_modes);
    let mut worst = 0.0f64;
    for b in 1..p64.power.len() {
        let rel = (p32.power[b] / p64.power[b] - 1.0).abs();
        worst = worst.max(rel);
        assert!(rel < 1e-4, "bin {b}: {} vs {}", p32.power[b], p64.power[b]);
    }
    eprintln!("f32 vs f64: max relative difference {worst:.2e}");
}

// ---------------------------------------------------------------------------------------
// Exactness: plane waves and Parseval
// ---------------------------------------------------------------------------------------

/// `delta(x) = A cos(k0 . x)` with `k0 = k_f m` has `delta_k = A N / 2` at `k = +-k0` and
/// zero elsewhere, so each of those two modes has `V |delta_k|^2 / N^2 = V A^2 / 4`. Both lie
/// in the bin of `|m|` and the bin average over its `n` modes is `P = 2 (V A^2 / 4) / n`;
/// every other bin has zero power. Tolerance 1e-12 relative (f64 FFT rounding ~1e-15), and
/// 1e-12 of the wave's power for the leakage into other bins.
#[test]
fn plane_wave_puts_all_its_power_in_one_bin() {
    let n = 32;
    let (l, amp) = (250.0, 0.7);
    let mesh = Mesh::cubic(n, l).unwrap();
    let plan = CpuFft3d::<f64>::new([n; 3]).unwrap();
    let v = mesh.volume();
    // (3,4,5): jz in the interior (one stored entry, weight 2); (5,-2,0): on the jz = 0 plane
    // (both +-k0 stored); (3,4,0): |m| = 5 exactly on a bin edge, which goes to the bin above.
    for m in [[3i64, 4, 5], [5, -2, 0], [3, 4, 0], [0, 0, 7], [-15, 2, 3]] {
        let mut field = RealField::<f64>::zeros(mesh);
        for ((i, j, k), x) in field.data_mut().indexed_iter_mut() {
            let phase =
                2.0 * PI * (m[0] * i as i64 + m[1] * j as i64 + m[2] * k as i64) as f64 / n as f64;
            *x = amp * phase.cos();
        }
        let pk = power_spectrum(&field.forward(&plan).unwrap(), &PowerOptions::default()).unwrap();
        let m2 = (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]) as u64;
        let bin = m2.isqrt() as usize;
        let total = 2.0 * v * amp * amp / 4.0;
        let expected = total / pk.n_modes[bin] as f64;
        let rel = (pk.power[bin] / expected - 1.0).abs();
        assert!(
            rel < 1e-12,
            "m = {m:?}: bin {bin}: {} vs {expected}",
            pk.power[bin]
        );
        for b in 1..pk.power.len() {
            if b != bin {
                assert!(
                    (pk.power[b] * pk.n_modes[b] as f64).abs() < 1e-12 * total,
                    "m = {m:?}: leakage into bin {b}: {}",
                    pk.power[b]
                );
            }
        }
        eprintln!("plane wave m = {m:?}: bin {bin}, relative error {rel:.1e}");
    }
}

/// Parseval: `sum_k |delta_k|^2 = N sum_x delta_x^2` over the full spectrum, and
/// `|delta_0|^2 = N^2 mean^2`. With bins covering every mode but k = 0,
/// `sum_bins P n_modes = (V / N^2) sum_{k != 0} |delta_k|^2 = V (<delta^2> - <delta>^2)`, i.e.
/// `sum_bins P n_modes / V` is the variance of the field. The highest |k| on the mesh is
/// `|k_Ny| = sqrt(sum_a k_Ny,a^2) <= sqrt(3) max_a k_Ny,a`, so bins up to twice the largest
/// Nyquist cover everything. A non-cubic mesh and a non-zero mean exercise the general case.
/// Tolerance 1e-12 relative (f64 rounding of the FFT and of the sums ~1e-15).
#[test]
fn parseval_holds_for_bins_covering_all_modes() {
    let mesh = Mesh::new([16, 20, 24], [100.0, 120.0, 90.0]).unwrap();
    let field = white_noise::<f64>(mesh, 99, 0.3);
    let n = mesh.n_cells() as f64;
    let mean = field.sum() / n;
    let variance = field
        .as_slice()
        .iter()
        .map(|x| (x - mean).powi(2))
        .sum::<f64>()
        / n;
    let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
    let fk = field.forward(&plan).unwrap();
    let kny = mesh.nyquist().into_iter().fold(0.0, f64::max);
    let kf = mesh.fundamental().into_iter().fold(f64::INFINITY, f64::min);
    let total_modes = mesh.n_cells() as u64 - 1;
    for binning in [
        Binning::Linear {
            k_min: 0.0,
            k_max: 2.0 * kny,
            n_bins: 50,
        },
        Binning::Log {
            k_min: 0.5 * kf,
            k_max: 2.0 * kny,
            n_bins: 30,
        },
    ] {
        let pk = power_spectrum(
            &fk,
            &PowerOptions {
                binning: Some(binning),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(pk.n_modes.iter().sum::<u64>(), total_modes, "{binning:?}");
        let sum: f64 = pk
            .power
            .iter()
            .zip(&pk.n_modes)
            .filter(|(_, c)| **c > 0)
            .map(|(p, c)| p * *c as f64)
            .sum::<f64>()
            / mesh.volume();
        let rel = (sum / variance - 1.0).abs();
        assert!(rel < 1e-12, "{binning:?}: {sum} vs {variance}");
        eprintln!("Parseval {binning:?}: relative error {rel:.1e}");
    }
}

// ---------------------------------------------------------------------------------------
// Cross spectra
// ---------------------------------------------------------------------------------------

fn scaled(f: &FourierField<f64>, s: f64) -> FourierField<f64> {
    let mut g = f.clone();
    g.data_mut().mapv_inplace(|c| c * s);
    g
}

/// Identical fields: r = 1, T = 1; negated: r = -1, T = 1; doubled: r = 1, T = 2. These are
/// algebraic identities of the sums, so the tolerance is 1e-12 (rounding only). The autos of
/// the cross are bitwise those of `power_spectrum` (same sums in the same order).
#[test]
fn cross_correlation_of_related_fields() {
    let mesh = Mesh::cubic(32, 300.0).unwrap();
    let a = gaussian_field::<f64>(mesh, 1, spectrum);
    let opts = PowerOptions::default();
    let auto = power_spectrum(&a, &opts).unwrap();
    for (s, r_expected, t_expected) in [(1.0, 1.0, 1.0), (-1.0, -1.0, 1.0), (2.0, 1.0, 2.0)] {
        let b = scaled(&a, s);
        let x = cross_power_spectrum(&a, &b, &opts).unwrap();
        assert_bitwise(&x.p11, &auto.power, "p11 vs auto");
        assert_bitwise(&x.k, &auto.k, "k vs auto");
        assert_eq!(x.n_modes, auto.n_modes);
        let (r, t) = (x.r(), x.transfer());
        for b in 0..r.len() {
            if x.n_modes[b] == 0 {
                assert!(r[b].is_nan() && t[b].is_nan() && x.p12[b].is_nan());
                continue;
            }
            assert!(
                (r[b] - r_expected).abs() < 1e-12,
                "s = {s}: r[{b}] = {}",
                r[b]
            );
            assert!(
                (t[b] - t_expected).abs() < 1e-12,
                "s = {s}: T[{b}] = {}",
                t[b]
            );
            assert!((x.p12[b] - s * x.p11[b]).abs() < 1e-12 * x.p11[b]);
        }
    }
}

/// Two independent Gaussian fields: per bin, `r` averages `n/2` independent products of
/// zero mean, so `sigma_r ~ sqrt(2 / n)`; the bound `|r| < 5 / sqrt(n)` is 3.5 sigma.
#[test]
fn independent_fields_are_uncorrelated() {
    let mesh = Mesh::cubic(64, 500.0).unwrap();
    let a = gaussian_field::<f64>(mesh, 11, spectrum);
    let b = gaussian_field::<f64>(mesh, 12, spectrum);
    let x = cross_power_spectrum(&a, &b, &PowerOptions::default()).unwrap();
    let r = x.r();
    let mut worst = 0.0f64;
    for (i, (&ri, &c)) in r.iter().zip(&x.n_modes).enumerate().skip(1) {
        let n = c as f64;
        assert!(ri.abs() < 5.0 / n.sqrt(), "bin {i} ({n} modes): r = {ri}");
        worst = worst.max(ri.abs() / (2.0 / n).sqrt());
    }
    eprintln!("independent fields: max |r| = {worst:.2} sigma_r (sigma_r = sqrt(2/n))");
}

#[test]
fn cross_of_fields_on_different_meshes_is_rejected() {
    let a = FourierField::<f64>::zeros(Mesh::cubic(16, 100.0).unwrap());
    for other in [
        Mesh::cubic(16, 101.0).unwrap(),
        Mesh::new([16, 16, 18], [100.0; 3]).unwrap(),
    ] {
        let b = FourierField::<f64>::zeros(other);
        assert!(matches!(
            cross_power_spectrum(&a, &b, &PowerOptions::default()),
            Err(MeshError::MeshMismatch { .. })
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Shot noise and compensation
// ---------------------------------------------------------------------------------------

/// The shot noise is subtracted after the bin average, so `P_s = P - s` holds bitwise for
/// the autos, and the cross spectrum is untouched (bitwise).
#[test]
fn shot_noise_shifts_the_auto_spectra_exactly() {
    let mesh = Mesh::cubic(32, 300.0).unwrap();
    let a = gaussian_field::<f64>(mesh, 3, spectrum);
    let b = gaussian_field::<f64>(mesh, 4, spectrum);
    let s = 37.5;
    let plain = PowerOptions::default();
    let shot = PowerOptions {
        shot_noise: Some(s),
        ..plain
    };
    let p0 = power_spectrum(&a, &plain).unwrap();
    let p1 = power_spectrum(&a, &shot).unwrap();
    let shifted: Vec<f64> = p0.power.iter().map(|p| p - s).collect();
    assert_bitwise(&p1.power, &shifted, "auto");
    assert_bitwise(&p1.k, &p0.k, "k");
    let x0 = cross_power_spectrum(&a, &b, &plain).unwrap();
    let x1 = cross_power_spectrum(&a, &b, &shot).unwrap();
    let s11: Vec<f64> = x0.p11.iter().map(|p| p - s).collect();
    let s22: Vec<f64> = x0.p22.iter().map(|p| p - s).collect();
    assert_bitwise(&x1.p11, &s11, "p11");
    assert_bitwise(&x1.p22, &s22, "p22");
    assert_bitwise(&x1.p12, &x0.p12, "p12");
}

/// `sinc(k dx / 2)^p`, written out independently of `Scheme::fourier_window`.
fn window(p: i32, k: f64, dx: f64) -> f64 {
    let u = 0.5 * k * dx;
    if u == 0.0 { 1.0 } else { (u.sin() / u).powi(p) }
}

/// Compensation must equal dividing every mode by `prod_a W(k_a)` by hand and estimating
/// without it. The same products are formed in another order, so the tolerance is 1e-12
/// relative. A non-cubic mesh (cells 12.5, 12.5, 15.625 Mpc/h) checks the per-axis cells.
#[test]
fn compensation_equals_dividing_by_the_window() {
    let mesh = Mesh::new([32, 24, 16], [400.0, 300.0, 250.0]).unwrap();
    let a = gaussian_field::<f64>(mesh, 5, spectrum);
    let b = gaussian_field::<f64>(mesh, 6, spectrum);
    let k = wavenumbers(&mesh);
    let dx = mesh.cell_size();
    for scheme in Scheme::ALL {
        let p = scheme.order();
        let deconvolve = |f: &FourierField<f64>| {
            let mut g = f.clone();
            for ((ix, iy, iz), c) in g.data_mut().indexed_iter_mut() {
                let w = window(p, k[0][ix], dx[0])
                    * window(p, k[1][iy], dx[1])
                    * window(p, k[2][iz], dx[2]);
                *c /= w;
            }
            g
        };
        let (ad, bd) = (deconvolve(&a), deconvolve(&b));
        let comp = PowerOptions {
            compensate: Some(scheme),
            ..Default::default()
        };
        let got = cross_power_spectrum(&a, &b, &comp).unwrap();
        let want = cross_power_spectrum(&ad, &bd, &PowerOptions::default()).unwrap();
        assert_eq!(got.n_modes, want.n_modes);
        let auto = power_spectrum(&a, &comp).unwrap();
        assert_bitwise(&auto.power, &got.p11, "auto vs p11");
        let mut worst = 0.0f64;
        for i in 0..got.k.len() {
            if got.n_modes[i] == 0 {
                continue;
            }
            for (g, w) in [
                (got.p11[i], want.p11[i]),
                (got.p22[i], want.p22[i]),
                (got.p12[i], want.p12[i]),
            ] {
                // p12 can be small: compare against the autos' scale.
                let scale = want.p11[i].max(want.p22[i]);
                let err = (g - w).abs() / scale;
                worst = worst.max(err);
                assert!(err < 1e-12, "{scheme:?} bin {i}: {g} vs {w}");
            }
        }
        // The window boosts small scales: at the last bin CIC deconvolution is a visible effect.
        let last = got.k.len() - 1;
        let plain = power_spectrum(&a, &PowerOptions::default()).unwrap();
        assert!(got.p11[last] > plain.power[last] * 1.1, "{scheme:?}");
        eprintln!("compensation {scheme:?}: max relative difference {worst:.1e}");
    }
}

// ---------------------------------------------------------------------------------------
// Binning
// ---------------------------------------------------------------------------------------

/// Log bins: per-bin counts match an independent count over the full spectrum with edges
/// `k_min (k_max / k_min)^(i / n)` (no mode of this mesh lies within rounding of an edge, as
/// asserted), the total is the number of modes in `[k_min, k_max)`, each bin's mean k lies
/// in its bin, and bins below `k_f` are empty with `k` at their geometric centre.
#[test]
fn log_bins_count_the_modes_in_range() {
    let n = 64;
    let mesh = Mesh::cubic(n, 500.0).unwrap();
    let kf = mesh.fundamental()[0];
    let a = gaussian_field::<f64>(mesh, 8, spectrum);
    for (k_min, k_max, n_bins) in [(0.05, 0.5, 10), (0.001, 0.5, 20), (0.5 * kf, 0.6, 7)] {
        let binning = Binning::Log {
            k_min,
            k_max,
            n_bins,
        };
        let edges: Vec<f64> = (0..=n_bins)
            .map(|i| k_min * (k_max / k_min).powf(i as f64 / n_bins as f64))
            .collect();
        for (e, g) in edges.iter().zip(binning.edges()) {
            assert!((e - g).abs() < 1e-12 * e, "edges {e} vs {g}");
        }
        let mut count = vec![0u64; n_bins];
        let mut in_range = 0u64;
        for mx in freqs(n) {
            for my in freqs(n) {
                for mz in freqs(n) {
                    let m2 = mx * mx + my * my + mz * mz;
                    if m2 == 0 {
                        continue;
                    }
                    let k = kf * (m2 as f64).sqrt();
                    for e in &edges {
                        assert!((k - e).abs() > 1e-9 * e, "mode on an edge: {k}");
                    }
                    if k >= k_min && k < k_max {
                        in_range += 1;
                        count[edges.partition_point(|e| *e <= k) - 1] += 1;
                    }
                }
            }
        }
        let pk = power_spectrum(
            &a,
            &PowerOptions {
                binning: Some(binning),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(pk.n_modes, count, "{binning:?}");
        assert_eq!(pk.n_modes.iter().sum::<u64>(), in_range);
        let mut empty = 0;
        for i in 0..n_bins {
            if pk.n_modes[i] == 0 {
                empty += 1;
                assert!(pk.power[i].is_nan());
                let centre = (edges[i] * edges[i + 1]).sqrt();
                assert!((pk.k[i] - centre).abs() < 1e-12 * centre);
            } else {
                assert!(pk.k[i] >= edges[i] && pk.k[i] < edges[i + 1], "bin {i}");
                assert!(pk.power[i].is_finite() && pk.power[i] > 0.0);
            }
        }
        eprintln!(
            "log bins {binning:?}: {in_range} modes in range, {empty} empty bins, counts {:?}",
            pk.n_modes
        );
    }
}

/// Linear bins with a non-zero k_min: counts match the independent count (edges
/// `k_min + i dk`), an explicit `Linear` equal to the default gives the default exactly, and
/// modes beyond the Nyquist frequency are dropped by the default.
#[test]
fn linear_bins_count_the_modes_in_range() {
    let n = 32;
    let mesh = Mesh::cubic(n, 200.0).unwrap();
    let kf = mesh.fundamental()[0];
    let a = gaussian_field::<f64>(mesh, 9, spectrum);
    let (k_min, k_max, n_bins) = (2.5 * kf, 20.5 * kf, 6);
    let pk = power_spectrum(
        &a,
        &PowerOptions {
            binning: Some(Binning::Linear {
                k_min,
                k_max,
                n_bins,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let mut count = vec![0u64; n_bins];
    let mut all = 0u64;
    for mx in freqs(n) {
        for my in freqs(n) {
            for mz in freqs(n) {
                let m2 = mx * mx + my * my + mz * mz;
                // In units of k_f: edges at 2.5 + 3 i; sqrt(m2) is never a half-integer.
                let q = (m2 as f64).sqrt();
                if m2 > 0 && q < (n / 2) as f64 {
                    all += 1;
                }
                if (2.5..20.5).contains(&q) {
                    count[((q - 2.5) / 3.0) as usize] += 1;
                }
            }
        }
    }
    assert_eq!(pk.n_modes, count);
    let default = power_spectrum(&a, &PowerOptions::default()).unwrap();
    assert_eq!(default.n_modes.iter().sum::<u64>(), all);
    let explicit = power_spectrum(
        &a,
        &PowerOptions {
            binning: Some(Binning::default_for(&mesh)),
            ..Default::default()
        },
    )
    .unwrap();
    assert_same_auto(&explicit, &default, "explicit default");
}

// ---------------------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------------------

/// Per-plane partial sums are added in plane order, so every thread count gives the same
/// bits.
#[test]
fn results_are_bitwise_independent_of_the_thread_count() {
    let mesh = Mesh::new([48, 32, 40], [400.0, 300.0, 350.0]).unwrap();
    let a = gaussian_field::<f64>(mesh, 21, spectrum);
    let b = gaussian_field::<f64>(mesh, 22, spectrum);
    let a32 = gaussian_field::<f32>(mesh, 21, spectrum);
    let opts = [
        PowerOptions::default(),
        PowerOptions {
            binning: Some(Binning::Log {
                k_min: 0.02,
                k_max: 0.7,
                n_bins: 17,
            }),
            shot_noise: Some(3.0),
            compensate: Some(Scheme::Tsc),
        },
    ];
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                opts.iter()
                    .map(|o| {
                        (
                            power_spectrum(&a, o).unwrap(),
                            power_spectrum(&a32, o).unwrap(),
                            cross_power_spectrum(&a, &b, o).unwrap(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
    };
    let one = run(1);
    for threads in [2, 3, 8] {
        let other = run(threads);
        for (x, y) in one.iter().zip(&other) {
            assert_same_auto(&x.0, &y.0, "f64 auto");
            assert_same_auto(&x.1, &y.1, "f32 auto");
            assert_same_cross(&x.2, &y.2, "cross");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_options_are_rejected() {
    let mesh = Mesh::cubic(8, 100.0).unwrap();
    let f = FourierField::<f64>::zeros(mesh);
    let lin = |k_min, k_max, n_bins| Binning::Linear {
        k_min,
        k_max,
        n_bins,
    };
    let log = |k_min, k_max, n_bins| Binning::Log {
        k_min,
        k_max,
        n_bins,
    };
    let bad_bins = [
        (lin(0.0, 1.0, 0), "binning.n_bins"),
        (log(0.1, 1.0, 0), "binning.n_bins"),
        (lin(f64::NAN, 1.0, 4), "binning"),
        (lin(0.0, f64::INFINITY, 4), "binning"),
        (log(0.1, f64::NAN, 4), "binning"),
        (log(f64::NEG_INFINITY, 1.0, 4), "binning"),
        (lin(0.5, 0.5, 4), "binning"),
        (lin(0.6, 0.5, 4), "binning"),
        (log(0.6, 0.5, 4), "binning"),
        (lin(-0.1, 0.5, 4), "binning.k_min"),
        (log(-0.1, 0.5, 4), "binning.k_min"),
        (log(0.0, 0.5, 4), "binning.k_min"),
    ];
    let mut cases: Vec<(PowerOptions, &str)> = bad_bins
        .iter()
        .map(|&(b, what)| {
            (
                PowerOptions {
                    binning: Some(b),
                    ..Default::default()
                },
                what,
            )
        })
        .collect();
    for s in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        cases.push((
            PowerOptions {
                shot_noise: Some(s),
                ..Default::default()
            },
            "shot_noise",
        ));
    }
    for (opts, what) in cases {
        for result in [
            power_spectrum(&f, &opts).map(|_| ()),
            cross_power_spectrum(&f, &f, &opts).map(|_| ()),
        ] {
            match result {
                Err(MeshError::Option { what: w, .. }) => assert_eq!(w, what, "{opts:?}"),
                other => panic!("{opts:?}: expected an option error, got {other:?}"),
            }
        }
    }
    // Valid edge cases: zero shot noise, k_min = 0 for linear bins.
    let ok = PowerOptions {
        binning: Some(lin(0.0, 0.1, 1)),
        shot_noise: Some(0.0),
        compensate: Some(Scheme::Ngp),
    };
    assert!(power_spectrum(&f, &ok).is_ok());
}
