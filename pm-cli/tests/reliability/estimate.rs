//! The resource estimate end to end (issue 22, item 5): sizes beyond the machine are refused
//! before any work, with the estimate, the limit and the key to change, instead of aborting
//! (exit 134) or panicking (exit 101); nothing is created in the output directory;
//! `--max-memory` replaces the available memory as the limit; `pm validate` prints the
//! estimate; the small-box full-sky lightcone is refused before it starts.
//!
//! `PM_TEST_BIN` runs these tests against another `pm` binary (e.g. an older build, to see
//! them fail). Every `pm` here runs under `ulimit -v` (4 GB of address space) and a time
//! limit, so that a binary without the estimate fails the test instead of taking the
//! machine's memory.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::common::{pm_limited, stderr, stdout};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-estimate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pm(args: &[&str], cwd: &Path) -> Output {
    pm_limited(args, cwd, Duration::from_secs(120))
}

/// Exit status 1 (a refusal), not an abort (134), a panic (101) or a signal.
fn assert_refused(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1, got {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// 16^3 particles, 32^3 mesh, 2 steps: a fraction of a second.
const TINY: &str = "[simulation]\nbox_size = 64.0\nparticles = 16\nmesh = 32\nsteps = 2\n\
                    [output]\nplots = false\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn particles_100000_are_refused_before_any_work() {
    let dir = scratch("particles");
    write(&dir, "big.toml", "[simulation]\nparticles = 100000\n");
    let out = pm(&["run", "big.toml", "--output", "out"], &dir);
    assert_refused(&out, "particles = 100000");
    let err = stderr(&out);
    assert!(err.contains("simulation.particles"), "{err}");
    assert!(err.contains("--max-memory"), "{err}");
    assert!(err.contains("PB"), "the estimate is given: {err}");
    assert!(!dir.join("out").exists(), "nothing created");
    // validate checks the config, prints the estimate and says the run would be refused.
    let out = pm(&["validate", "big.toml"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("estimate: peak memory"), "{text}");
    assert!(text.contains("would be refused"), "{text}");
    assert!(text.contains("simulation.particles"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mesh_1048576_is_an_error_naming_the_key() {
    let dir = scratch("mesh");
    write(&dir, "big.toml", "[simulation]\nmesh = 1048576\n");
    let out = pm(&["run", "big.toml", "--output", "out"], &dir);
    assert_refused(&out, "mesh = 1048576");
    assert!(stderr(&out).contains("simulation.mesh"), "{}", stderr(&out));
    assert!(!dir.join("out").exists(), "nothing created");
    let out = pm(&["validate", "big.toml"], &dir);
    assert_refused(&out, "validate mesh = 1048576");
    assert!(stderr(&out).contains("simulation.mesh"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn validate_prints_the_estimate() {
    let dir = scratch("validate");
    write(&dir, "tiny.toml", TINY);
    let out = pm(&["validate", "tiny.toml"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("valid"), "{text}");
    assert!(text.contains("estimate: peak memory about"), "{text}");
    assert!(text.contains("MB"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn max_memory_sets_the_limit() {
    let dir = scratch("max-memory");
    write(&dir, "tiny.toml", TINY);
    let out = pm(
        &["run", "tiny.toml", "--output", "out", "--max-memory", "1M"],
        &dir,
    );
    assert_refused(&out, "--max-memory 1M");
    let err = stderr(&out);
    assert!(err.contains("allowed by --max-memory"), "{err}");
    assert!(err.contains("simulation.particles"), "{err}");
    assert!(!dir.join("out").exists(), "nothing created");
    for bad in ["garbage", "nan", "-1", "0", "inf", "12X"] {
        let out = pm(
            &["run", "tiny.toml", "--output", "out", "--max-memory", bad],
            &dir,
        );
        assert_refused(&out, bad);
        assert!(
            stderr(&out).contains("--max-memory"),
            "{bad}: {}",
            stderr(&out)
        );
        assert!(!dir.join("out").exists(), "nothing created");
    }
    // Raised, it lets the run go.
    let out = pm(
        &[
            "run",
            "tiny.toml",
            "--output",
            "out",
            "--quiet",
            "--max-memory",
            "1.5GiB",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.join("out/a_1.0000").is_dir());
    // grad-check takes it too.
    let out = pm(&["grad-check", "tiny.toml", "--max-memory", "1M"], &dir);
    assert_refused(&out, "grad-check --max-memory 1M");
    assert!(stderr(&out).contains("simulation.mesh"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).ok();
}

/// A tiny run's snapshot, for `pm power` and `pm reconstruct`.
fn snapshot(dir: &Path) -> PathBuf {
    write(dir, "tiny.toml", TINY);
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir.join("run/a_1.0000")
}

#[test]
fn power_mesh_too_large_is_refused() {
    let dir = scratch("power");
    let snap = snapshot(&dir);
    let snap = snap.to_str().unwrap();
    let out = pm(&["power", snap, "--mesh", "1048576"], &dir);
    assert_refused(&out, "power --mesh 1048576");
    assert!(stderr(&out).contains("--mesh"), "{}", stderr(&out));
    let out = pm(
        &[
            "power",
            snap,
            "--mesh",
            "4096",
            "--max-memory",
            "1G",
            "--output",
            "p.csv",
        ],
        &dir,
    );
    assert_refused(&out, "power --mesh 4096");
    assert!(stderr(&out).contains("--mesh"), "{}", stderr(&out));
    assert!(!dir.join("p.csv").exists());
    let out = pm(&["power", snap, "--mesh", "16"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reconstruct_too_large_is_refused() {
    let dir = scratch("reconstruct");
    let snap = snapshot(&dir);
    let snap = snap.to_str().unwrap();
    let out = pm(
        &["reconstruct", snap, "--mesh", "1048576", "--output", "rec"],
        &dir,
    );
    assert_refused(&out, "reconstruct --mesh 1048576");
    assert!(stderr(&out).contains("--mesh"), "{}", stderr(&out));
    assert!(!dir.join("rec").exists(), "nothing created");
    let out = pm(
        &[
            "reconstruct",
            snap,
            "--mesh",
            "2048",
            "--output",
            "rec",
            "--max-memory",
            "2G",
        ],
        &dir,
    );
    assert_refused(&out, "reconstruct --mesh 2048");
    let err = stderr(&out);
    assert!(
        err.contains("--mesh") && err.contains("--max-memory"),
        "{err}"
    );
    assert!(!dir.join("rec").exists(), "nothing created");
    std::fs::remove_dir_all(&dir).ok();
}

/// The small-box full-sky lightcone: 32^3 particles in 64 Mpc/h, HEALPix nside 8, sources
/// at the default z = 0.5 (1.2e9 crossings over 5e4 box replicas).
const FULL_SKY: &str = "[simulation]\nbox_size = 64.0\nparticles = 32\nmesh = 64\n\
                        [lensing]\nenabled = true\nfov_deg = 0.0\nnside = 8\n";

#[test]
fn small_box_full_sky_lightcone_is_refused() {
    let dir = scratch("lensing");
    write(&dir, "cone.toml", FULL_SKY);
    let out = pm(&["run", "cone.toml", "--output", "out"], &dir);
    assert_refused(&out, "small-box full sky");
    let err = stderr(&out);
    for key in [
        "lensing.source_z",
        "simulation.box_size",
        "crossings",
        "--max-crossings",
    ] {
        assert!(err.contains(key), "{key} not in: {err}");
    }
    assert!(!dir.join("out").exists(), "nothing created");
    // Forced past the crossings, the memory of the maps and of the deposits the
    // projection holds at once (bounded: tens of MB) is still part of the estimate.
    let out = pm(
        &[
            "run",
            "cone.toml",
            "--output",
            "out",
            "--max-crossings",
            "1e12",
            "--max-memory",
            "40M",
        ],
        &dir,
    );
    assert_refused(&out, "small-box full sky, --max-crossings 1e12");
    let err = stderr(&out);
    assert!(
        err.contains("lensing") && err.contains("--max-memory"),
        "{err}"
    );
    assert!(!dir.join("out").exists(), "nothing created");
    // validate reports the replicas and crossings and that the run would be refused.
    let out = pm(&["validate", "cone.toml"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("box replicas") && text.contains("crossings"),
        "{text}"
    );
    assert!(text.contains("would be refused"), "{text}");
    for bad in ["nan", "-1", "many"] {
        let out = pm(
            &[
                "run",
                "cone.toml",
                "--output",
                "out",
                "--max-crossings",
                bad,
            ],
            &dir,
        );
        assert_refused(&out, bad);
        assert!(stderr(&out).contains("--max-crossings"), "{}", stderr(&out));
    }
    std::fs::remove_dir_all(&dir).ok();
}
