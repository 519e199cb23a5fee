//! Initial conditions: the Philox generator, white noise, linear modes and `.npy` noise files.

use pm_decomp::SerialComm;
use std::path::PathBuf;

use ndarray::{Array3, ShapeBuilder};
use pm_cosmo::{Cosmology, LinearPower, TabulatedPower};
use pm_integrate::{
    IntegrateError, ModeOptions, linear_modes, philox4x32_10, read_white_noise_npy, white_noise,
};
use pm_mesh::{FourierField, Mesh, PowerOptions, RealField, power_spectrum};

// ---------------------------------------------------------------------------------------------
// Philox4x32-10
// ---------------------------------------------------------------------------------------------

/// Random123's known-answer vectors (`kat_vectors`, philox4x32 with 10 rounds). Exact.
#[test]
fn philox_matches_random123_known_answers() {
    let cases: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0; 4],
            [0; 2],
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
        ),
        (
            [0xffffffff; 4],
            [0xffffffff; 2],
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
        ),
        (
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
        ),
    ];
    for (ctr, key, want) in cases {
        assert_eq!(
            philox4x32_10(ctr, key),
            want,
            "counter {ctr:08x?} key {key:08x?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// White noise
// ---------------------------------------------------------------------------------------------

const N64: [usize; 3] = [64, 64, 64];

/// Mean 0 and variance 1 on 64^3 = 262144 cells, within 5 sigma of the sampling error:
/// sigma(mean) = 1/sqrt(N) = 1.95e-3, sigma(variance) = sqrt(2/N) = 2.76e-3 for Gaussian
/// samples. 5 sigma makes a false failure ~1e-6 likely for a correct generator (and the seed
/// is fixed, so the test is deterministic anyway).
#[test]
fn white_noise_has_zero_mean_and_unit_variance() {
    let w = white_noise::<f64>(N64, 2024);
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    let (s_mean, s_var) = (1.0 / n.sqrt(), (2.0 / n).sqrt());
    println!(
        "white noise 64^3: mean {mean:.3e} ({:.2} sigma), variance - 1 = {:.3e} ({:.2} sigma)",
        mean / s_mean,
        var - 1.0,
        (var - 1.0) / s_var
    );
    assert!(mean.abs() < 5.0 * s_mean, "mean {mean}");
    assert!((var - 1.0).abs() < 5.0 * s_var, "variance {var}");
    // Fourth moment of a Gaussian is 3; a loose check that the shape is right
    // (sigma(kurtosis) ~ sqrt(96/N) = 0.019, allow 5 sigma).
    let kurt = w.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n / (var * var);
    println!("kurtosis {kurt:.4}");
    assert!(
        (kurt - 3.0).abs() < 5.0 * (96.0 / n).sqrt(),
        "kurtosis {kurt}"
    );
}

/// Lag-1 (periodic) correlation along each axis, `r = <w(x) w(x + e_a)> / <w^2>`, is
/// consistent with 0: for independent unit Gaussians its standard error is 1/sqrt(N), so
/// |r| < 5/sqrt(N) = 9.8e-3.
#[test]
fn white_noise_neighbours_are_uncorrelated() {
    let w = white_noise::<f64>(N64, 7);
    let n = w.len() as f64;
    let [nx, ny, nz] = N64;
    let var = w.iter().map(|v| v * v).sum::<f64>() / n;
    for axis in 0..3 {
        let mut c = 0.0;
        for ((ix, iy, iz), v) in w.indexed_iter() {
            let j = match axis {
                0 => [(ix + 1) % nx, iy, iz],
                1 => [ix, (iy + 1) % ny, iz],
                _ => [ix, iy, (iz + 1) % nz],
            };
            c += v * w[j];
        }
        let r = c / n / var;
        println!(
            "lag-1 correlation along axis {axis}: {r:.3e} (bound {:.3e})",
            5.0 / n.sqrt()
        );
        assert!(r.abs() < 5.0 / n.sqrt(), "axis {axis}: r = {r}");
    }
}

/// The field is bitwise the same on 1, 2 and 3 threads (each cell depends only on the seed
/// and its global index). Exact.
#[test]
fn white_noise_is_bitwise_independent_of_thread_count() {
    let shape = [33, 17, 20];
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| white_noise::<f64>(shape, 0xDEAD_BEEF_1234))
    };
    let one = run(1);
    for t in [2, 3] {
        let other = run(t);
        assert!(
            one.iter()
                .zip(other.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{t} threads differ from 1"
        );
    }
}

/// The value of a cell depends only on (seed, global index): a field of another shape that
/// contains the same global index has the same value there. Exact. (The block API,
/// `white_noise_block`, is tested against the full field in the crate's unit tests.)
#[test]
fn white_noise_is_keyed_by_the_global_index() {
    // Index i = (ix ny + iy) nz + iz: cell (0, 0, iz) of any grid with nz = 16 has i = iz.
    let a = white_noise::<f64>([4, 4, 16], 3);
    let b = white_noise::<f64>([2, 8, 16], 3);
    for iz in 0..16 {
        assert_eq!(a[[0, 0, iz]].to_bits(), b[[0, 0, iz]].to_bits());
    }
    // Global index 16 * 4 + 5 = 69 is (1, 0, 5) in the first and (0, 4, 5) in the second.
    assert_eq!(a[[1, 0, 5]].to_bits(), b[[0, 4, 5]].to_bits());
}

/// Different seeds give different fields (no cell equal, to the bit, on 16^3, which for
/// independent continuous deviates has probability ~1), and seeds differing only in their high
/// 32 bits differ too (both key words are used).
#[test]
fn different_seeds_give_different_noise() {
    let shape = [16, 16, 16];
    let base = white_noise::<f64>(shape, 1);
    for seed in [2, 1 + (1 << 32), u64::MAX] {
        let other = white_noise::<f64>(shape, seed);
        let same = base
            .iter()
            .zip(other.iter())
            .filter(|(a, b)| a == b)
            .count();
        assert_eq!(same, 0, "seed {seed}: {same} equal cells");
    }
}

/// f32 noise is the f64 noise rounded to nearest once. Exact.
#[test]
fn f32_noise_is_the_f64_noise_rounded() {
    let shape = [12, 10, 8];
    let d = white_noise::<f64>(shape, 5);
    let s = white_noise::<f32>(shape, 5);
    assert!(
        d.iter()
            .zip(s.iter())
            .all(|(a, b)| (*a as f32).to_bits() == b.to_bits())
    );
}

// ---------------------------------------------------------------------------------------------
// Linear modes
// ---------------------------------------------------------------------------------------------

const BOX: f64 = 500.0;

fn noise64(seed: u64) -> RealField<f64> {
    let mesh = Mesh::cubic(64, BOX).unwrap();
    RealField::from_array(mesh, white_noise::<f64>(N64, seed)).unwrap()
}

fn eh() -> LinearPower<f64> {
    LinearPower::eisenstein_hu(&Cosmology::planck18()).unwrap()
}

/// The input spectrum averaged over the modes of each default bin (width k_f from 0, so bin
/// b holds the modes with b <= |m| < b + 1, |m|^2 = m_x^2 + m_y^2 + m_z^2 the integer
/// frequencies, up to n/2), with each half-complex mode counted with its Hermitian weight, as
/// the estimator does; also the mode counts.
fn expected_bins(mesh: &Mesh, power: &LinearPower<f64>) -> (Vec<f64>, Vec<u64>) {
    let [nx, ny, nz] = mesh.shape();
    let nb = nx / 2;
    let kf = mesh.fundamental()[0];
    let (mut sum, mut count) = (vec![0.0; nb], vec![0u64; nb]);
    for jx in 0..nx {
        for jy in 0..ny {
            for jz in 0..=nz / 2 {
                let fx = Mesh::frequency(nx, jx);
                let fy = Mesh::frequency(ny, jy);
                let m2 = (fx * fx + fy * fy + (jz * jz) as i64) as f64;
                if m2 == 0.0 {
                    continue;
                }
                let b = m2.sqrt().floor() as usize;
                if b >= nb {
                    continue;
                }
                let w = mesh.hermitian_weight(jz) as u64;
                let k = (kf * kf * m2).sqrt();
                sum[b] += w as f64 * power.power(k).unwrap();
                count[b] += w;
            }
        }
    }
    let mean = sum
        .iter()
        .zip(&count)
        .map(|(s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
        .collect();
    (mean, count)
}

/// On 64^3 in a 500 Mpc/h box with Planck18 Eisenstein & Hu, the measured spectrum of the
/// modes agrees with the mode-averaged input within 4 sigma in every bin,
/// sigma = P sqrt(2 / n_modes) (n_modes counts Hermitian pairs twice, so there are n_modes/2
/// independent complex Gaussian modes, each with |delta|^2 exponential of mean P). The chi^2
/// over the 31 non-empty bins is printed too.
#[test]
fn linear_modes_have_the_input_power_spectrum() {
    let noise = noise64(11);
    let power = eh();
    let modes = linear_modes(
        &SerialComm,
        &whole(noise.mesh()),
        &noise,
        &power,
        ModeOptions::default(),
    )
    .unwrap();
    let pk = power_spectrum(&modes, &PowerOptions::default()).unwrap();
    let (want, count) = expected_bins(noise.mesh(), &power);
    assert_eq!(pk.n_modes, count, "bins differ from the estimator's");
    let mut chi2 = 0.0;
    let mut worst: f64 = 0.0;
    let mut bins = 0;
    for b in 0..want.len() {
        if count[b] == 0 {
            continue;
        }
        let sigma = want[b] * (2.0 / count[b] as f64).sqrt();
        let z = (pk.power[b] - want[b]) / sigma;
        chi2 += z * z;
        worst = worst.max(z.abs());
        bins += 1;
        assert!(
            z.abs() < 4.0,
            "bin {b} (k = {:.4}): P = {} vs {} ({z:.2} sigma, {} modes)",
            pk.k[b],
            pk.power[b],
            want[b],
            count[b]
        );
    }
    println!("linear modes: {bins} bins, chi^2 = {chi2:.1}, worst |z| = {worst:.2}");
}

/// With fixed amplitudes every mode has V |delta|^2 / N^2 = P(|k|), so each bin of the
/// estimate equals the mode-averaged input; only rounding separates them (f64 sums over at
/// most ~10^4 modes, relative error ~1e-14), so 1e-10 relative.
#[test]
fn fixed_amplitude_modes_have_exactly_the_input_power() {
    let noise = noise64(12);
    let power = eh();
    let options = ModeOptions {
        fixed_amplitude: true,
        phase_flip: false,
    };
    let modes = linear_modes(&SerialComm, &whole(noise.mesh()), &noise, &power, options).unwrap();
    let pk = power_spectrum(&modes, &PowerOptions::default()).unwrap();
    let (want, count) = expected_bins(noise.mesh(), &power);
    let mut worst: f64 = 0.0;
    for b in 0..want.len() {
        if count[b] == 0 {
            continue;
        }
        let rel = (pk.power[b] / want[b] - 1.0).abs();
        worst = worst.max(rel);
        assert!(
            rel < 1e-10,
            "bin {b}: {} vs {} ({rel:e})",
            pk.power[b],
            want[b]
        );
    }
    println!("fixed amplitude: worst relative deviation {worst:.2e}");
}

/// The paired partner is exactly minus the modes (negation is exact in floating point).
#[test]
fn phase_flip_negates_every_mode() {
    let noise = noise64(13);
    let power = eh();
    for fixed in [false, true] {
        let a = linear_modes(
            &SerialComm,
            &whole(noise.mesh()),
            &noise,
            &power,
            ModeOptions {
                fixed_amplitude: fixed,
                phase_flip: false,
            },
        )
        .unwrap();
        let b = linear_modes(
            &SerialComm,
            &whole(noise.mesh()),
            &noise,
            &power,
            ModeOptions {
                fixed_amplitude: fixed,
                phase_flip: true,
            },
        )
        .unwrap();
        assert!(
            a.as_slice()
                .iter()
                .zip(b.as_slice())
                .all(|(x, y)| -*x == *y)
        );
    }
}

/// The k = 0 mode is exactly zero (the noise's mean is not, so this is not automatic), and
/// the real field's mean is therefore zero to rounding.
#[test]
fn the_k0_mode_is_zero() {
    let noise = noise64(14);
    assert!(
        noise.sum().abs() > 1e-3,
        "test needs noise with a nonzero mean"
    );
    for fixed in [false, true] {
        let options = ModeOptions {
            fixed_amplitude: fixed,
            phase_flip: true,
        };
        let modes: FourierField<f64> =
            linear_modes(&SerialComm, &whole(noise.mesh()), &noise, &eh(), options).unwrap();
        assert_eq!(modes.data()[[0, 0, 0]].norm(), 0.0);
    }
}

/// f32 modes agree with f64 modes to single-precision rounding: the FFT of 64^3 noise in f32
/// carries a relative error ~1e-6 of the typical |W_k|, so compare with 1e-4 of the rms mode.
#[test]
fn f32_modes_agree_with_f64() {
    let mesh = Mesh::cubic(32, 200.0).unwrap();
    let power = eh();
    let d = RealField::from_array(mesh, white_noise::<f64>([32; 3], 9)).unwrap();
    let s = RealField::from_array(mesh, white_noise::<f32>([32; 3], 9)).unwrap();
    let md = linear_modes(
        &SerialComm,
        &whole(d.mesh()),
        &d,
        &power,
        ModeOptions::default(),
    )
    .unwrap();
    let ms = linear_modes(
        &SerialComm,
        &whole(s.mesh()),
        &s,
        &power,
        ModeOptions::default(),
    )
    .unwrap();
    let rms = (md.as_slice().iter().map(|v| v.norm_sqr()).sum::<f64>()
        / md.as_slice().len() as f64)
        .sqrt();
    let worst = md
        .as_slice()
        .iter()
        .zip(ms.as_slice())
        .map(|(a, b)| ((a.re - f64::from(b.re)).powi(2) + (a.im - f64::from(b.im)).powi(2)).sqrt())
        .fold(0.0, f64::max);
    println!(
        "f32 vs f64 modes: worst difference {:.2e} of the rms mode",
        worst / rms
    );
    assert!(worst < 1e-4 * rms);
}

/// The modes are bitwise the same on 1 and 3 threads (P is tabulated per |k|^2 and each mode
/// is computed on its own; the CPU FFT is deterministic). Exact.
#[test]
fn linear_modes_are_bitwise_independent_of_thread_count() {
    let noise = noise64(15);
    let power = eh();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                linear_modes(
                    &SerialComm,
                    &whole(noise.mesh()),
                    &noise,
                    &power,
                    ModeOptions::default(),
                )
                .unwrap()
            })
    };
    let (a, b) = (run(1), run(3));
    assert!(
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .all(|(x, y)| { x.re.to_bits() == y.re.to_bits() && x.im.to_bits() == y.im.to_bits() })
    );
}

/// A block of another shape is an error (the mesh mismatch), before any work.
#[test]
fn a_block_of_another_shape_is_an_error() {
    let noise = noise64(1);
    let other = pm_mesh::Mesh::new([32, 64, 64], noise.mesh().box_size()).unwrap();
    let err = linear_modes(
        &SerialComm,
        &whole(&other),
        &noise,
        &eh(),
        ModeOptions::default(),
    )
    .unwrap_err();
    println!("{err}");
    assert!(matches!(err, IntegrateError::Mesh(_)), "{err:?}");
    assert!(err.to_string().contains("[32, 64, 64]"), "{err}");
}

/// A tabulated spectrum that does not cover the mesh's |k| (k_f = 0.0126 to sqrt(3) k_Ny =
/// 0.696 h/Mpc here) is pm-cosmo's WavenumberOutOfRange, passed through.
#[test]
fn a_spectrum_that_does_not_cover_the_mesh_is_an_error() {
    let noise = noise64(1);
    let cases = [
        (vec![0.05, 0.1, 0.5], vec![2e4, 6e3, 5e2]), // misses the low end
        (vec![1e-3, 0.1, 0.5], vec![2e3, 6e3, 5e2]), // misses the corner of the grid
    ];
    for (k, p) in cases {
        let table = TabulatedPower::new(k, p).unwrap();
        let power = LinearPower::tabulated(table);
        let err = linear_modes(
            &SerialComm,
            &whole(noise.mesh()),
            &noise,
            &power,
            ModeOptions::default(),
        )
        .unwrap_err();
        println!("{err}");
        assert!(
            matches!(
                err,
                IntegrateError::Cosmo(pm_cosmo::CosmoError::WavenumberOutOfRange { .. })
            ),
            "{err:?}"
        );
    }
    // A table that covers the whole grid works.
    let table = TabulatedPower::new(vec![1e-3, 0.1, 1.0], vec![2e3, 6e3, 5e1]).unwrap();
    linear_modes(
        &SerialComm,
        &whole(noise.mesh()),
        &noise,
        &LinearPower::tabulated(table),
        ModeOptions::default(),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// White noise from .npy files
// ---------------------------------------------------------------------------------------------

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pm_integrate_ic_{}_{name}", std::process::id()))
}

/// The reason of a Noise error (panics on any other error).
fn noise_reason<T>(r: Result<T, IntegrateError>) -> String {
    match r {
        Err(IntegrateError::Noise { reason, .. }) => reason,
        Err(e) => panic!("expected IntegrateError::Noise, got {e:?}"),
        Ok(_) => panic!("expected an error"),
    }
}

/// f64 and f32 files written by ndarray-npy (the same bytes as numpy's `np.save`) read back
/// exactly, as f64 and as f32 (an f32 file read as f64 is exact; an f64 file read as f32 is
/// rounded once, like `white_noise::<f32>`). Exact comparisons.
#[test]
fn npy_round_trip_f64_and_f32() {
    let shape = [8, 6, 10];
    let d = white_noise::<f64>(shape, 21);
    let s = white_noise::<f32>(shape, 21);
    let pd = temp_path("rt64.npy");
    let ps = temp_path("rt32.npy");
    ndarray_npy::write_npy(&pd, &d).unwrap();
    ndarray_npy::write_npy(&ps, &s).unwrap();
    assert_eq!(read_white_noise_npy::<f64>(&pd, shape).unwrap(), d);
    assert_eq!(read_white_noise_npy::<f32>(&pd, shape).unwrap(), s);
    assert_eq!(read_white_noise_npy::<f32>(&ps, shape).unwrap(), s);
    assert_eq!(
        read_white_noise_npy::<f64>(&ps, shape).unwrap(),
        s.mapv(f64::from)
    );
    std::fs::remove_file(pd).unwrap();
    std::fs::remove_file(ps).unwrap();
}

/// A Fortran-order file (numpy's `fortran_order: True`) is converted, keeping the logical
/// indexing: it reads as the same array as the C-order file of the same numpy array.
#[test]
fn npy_fortran_order_is_converted() {
    let shape = [5, 4, 6];
    let c = white_noise::<f64>(shape, 22);
    // An F-layout array equal to `c` element by element.
    let mut fl = Array3::<f64>::zeros(shape.f());
    fl.assign(&c);
    assert!(fl.t().is_standard_layout());
    let p = temp_path("fortran.npy");
    ndarray_npy::write_npy(&p, &fl).unwrap();
    let header = std::fs::read(&p).unwrap();
    assert!(
        String::from_utf8_lossy(&header[..128]).contains("'fortran_order': True"),
        "the writer did not produce a Fortran-order file"
    );
    assert_eq!(read_white_noise_npy::<f64>(&p, shape).unwrap(), c);
    std::fs::remove_file(p).unwrap();
}

/// Wrong shape, wrong number of dimensions, a missing file, garbage bytes, a truncated file,
/// another dtype and non-finite values are each an IntegrateError::Noise whose reason names
/// the problem.
#[test]
fn npy_errors_name_the_problem() {
    let shape = [4, 4, 4];
    let good = white_noise::<f64>(shape, 23);

    let p = temp_path("shape.npy");
    ndarray_npy::write_npy(&p, &good).unwrap();
    let r = noise_reason(read_white_noise_npy::<f64>(&p, [4, 4, 8]));
    println!("wrong shape: {r}");
    assert!(
        r.contains("shape") && r.contains("[4, 4, 4]") && r.contains("[4, 4, 8]"),
        "{r}"
    );
    std::fs::remove_file(&p).unwrap();

    let p = temp_path("ndim.npy");
    ndarray_npy::write_npy(&p, &ndarray::Array2::<f64>::zeros((4, 16))).unwrap();
    let r = noise_reason(read_white_noise_npy::<f64>(&p, shape));
    println!("2D file: {r}");
    assert!(r.contains("shape") && r.contains("2 dimensions"), "{r}");
    std::fs::remove_file(&p).unwrap();

    let p = temp_path("missing.npy");
    let _ = std::fs::remove_file(&p);
    let err = read_white_noise_npy::<f64>(&p, shape).unwrap_err();
    println!("missing: {err}");
    assert!(err.to_string().contains("missing.npy"), "{err}");
    let r = noise_reason(Err::<(), _>(err));
    assert!(r.contains("cannot open"), "{r}");

    let p = temp_path("garbage.npy");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&p, &garbage).unwrap();
    let r = noise_reason(read_white_noise_npy::<f64>(&p, shape));
    println!("garbage: {r}");
    assert!(r.contains("not a .npy file"), "{r}");
    std::fs::write(&p, b"abc").unwrap();
    let r = noise_reason(read_white_noise_npy::<f64>(&p, shape));
    println!("3-byte file: {r}");
    assert!(r.contains("not a .npy file"), "{r}");
    std::fs::remove_file(&p).unwrap();

    let p = temp_path("truncated.npy");
    ndarray_npy::write_npy(&p, &good).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 8]).unwrap();
    let r = noise_reason(read_white_noise_npy::<f64>(&p, shape));
    println!("truncated: {r}");
    assert!(r.contains("truncated"), "{r}");
    std::fs::remove_file(&p).unwrap();

    let p = temp_path("int.npy");
    ndarray_npy::write_npy(&p, &Array3::<i32>::zeros(shape)).unwrap();
    let r = noise_reason(read_white_noise_npy::<f64>(&p, shape));
    println!("int32: {r}");
    assert!(r.contains("unsupported dtype") && r.contains("i4"), "{r}");
    std::fs::remove_file(&p).unwrap();

    for (name, bad) in [("nan", f64::NAN), ("inf", f64::INFINITY)] {
        let p = temp_path(&format!("{name}.npy"));
        let mut a = good.clone();
        a[[1, 2, 3]] = bad;
        ndarray_npy::write_npy(&p, &a).unwrap();
        let r = noise_reason(read_white_noise_npy::<f64>(&p, shape));
        println!("{name}: {r}");
        assert!(r.contains("non-finite") && r.contains("[1, 2, 3]"), "{r}");
        // The same in an f32 file.
        ndarray_npy::write_npy(&p, &a.mapv(|v| v as f32)).unwrap();
        let r = noise_reason(read_white_noise_npy::<f32>(&p, shape));
        assert!(r.contains("non-finite") && r.contains("[1, 2, 3]"), "{r}");
        std::fs::remove_file(&p).unwrap();
    }
}

/// The one-rank block of `mesh` (the grid of a serial run).
fn whole<T: pm_fft::Real>(mesh: &pm_mesh::Mesh) -> pm_mesh::MeshBlock<T> {
    pm_mesh::MeshBlock::whole(*mesh).unwrap()
}
