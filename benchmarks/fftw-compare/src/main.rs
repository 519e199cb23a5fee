//! Interleaved timing of pm-fft against FFTW: for each case, after warm-up, every repetition
//! times pm-fft forward, FFTW forward, pm-fft inverse, FFTW inverse (order alternated between
//! repetitions), so both libraries see the same machine load. Prints medians and minima.
//!
//! Usage: `fftw-compare [--sizes 128,256] [--precisions f32,f64] [--threads 1,2]
//!         [--reps 11] [--warmup 2] [--rigor measure|patient|estimate]`

use std::time::Duration;

use fftw_compare::{Case, FftwReal, Rigor, loadavg, rustfft_uses_avx};

struct Args {
    sizes: Vec<usize>,
    precisions: Vec<String>,
    threads: Vec<usize>,
    reps: usize,
    warmup: usize,
    rigor: Rigor,
}

fn parse_args() -> Args {
    let mut a = Args {
        sizes: vec![128, 256],
        precisions: vec!["f32".into(), "f64".into()],
        threads: vec![1, 2],
        reps: 11,
        warmup: 2,
        rigor: Rigor::Measure,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let list = |s: &str| -> Vec<usize> { s.split(',').map(|v| v.parse().expect(v)).collect() };
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--sizes" => a.sizes = list(&v),
            "--precisions" => a.precisions = v.split(',').map(String::from).collect(),
            "--threads" => a.threads = list(&v),
            "--reps" => a.reps = v.parse().expect("--reps"),
            "--warmup" => a.warmup = v.parse().expect("--warmup"),
            "--rigor" => {
                a.rigor = match v.as_str() {
                    "estimate" => Rigor::Estimate,
                    "measure" => Rigor::Measure,
                    "patient" => Rigor::Patient,
                    other => panic!("unknown --rigor {other}"),
                }
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn run<T: FftwReal>(n: usize, threads: usize, args: &Args) {
    let load_before = loadavg();
    let mut case = Case::<T>::new(n, threads, args.rigor);
    let (err_f, err_i) = case.check();
    for _ in 0..args.warmup {
        case.time_ours_forward();
        case.time_fftw_forward();
        case.time_ours_inverse();
        case.time_fftw_inverse();
    }
    // Columns: ours fwd, fftw fwd, ours inv, fftw inv.
    let mut t: [Vec<f64>; 4] = Default::default();
    for rep in 0..args.reps {
        let mut one = [0.0; 4];
        if rep % 2 == 0 {
            one[0] = ms(case.time_ours_forward());
            one[1] = ms(case.time_fftw_forward());
            one[3] = ms(case.time_fftw_inverse());
            one[2] = ms(case.time_ours_inverse());
        } else {
            one[1] = ms(case.time_fftw_forward());
            one[0] = ms(case.time_ours_forward());
            one[2] = ms(case.time_ours_inverse());
            one[3] = ms(case.time_fftw_inverse());
        }
        for (col, v) in t.iter_mut().zip(one) {
            col.push(v);
        }
    }
    let rt_ours: Vec<f64> = t[0].iter().zip(&t[2]).map(|(a, b)| a + b).collect();
    let rt_fftw: Vec<f64> = t[1].iter().zip(&t[3]).map(|(a, b)| a + b).collect();
    let (min_o, min_f) = (min(&rt_ours), min(&rt_fftw));
    let (mo, mf) = (median(&mut rt_ours.clone()), median(&mut rt_fftw.clone()));
    let [mut a, mut b, mut c, mut d] = t;
    let (of, ff, oi, fi) = (
        median(&mut a),
        median(&mut b),
        median(&mut c),
        median(&mut d),
    );
    println!(
        "| {n}^3 | {} | {threads} | {of:.1} | {ff:.1} | {:.2} | {oi:.1} | {fi:.1} | {:.2} | {mo:.1} | {mf:.1} | **{:.2}** | {:.2} | {err_f:.1e} / {err_i:.1e} | {:.1} | {load_before} -> {} |",
        T::NAME,
        of / ff,
        oi / fi,
        mo / mf,
        min_o / min_f,
        case.fftw_plan_s,
        loadavg(),
    );
}

fn main() {
    let args = parse_args();
    println!(
        "rustfft AVX planner: f32 {}, f64 {}; FFTW plans: {:?}; {} reps after {} warm-up; times in ms (median); ratio = pm-fft / FFTW",
        rustfft_uses_avx::<f32>(),
        rustfft_uses_avx::<f64>(),
        args.rigor,
        args.reps,
        args.warmup,
    );
    println!();
    println!(
        "| size | prec | thr | ours fwd | FFTW fwd | ratio | ours inv | FFTW inv | ratio | ours f+i | FFTW f+i | ratio (median) | ratio (min) | max rel diff fwd / inv | FFTW plan s | load 1/5/15 min before -> after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in &args.sizes {
        for p in &args.precisions {
            for &threads in &args.threads {
                match p.as_str() {
                    "f32" => run::<f32>(n, threads, &args),
                    "f64" => run::<f64>(n, threads, &args),
                    other => panic!("unknown precision {other}"),
                }
            }
        }
    }
}
