//! The `pm` binary end to end: every promised file of a run, the P(k) CSV against the
//! library's estimator, a table of bad configs and their exact errors, SIGINT, byte-for-byte
//! reruns, `pm init`/`validate`/`power`/`info`, `pm grad-check` and `pm reconstruct`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ndarray::{Array2, Array3};
use ndarray_npy::ReadNpyExt;
use pm_cli::config::{Config, DEFAULT_CONFIG};
use pm_fft::CpuFft3d;
use pm_mesh::{
    Mesh, Positions, PowerOptions, RealField, Scheme, mean_particle_mass, paint, power_spectrum,
};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pm(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pm"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the pm binary runs")
}

/// A run small enough for a test: 16^3 particles, 32^3 mesh, 64 Mpc/h, 3 steps.
const TINY: &str = r#"
[simulation]
box_size = 64.0
particles = 16
mesh = 32
seed = 7
steps = 3
[output]
a = [0.4, 1.0]
density = true
"#;

fn read_npy2(path: &Path) -> Array2<f32> {
    Array2::<f32>::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

fn csv_rows(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}

/// No hidden entry under `dir` but the run directory's manifest and lock: nothing partial
/// or temporary left behind.
fn no_hidden_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        assert!(
            !name.starts_with('.') || name == ".pm-manifest.json" || name == ".pm-lock",
            "left behind: {}",
            entry.path().display()
        );
        if entry.path().is_dir() {
            no_hidden_files(&entry.path());
        }
    }
}

#[test]
fn a_run_writes_every_promised_file_and_its_power_matches_the_library() {
    let dir = scratch("e2e");
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = dir.join("run");
    assert!(run.join("config.toml").is_file());
    assert!(run.join("summary.json").is_file());
    // The written config is the full one: it parses and plans to the same run.
    let written = Config::read(&run.join("config.toml")).unwrap();
    assert_eq!(written, Config::parse(TINY, "tiny").unwrap());
    for (a, name) in [(0.4, "a_0.4000"), (1.0, "a_1.0000")] {
        let snap = run.join(name);
        for f in [
            "positions.npy",
            "momenta.npy",
            "meta.json",
            "density.npy",
            "power.csv",
            "density.png",
            "power.png",
        ] {
            assert!(snap.join(f).is_file(), "{name}/{f} missing");
        }
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(snap.join("meta.json")).unwrap())
                .unwrap();
        assert_eq!(meta["a"], a);
        assert_eq!(meta["box_size"], 64.0);
        assert_eq!(meta["seed"], 7);
        assert_eq!(
            meta["files"]["positions"]["shape"],
            serde_json::json!([4096, 3])
        );
        let x = read_npy2(&snap.join("positions.npy"));
        let p = read_npy2(&snap.join("momenta.npy"));
        assert_eq!(x.shape(), &[4096, 3]);
        assert_eq!(p.shape(), &[4096, 3]);
        assert!(x.iter().all(|v| (0.0..64.0).contains(v)));
        let delta = Array3::<f32>::read_npy(std::fs::File::open(snap.join("density.npy")).unwrap())
            .unwrap();
        assert_eq!(delta.shape(), &[32, 32, 32]);
        // Mass is conserved by the paint: the mean contrast is 0 to f32 rounding.
        assert!(delta.iter().map(|&d| f64::from(d)).sum::<f64>().abs() / 32768.0 < 1e-5);

        // P(k) from the library on the positions read back (CIC, 32^3, window deconvolved).
        let positions: Vec<[f32; 3]> = x.rows().into_iter().map(|r| [r[0], r[1], r[2]]).collect();
        let mesh = Mesh::cubic(32, 64.0).unwrap();
        let mut rho = RealField::<f32>::zeros(mesh);
        paint(
            &mut rho,
            &Positions::Absolute(&positions),
            None,
            Scheme::Cic,
        )
        .unwrap();
        let m = mean_particle_mass(&mesh, positions.len()) as f32;
        rho.as_slice_mut()
            .iter_mut()
            .for_each(|v| *v = *v * m - 1.0);
        let want = power_spectrum(
            &rho.forward(&CpuFft3d::new(mesh.shape()).unwrap()).unwrap(),
            &PowerOptions {
                compensate: Some(Scheme::Cic),
                ..Default::default()
            },
        )
        .unwrap();
        let rows = csv_rows(&std::fs::read_to_string(snap.join("power.csv")).unwrap());
        let filled: Vec<usize> = (0..want.k.len()).filter(|&b| want.n_modes[b] > 0).collect();
        assert_eq!(rows.len(), filled.len());
        for (row, &b) in rows.iter().zip(&filled) {
            // The run measures P(k) from the positions it stores, and the CSV holds the
            // shortest round-trip decimal of each f64: equal to the last bit.
            assert_eq!(row[0], want.k[b]);
            assert!(
                row[1] == want.power[b],
                "bin {b}: csv {} library {}",
                row[1],
                want.power[b]
            );
            assert_eq!(row[2] as u64, want.n_modes[b]);
            assert!(row[3] > 0.0, "linear theory column");
        }
        // `pm power` on the snapshot gives the same table.
        let out = pm(&["power", snap.to_str().unwrap()], &dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            std::fs::read_to_string(snap.join("power.csv")).unwrap()
        );
        let out = pm(&["info", snap.to_str().unwrap()], &dir);
        assert!(out.status.success());
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .contains("\"stepper\": \"fastpm\"")
        );
    }
    no_hidden_files(&run);
    // A second run replaces the first; a directory holding other files is refused.
    let before = files(&run.join("a_1.0000"));
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(files(&run.join("a_1.0000")) == before);
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], &dir);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds entries pm did not write (notes.txt)")
    );
    assert_eq!(
        std::fs::read_to_string(run.join("notes.txt")).unwrap(),
        "mine"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each bad config, and the exact error it gets (what `pm` prints after `pm: `).
const BAD_CONFIGS: &[(&str, &str, &str)] = &[
    (
        "unknown key",
        "[simulation]\nboxsize = 100.0\n",
        r#"invalid configuration: simulation.boxsize: in bad.toml: TOML parse error at line 2, column 1
  |
2 | boxsize = 100.0
  | ^^^^^^^
unknown field `boxsize`, expected one of `box_size`, `particles`, `mesh`, `seed`, `white_noise`, `fixed_amplitude`, `phase_flip`, `lpt_order`, `stepper`, `a_start`, `a_end`, `steps`, `schedule`, `scale_factors`, `precision`, `threads`"#,
    ),
    (
        "unknown section",
        "[simulations]\nbox_size = 100.0\n",
        r#"invalid configuration: bad.toml: TOML parse error at line 1, column 2
  |
1 | [simulations]
  |  ^^^^^^^^^^^
unknown field `simulations`, expected one of `cosmology`, `simulation`, `force`, `output`, `lensing`"#,
    ),
    (
        "wrong type",
        "[simulation]\nparticles = \"64\"\n",
        r#"invalid configuration: simulation.particles: in bad.toml: TOML parse error at line 2, column 13
  |
2 | particles = "64"
  |             ^^^^
invalid type: string "64", expected usize"#,
    ),
    (
        "negative box",
        "[simulation]\nbox_size = -128.0\n",
        r#"invalid configuration: simulation.box_size: -128 must be a positive number of Mpc/h"#,
    ),
    (
        "odd mesh",
        "[simulation]\nmesh = 127\n",
        r#"invalid configuration: simulation.mesh: 127 must be even and at least 2"#,
    ),
    (
        "a_end before a_start",
        "[simulation]\na_start = 0.5\na_end = 0.2\n",
        r#"invalid configuration: simulation.a_end: 0.2 must be greater than simulation.a_start = 0.5"#,
    ),
    (
        "zero steps",
        "[simulation]\nsteps = 0\n",
        r#"invalid configuration: simulation.steps: 0: must be at least 1"#,
    ),
    (
        "unknown stepper",
        "[simulation]\nstepper = \"rk4\"\n",
        r#"invalid configuration: simulation.stepper: in bad.toml: TOML parse error at line 2, column 11
  |
2 | stepper = "rk4"
  |           ^^^^^
unknown variant `rk4`, expected one of `fastpm`, `leapfrog`, `cola`"#,
    ),
    (
        "LPT order 3",
        "[simulation]\nlpt_order = 3\n",
        r#"invalid configuration: simulation.lpt_order: 3: must be 1 or 2"#,
    ),
    (
        "decreasing explicit schedule",
        "[simulation]\nscale_factors = [0.1, 0.5, 0.3, 1.0]\n",
        r#"invalid configuration: simulation.scale_factors: invalid time steps: scale factors must increase strictly, got 0.5 then 0.3"#,
    ),
    (
        "snapshot off the schedule",
        "[output]\na = [0.5]\n",
        r#"invalid configuration: output.a: 0.5 is not a step boundary; snapshots are taken between steps, at one of [0.100000, 0.190000, 0.280000, 0.370000, 0.460000, 0.550000, 0.640000, 0.730000, 0.820000, 0.910000, 1.000000]"#,
    ),
    (
        "P(k) file missing",
        "[cosmology]\npower_spectrum = \"missing_pk.txt\"\n",
        r#"invalid configuration: cosmology.power_spectrum: "missing_pk.txt" is neither eisenstein_hu, eisenstein_hu_no_wiggle nor a readable file (missing_pk.txt does not exist)"#,
    ),
    (
        "P(k) file malformed",
        "[cosmology]\npower_spectrum = \"bad_pk.txt\"\n",
        r#"invalid configuration: cosmology.power_spectrum: malformed P(k) table bad_pk.txt, line 3: P field 'oops' is not a number"#,
    ),
    (
        "unknown cosmology parameter",
        "[cosmology]\nOmega_x = 0.3\n",
        r#"invalid configuration: cosmology.Omega_x: unknown field `Omega_x`, expected one of `Omega_c`, `Omega_b`, `h`, `n_s`, `sigma8`, `A_s`, `w0`, `wa`, `Omega_k`, `T_cmb`, `N_eff`, `include_radiation`"#,
    ),
    (
        "unphysical cosmology",
        "[cosmology]\nsigma8 = -0.8\n",
        r#"invalid configuration: cosmology.sigma8: cosmology parameter sigma8 = -0.8 is out of range: allowed (0, 3]"#,
    ),
    (
        "unknown preset",
        "[cosmology]\npreset = \"planck13\"\n",
        r#"invalid configuration: cosmology.preset: unknown cosmology preset 'planck13': known presets are planck18, wmap9, eds"#,
    ),
    (
        "white-noise file missing",
        "[simulation]\nwhite_noise = \"noise.npy\"\n",
        r#"invalid configuration: simulation.white_noise: noise.npy is not a readable file"#,
    ),
    (
        "sharpen without the sharpened kernel",
        "[force]\nsharpen = [0.1, 0.0, 0.0]\n",
        r#"invalid configuration: force.sharpen: [0.1, 0.0, 0.0] is set but force.kernel is "fastpm"; set kernel = "sharpened" to use it"#,
    ),
    (
        "negative source redshift",
        "[lensing]\nenabled = true\nsource_z = -1.0\n",
        r#"invalid configuration: lensing.source_z: -1 must be in (0, 20]"#,
    ),
    (
        "HEALPix nside not a power of two",
        "[lensing]\nenabled = true\nnside = 12\n",
        r#"invalid configuration: lensing.nside: invalid nside: nside must be a power of two between 1 and 2^29, got 12"#,
    ),
    (
        "lensing with no map",
        "[lensing]\nenabled = true\nfov_deg = 0.0\n",
        r#"invalid configuration: lensing.enabled: true but neither a flat map (fov_deg > 0) nor a full-sky map (nside > 0) is asked for"#,
    ),
    (
        "TOML syntax",
        "[simulation\nbox_size = 1\n",
        r#"invalid configuration: bad.toml: TOML parse error at line 1, column 12
  |
1 | [simulation
  |            ^
unclosed table, expected `]`"#,
    ),
];

#[test]
fn bad_configs_fail_before_any_work_with_the_key_named() {
    let dir = scratch("bad");
    std::fs::write(dir.join("bad_pk.txt"), "# k P\n0.01 100\n0.1 oops\n").unwrap();
    let mut report = String::new();
    for (what, text, want) in BAD_CONFIGS {
        let path = dir.join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = pm(&["run", "bad.toml", "--output", "out", "--quiet"], &dir);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        report.push_str(&format!("{what}:\n{stderr}\n"));
        assert!(!out.status.success(), "{what}: accepted");
        assert!(
            !dir.join("out").exists(),
            "{what}: left an output directory"
        );
        let out_v = pm(&["validate", "bad.toml"], &dir);
        assert!(!out_v.status.success(), "{what}: validate accepted it");
        assert_eq!(stderr.trim_end(), format!("pm: {want}"), "{what}");
    }
    println!("{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_config_round_trips_and_init_writes_it() {
    let parsed: Config = Config::parse(DEFAULT_CONFIG, "default").unwrap();
    assert_eq!(parsed, Config::default());
    let text = toml::to_string(&parsed).unwrap();
    assert_eq!(Config::parse(&text, "written").unwrap(), parsed);
    let dir = scratch("init");
    let out = pm(&["init", "my.toml"], &dir);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.join("my.toml")).unwrap(),
        DEFAULT_CONFIG
    );
    let out = pm(&["init", "my.toml"], &dir);
    assert!(!out.status.success(), "init must not overwrite");
    let out = pm(&["validate", "my.toml"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file in `dir`, recursively, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path.strip_prefix(dir).unwrap().to_path_buf(), bytes));
        }
    }
    out.sort();
    out
}

#[test]
fn sigint_leaves_only_complete_files_and_a_rerun_gives_the_same_bytes() {
    let dir = scratch("sigint");
    // 32^3 particles and 40 steps with a snapshot after every 4: long enough to interrupt.
    let config = "[simulation]\nbox_size = 64.0\nparticles = 32\nmesh = 64\nsteps = 40\n\
                  [output]\na = [0.19, 0.28, 0.37, 0.46, 0.55, 0.64, 0.73, 0.82, 0.91, 1.0]\n";
    std::fs::write(dir.join("c.toml"), config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pm"))
        .args(["run", "c.toml", "--output", "interrupted", "--quiet"])
        .current_dir(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first complete snapshot, then interrupt.
    let first = dir.join("interrupted/a_0.1900");
    let t0 = std::time::Instant::now();
    while !first.exists() {
        assert!(t0.elapsed().as_secs() < 120, "no snapshot after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let interrupted = dir.join("interrupted");
    no_hidden_files(&interrupted);
    let kept: Vec<_> = std::fs::read_dir(&interrupted)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("a_"))
        .collect();
    assert!(!kept.is_empty() && kept.len() < 10, "kept {kept:?}");
    // The rerun, uninterrupted and on one thread, reproduces every kept snapshot's bytes.
    std::fs::write(
        dir.join("c1.toml"),
        config.replace("steps = 40\n", "steps = 40\nthreads = 1\n"),
    )
    .unwrap();
    let out = pm(&["run", "c1.toml", "--output", "full", "--quiet"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in &kept {
        let a = files(&interrupted.join(name));
        let b = files(&dir.join("full").join(name));
        assert_eq!(
            a.len(),
            6,
            "{name}: {:?}",
            a.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        assert!(
            a == b,
            "{name} differs between the interrupted run and the rerun"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn grad_check_passes_on_a_tiny_run() {
    let dir = scratch("grad");
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    let out = pm(&["grad-check", "tiny.toml", "--directions", "1"], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all 8 checks within 1e-4"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reconstruct_recovers_the_large_scales_of_a_snapshot() {
    let dir = scratch("reconstruct");
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], &dir);
    assert!(out.status.success());
    let out = pm(
        &[
            "reconstruct",
            "run/a_1.0000",
            "--schedule",
            "20:0.5:4:0.02",
            "--output",
            "rec",
        ],
        &dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = csv_rows(&std::fs::read_to_string(dir.join("rec/comparison.csv")).unwrap());
    println!("k, r, T, modes: {rows:?}");
    assert!(rows[0][1] > 0.9, "r at the lowest k: {}", rows[0][1]);
    assert!(dir.join("rec/white_noise.npy").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `[lensing]`: the flat map, its spectrum and the HEALPix FITS map are written, with the
/// documented shapes, and the FITS map reads back (healpy's reading is checked by
/// `pm-cli/tests/check_outputs.py` in CI).
#[test]
fn a_lensing_run_writes_its_maps() {
    let dir = scratch("lensing");
    let config = format!(
        "{TINY}[lensing]\nenabled = true\nsource_z = 0.05\nfov_deg = 20.0\npixels = 32\nnside = 8\n"
    );
    std::fs::write(dir.join("lens.toml"), config).unwrap();
    let out = pm(&["run", "lens.toml", "--output", "run", "--quiet"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lens = dir.join("run/lensing");
    let flat =
        ndarray::Array2::<f64>::read_npy(std::fs::File::open(lens.join("kappa_flat.npy")).unwrap())
            .unwrap();
    assert_eq!(flat.shape(), &[32, 32]);
    assert!(flat.iter().all(|k| k.is_finite()));
    assert!(flat.iter().any(|k| *k != flat[[0, 0]]));
    let (nside, full) =
        pm_lensing::fits::read_healpix_map(lens.join("kappa_healpix.fits")).unwrap();
    assert_eq!((nside, full.len()), (8, 768));
    assert!(full.iter().all(|k| k.is_finite()));
    let cl = std::fs::read_to_string(lens.join("cl_flat.csv")).unwrap();
    assert!(cl.starts_with("ell,cl,modes,limber\n"));
    assert!(
        csv_rows(&cl)
            .iter()
            .any(|r| r[2] > 0.0 && r[1] > 0.0 && r[3] > 0.0)
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lens.join("lensing.json")).unwrap()).unwrap();
    assert_eq!(meta["section"]["nside"], 8);
    assert!(lens.join("kappa_flat.png").is_file());
    no_hidden_files(&dir.join("run"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--ranks 3` (thread communicator) writes the snapshots of the 1-rank run: positions and
/// momenta equal to rounding in f64, the same files; bad rank counts are refused up front.
#[test]
fn a_run_on_three_ranks_equals_the_serial_run() {
    let dir = scratch("ranks");
    std::fs::write(
        dir.join("tiny.toml"),
        TINY.replace("steps = 3\n", "steps = 3\nprecision = \"f64\"\n"),
    )
    .unwrap();
    for (ranks, out_dir) in [("1", "one"), ("3", "three")] {
        let out = pm(
            &[
                "run",
                "tiny.toml",
                "--output",
                out_dir,
                "--quiet",
                "--ranks",
                ranks,
            ],
            &dir,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for a in ["a_0.4000", "a_1.0000"] {
        for file in ["positions.npy", "momenta.npy"] {
            let read = |d: &str| {
                Array2::<f64>::read_npy(
                    std::fs::File::open(dir.join(d).join(a).join(file)).unwrap(),
                )
                .unwrap()
            };
            let (one, three) = (read("one"), read("three"));
            assert_eq!(one.shape(), three.shape());
            let scale = one.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let diff = one
                .iter()
                .zip(three.iter())
                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
            println!("{a}/{file}: max |diff| / max = {:.2e}", diff / scale);
            assert!(diff <= 1e-10 * scale, "{a}/{file}: {diff}");
        }
    }
    let out = pm(
        &[
            "run",
            "tiny.toml",
            "--output",
            "zero",
            "--quiet",
            "--ranks",
            "0",
        ],
        &dir,
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "pm: invalid configuration: --ranks: 0: must be at least 1"
    );
    assert!(!dir.join("zero").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the `mpi` feature, `--mpi` is refused with how to build a `pm` that has it, and
/// leaves nothing behind.
#[cfg(not(feature = "mpi"))]
#[test]
fn mpi_without_the_feature_is_refused_with_how_to_get_it() {
    let dir = scratch("no-mpi");
    let out = pm(&["run", "--mpi", "--output", "never", "--quiet"], &dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--mpi: this pm was built without MPI") && err.contains("--features mpi"),
        "{err}"
    );
    assert!(!dir.join("never").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run::run_on`, the function `pm run --mpi` calls on each MPI rank, on 2 thread ranks:
/// the run's files (every rank writes its particles into them) hold the same positions as
/// the 1-rank run's to rounding, and every rank returns (the directories on rank 0).
#[test]
fn run_on_any_communicator_writes_the_one_rank_snapshots() {
    use pm_cli::run::{RunOptions, run, run_on};
    let dir = scratch("run-on");
    let plan = Config::parse(TINY, "tiny").unwrap().plan(&dir).unwrap();
    let options = |name: &str| RunOptions {
        directory: dir.join(name),
        overwrite: false,
        progress: false,
        ranks: 1,
    };
    let serial = run(&plan, &options("serial")).unwrap();
    let summaries = pm_decomp::ThreadComm::run(2, |comm| {
        run_on(&plan, &options("two"), comm).map(|s| s.snapshots.len())
    })
    .unwrap();
    assert_eq!(
        summaries
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        vec![serial.snapshots.len(), 0]
    );
    for snap in &serial.snapshots {
        let name = snap.file_name().unwrap();
        let a = read_npy2(&snap.join("positions.npy"));
        let b = read_npy2(&dir.join("two").join(name).join("positions.npy"));
        let diff = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| (x - y).abs().min(64.0 - (x - y).abs()))
            .fold(0.0f32, f32::max);
        assert!(diff <= 1e-4, "{name:?}: {diff}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `[lensing]` on 3 thread ranks (`--ranks 3`): every rank projects its own particles and the
/// maps are added in rank order, so the flat and HEALPix maps equal the one-rank maps to
/// 1e-12 in f64 (relative to the largest pixel; the final positions agree to ~1e-15).
#[test]
fn lensing_maps_on_three_ranks_equal_the_one_rank_maps() {
    let dir = scratch("lensing-ranks");
    let config = format!(
        "{TINY}[lensing]\nenabled = true\nsource_z = 0.05\nfov_deg = 20.0\npixels = 32\nnside = 8\n"
    )
    .replace("steps = 3\n", "steps = 3\nprecision = \"f64\"\n");
    std::fs::write(dir.join("lens.toml"), config).unwrap();
    for (ranks, out_dir) in [("1", "one"), ("3", "three")] {
        let out = pm(
            &[
                "run",
                "lens.toml",
                "--output",
                out_dir,
                "--quiet",
                "--ranks",
                ranks,
            ],
            &dir,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rel = |a: &[f64], b: &[f64]| {
        assert_eq!(a.len(), b.len());
        pm_testkit::max_rel_diff(a.iter().copied(), b.iter().copied())
    };
    let flat = |d: &str| {
        let path = dir.join(d).join("lensing/kappa_flat.npy");
        ndarray::Array2::<f64>::read_npy(std::fs::File::open(path).unwrap())
            .unwrap()
            .into_raw_vec_and_offset()
            .0
    };
    let full = |d: &str| {
        let path = dir.join(d).join("lensing/kappa_healpix.fits");
        pm_lensing::fits::read_healpix_map(path).unwrap().1
    };
    let (df, dh) = (
        rel(&flat("three"), &flat("one")),
        rel(&full("three"), &full("one")),
    );
    println!("3 ranks against 1: flat map {df:.1e}, HEALPix map {dh:.1e}");
    assert!(df < 1e-12 && dh < 1e-12, "flat {df:e}, HEALPix {dh:e}");
    let _ = std::fs::remove_dir_all(&dir);
}
