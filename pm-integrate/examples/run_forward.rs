//! One forward simulation from the command line, for comparisons with other codes
//! (benchmarks/peers/) and for timing.
//!
//! ```text
//! cargo run --release -p pm-integrate --features tools --example run_forward -- \
//!     --box 256 --particles 128 --mesh 128 --steps 10 --a-start 0.1 --a-end 1 \
//!     --seed 1 | --noise white_noise.npy \
//!     --kernel fastpm|naive|jaxpm --precision f32|f64 [--no-radiation] [--out DIR]
//! ```
//!
//! Prints the wall time of the set-up (FFT plans, growth table, power spectrum), of the
//! initial conditions (white noise, linear modes, LPT fields and the state at `a_start`) and
//! of the N-body steps, each separately, and the number of steps.
//!
//! With `--out DIR` it writes
//! * `DIR/positions.npy`: float32 `(n^3, 3)`, positions `(q + disp) mod L` in Mpc/h, C order
//!   of the particle lattice;
//! * `DIR/linear_power.npy`: float64 `(m, 2)`, columns `k` (h/Mpc) and the linear `P(k)` at
//!   a = 1 ((Mpc/h)^3) that the initial conditions used, over the particle grid's k range;
//! * `DIR/info.json`: the run's settings, the cosmology, `D1(a_start)`, `D1(a_end)` (D1(1) = 1),
//!   `D2(a_start)`, and the timings.
//!
//! Kernels: `fastpm` (3-point Laplacian, 4-point gradient; the default), `naive` (exact `i k /
//! k^2`), and `jaxpm`: JaxPM's `pm_forces` (its default `invlaplace_kernel(fd=False)`, i.e. the
//! exact `1/k^2`, with its default `gradient_kernel(order=1)`, the 4-point finite-difference
//! gradient), defined here as a `ForceKernel`.
//!
//! `--no-radiation` drops photons and neutrinos from E(a) (JaxPM, jax_cosmo and pmwd leave
//! radiation out); the Planck 2018 preset includes them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ndarray::Array2;
use pm_cosmo::Cosmology;
use pm_decomp::SerialComm;
use pm_fft::Real;
use pm_force::{FastPmKernel, ForceKernel, NaiveKernel};
use pm_integrate::{Simulation, TimeSteps};

/// JaxPM's default force: exact inverse Laplacian `1/k^2` and the 4-point finite-difference
/// gradient `(8 sin w - sin 2w) / (6 dx)` (`jaxpm.kernels.invlaplace_kernel` with `fd=False`
/// and `gradient_kernel` with `order=1`, as `jaxpm.pm.pm_forces` calls them).
#[derive(Debug, Clone, Copy, Default)]
struct JaxPmKernel;

impl ForceKernel for JaxPmKernel {
    fn name(&self) -> String {
        "jaxpm(exact laplacian, 4-point gradient)".into()
    }
    fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
        FastPmKernel.gradient_1d(k, dx)
    }
}

#[derive(Debug, Clone)]
struct Options {
    box_size: f64,
    particles: usize,
    mesh: Option<usize>,
    steps: usize,
    a_start: f64,
    a_end: f64,
    seed: u64,
    noise: Option<PathBuf>,
    kernel: String,
    precision: String,
    radiation: bool,
    out: Option<PathBuf>,
    profile: usize,
}

const USAGE: &str = "usage: run_forward [--box L] [--particles N] [--mesh M] [--steps S] \
[--a-start A0] [--a-end A1] [--seed SEED | --noise FILE.npy] [--kernel fastpm|naive|jaxpm] \
[--precision f32|f64] [--no-radiation] [--out DIR] [--profile REPEATS]";

fn parse() -> Result<Options, String> {
    let mut o = Options {
        box_size: 256.0,
        particles: 128,
        mesh: None,
        steps: 10,
        a_start: 0.1,
        a_end: 1.0,
        seed: 0,
        noise: None,
        kernel: "fastpm".into(),
        precision: "f32".into(),
        radiation: true,
        out: None,
        profile: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        if flag == "--no-radiation" {
            o.radiation = false;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--box" => o.box_size = value.parse().map_err(|e| bad(&e))?,
            "--particles" => o.particles = value.parse().map_err(|e| bad(&e))?,
            "--mesh" => o.mesh = Some(value.parse().map_err(|e| bad(&e))?),
            "--steps" => o.steps = value.parse().map_err(|e| bad(&e))?,
            "--a-start" => o.a_start = value.parse().map_err(|e| bad(&e))?,
            "--a-end" => o.a_end = value.parse().map_err(|e| bad(&e))?,
            "--seed" => o.seed = value.parse().map_err(|e| bad(&e))?,
            "--noise" => o.noise = Some(value.into()),
            "--kernel" => o.kernel = value,
            "--precision" => o.precision = value,
            "--out" => o.out = Some(value.into()),
            "--profile" => o.profile = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(o)
}

/// Writes `bytes` to `path` through a temporary name (docs/ARCHITECTURE.md, Outputs).
fn write_atomic(
    path: &std::path::Path,
    write: impl FnOnce(&std::path::Path) -> Result<(), String>,
) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    write(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename {}: {e}", path.display()))
}

fn run<T: Real, K: ForceKernel>(o: &Options, kernel: K) -> Result<(), String> {
    let t0 = Instant::now();
    let mut cosmology = Cosmology::planck18();
    cosmology.include_radiation = o.radiation;
    let mesh = o.mesh.unwrap_or(o.particles);
    let builder = Simulation::<T, _>::builder(cosmology)
        .box_size(o.box_size)
        .particles(o.particles)
        .mesh(mesh)
        .steps(TimeSteps::LinearA {
            a_start: o.a_start,
            a_end: o.a_end,
            steps: o.steps,
        })
        .kernel(kernel);
    let builder = match &o.noise {
        Some(path) => builder.white_noise_file(path),
        None => builder.seed(o.seed),
    };
    let sim = builder.build().map_err(|e| e.to_string())?;
    let t_setup = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let a0 = sim.scale_factors()[0];
    let state = sim.initial_state(&SerialComm).map_err(|e| e.to_string())?;
    let t_ic = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let state = sim.evolve(state, &mut []).map_err(|e| e.to_string())?;
    let t_steps = t2.elapsed().as_secs_f64();
    let steps = sim.scale_factors().len() - 1;
    if o.profile > 0 {
        profile(&sim, &state, o.profile)?;
    }

    let g0 = sim.growth().at(a0).map_err(|e| e.to_string())?;
    let g1 = sim.growth().at(state.a).map_err(|e| e.to_string())?;
    println!(
        "pmrs {} kernel={} particles={}^3 mesh={}^3 box={} Mpc/h a={}..{} radiation={}",
        o.precision,
        sim.forces().gravity.kernel().name(),
        o.particles,
        mesh,
        o.box_size,
        a0,
        state.a,
        o.radiation
    );
    println!(
        "D1(a_start)={:.8} D1(a_end)={:.8} D1 ratio={:.8}",
        g0.d1,
        g1.d1,
        g1.d1 / g0.d1
    );
    println!("setup: {t_setup:.4} s");
    println!("initial conditions: {t_ic:.4} s");
    println!("steps: {steps}");
    println!(
        "nbody: {t_steps:.4} s ({:.4} s/step)",
        t_steps / steps as f64
    );
    println!("total: {:.4} s", t0.elapsed().as_secs_f64());

    if let Some(dir) = &o.out {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let n = state.len();
        let positions = state.positions();
        let l = o.box_size;
        let mut pos = Array2::<f32>::zeros((n, 3));
        for (i, mut row) in pos.outer_iter_mut().enumerate() {
            let x = positions.position(i);
            for a in 0..3 {
                let mut u = x[a].rem_euclid(l) as f32;
                if u >= l as f32 {
                    u = 0.0;
                }
                row[a] = u;
            }
        }
        write_atomic(&dir.join("positions.npy"), |p| {
            ndarray_npy::write_npy(p, &pos).map_err(|e| format!("{}: {e}", p.display()))
        })?;

        // The linear spectrum over the particle grid's |k| range (fundamental to the corner).
        let kf = 2.0 * std::f64::consts::PI / o.box_size;
        let kmax = kf * (o.particles as f64 / 2.0) * 3f64.sqrt();
        let m = 512;
        let mut table = Array2::<f64>::zeros((m, 2));
        for j in 0..m {
            let k = kf * (kmax / kf).powf(j as f64 / (m - 1) as f64);
            let k = k.min(kmax);
            table[[j, 0]] = k;
            table[[j, 1]] = sim.power().power(k).map_err(|e| e.to_string())?;
        }
        write_atomic(&dir.join("linear_power.npy"), |p| {
            ndarray_npy::write_npy(p, &table).map_err(|e| format!("{}: {e}", p.display()))
        })?;

        let c = sim.cosmology();
        let info = format!(
            "{{\n  \"code\": \"pmrs {}\",\n  \"precision\": \"{}\",\n  \"kernel\": \"{}\",\n  \
             \"box_size\": {},\n  \"particles\": {},\n  \"mesh\": {},\n  \"steps\": {},\n  \
             \"a_start\": {},\n  \"a_end\": {},\n  \"noise\": {},\n  \"seed\": {},\n  \
             \"omega_c\": {},\n  \"omega_b\": {},\n  \"h\": {},\n  \"n_s\": {},\n  \
             \"sigma8\": {},\n  \"include_radiation\": {},\n  \"d1_start\": {},\n  \
             \"d1_end\": {},\n  \"d2_start\": {},\n  \"t_setup_s\": {},\n  \"t_ic_s\": {},\n  \
             \"t_nbody_s\": {}\n}}\n",
            env!("CARGO_PKG_VERSION"),
            o.precision,
            sim.forces().gravity.kernel().name(),
            o.box_size,
            o.particles,
            mesh,
            steps,
            a0,
            state.a,
            o.noise
                .as_ref()
                .map(|p| format!("{:?}", p.display().to_string()))
                .unwrap_or("null".into()),
            o.seed,
            c.omega_c,
            c.omega_b,
            c.h,
            c.n_s,
            sim.power().sigma8(),
            c.include_radiation,
            g0.d1,
            g1.d1,
            g0.d2,
            t_setup,
            t_ic,
            t_steps
        );
        write_atomic(&dir.join("info.json"), |p| {
            let mut f = std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?;
            f.write_all(info.as_bytes())
                .map_err(|e| format!("{}: {e}", p.display()))
        })?;
        println!("wrote {}", dir.display());
    }
    Ok(())
}

/// Median of `repeats` timings of `f`, seconds.
fn median_time(repeats: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    let mut t = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t0 = Instant::now();
        f()?;
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

/// Times the pieces of one force evaluation at the final (most clustered) positions: CIC
/// paint, forward FFT, one inverse FFT, the kernel multiply + inverse FFT of the three force
/// components, the vector CIC readout, and the whole `accelerations` call; prints the medians.
fn profile<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
    state: &pm_integrate::State<T>,
    repeats: usize,
) -> Result<(), String> {
    use pm_mesh::{FourierField, RealField, Scheme, paint, readout_vector};
    let gravity = &sim.forces().gravity;
    let mesh = *gravity.mesh();
    let block = gravity.block();
    let positions = state.positions();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut rho = RealField::<T>::zeros(mesh);
    let t_paint = median_time(repeats, || {
        rho.as_slice_mut().iter_mut().for_each(|v| *v = T::zero());
        paint(&mut rho, &positions, None, Scheme::Cic).map_err(|e| err(&e))
    })?;
    let mut real = RealField::<T>::zeros(mesh);
    let mut cplx = FourierField::<T>::zeros(mesh);
    let t_fwd = median_time(repeats, || {
        real.as_slice_mut().copy_from_slice(rho.as_slice());
        block
            .forward(&SerialComm, real.as_slice_mut(), cplx.as_slice_mut())
            .map_err(|e| err(&e))
    })?;
    let delta_k = block
        .forward_field(&SerialComm, &mut rho.clone())
        .map_err(|e| err(&e))?;
    let t_inv = median_time(repeats, || {
        cplx.as_slice_mut().copy_from_slice(delta_k.as_slice());
        block
            .inverse(&SerialComm, cplx.as_slice_mut(), real.as_slice_mut())
            .map_err(|e| err(&e))
    })?;
    let mut fields = None;
    let t_fields = median_time(repeats, || {
        let f = gravity
            .force_fields(&SerialComm, delta_k.as_slice(), 1.0)
            .map_err(|e| err(&e))?;
        fields = Some(f.map(|f| RealField::from_vec(mesh, f).expect("the mesh's length")));
        Ok(())
    })?;
    let fields = fields.expect("timed at least once");
    let mut out = vec![[T::zero(); 3]; state.len()];
    let t_read = median_time(repeats, || {
        readout_vector(&fields, &positions, Scheme::Cic, &mut out).map_err(|e| err(&e))
    })?;
    let t_acc = median_time(repeats, || {
        gravity
            .accelerations(&SerialComm, &positions, 1.0, &mut out)
            .map_err(|e| err(&e))
    })?;
    println!(
        "profile (median of {repeats}, {} threads, final positions, {:?} mesh):",
        rayon::current_num_threads(),
        mesh.shape()
    );
    println!("  paint (CIC, zeroing included): {t_paint:.4} s");
    println!("  forward FFT: {t_fwd:.4} s");
    println!("  inverse FFT: {t_inv:.4} s");
    println!(
        "  3 x (kernel multiply + inverse FFT): {t_fields:.4} s (multiplies {:.4} s)",
        t_fields - 3.0 * t_inv
    );
    println!("  vector readout (CIC): {t_read:.4} s");
    println!(
        "  accelerations (paint + FFT + 3 x (multiply + IFFT) + readout): {t_acc:.4} s \
         (sum of pieces {:.4} s)",
        t_paint + t_fwd + t_fields + t_read
    );
    Ok(())
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match (o.precision.as_str(), o.kernel.as_str()) {
        ("f32", "fastpm") => run::<f32, _>(&o, FastPmKernel),
        ("f32", "naive") => run::<f32, _>(&o, NaiveKernel),
        ("f32", "jaxpm") => run::<f32, _>(&o, JaxPmKernel),
        ("f64", "fastpm") => run::<f64, _>(&o, FastPmKernel),
        ("f64", "naive") => run::<f64, _>(&o, NaiveKernel),
        ("f64", "jaxpm") => run::<f64, _>(&o, JaxPmKernel),
        (p, k) => Err(format!(
            "unsupported --precision {p} / --kernel {k}: precision f32|f64, kernel fastpm|naive|jaxpm"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
