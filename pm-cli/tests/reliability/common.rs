//! What the end-to-end tests of `pm` share: the binary, scratch directories, running it.
//!
//! `PM_TEST_BIN` runs the tests against another `pm` binary (e.g. an older build, to see
//! them fail).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;

/// The `pm` under test: `PM_TEST_BIN`, else the one cargo built.
pub fn pm_bin() -> PathBuf {
    std::env::var_os("PM_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pm")))
}

/// A fresh scratch directory `pm-<suite>-<pid>-<name>` for one test.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `pm args` in `cwd` to completion.
pub fn pm(args: &[&str], cwd: &Path) -> Output {
    Command::new(pm_bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the pm binary runs")
}

/// Starts `pm args` in `cwd`, stdout discarded, stderr piped.
pub fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(pm_bin())
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pm binary runs")
}

/// The standard error of a finished `pm`.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// 16^3 particles, 32^3 mesh, 3 steps, two snapshots: a fraction of a second.
pub const TINY: &str = "[simulation]\nbox_size = 64.0\nparticles = 16\nmesh = 32\nseed = 7\n\
                        steps = 3\n[output]\na = [0.4, 1.0]\ndensity = true\n";

/// Asserts that `out` ended with an error status of its own (not a panic's 101, not an
/// abort or a signal) and that its message contains `needle`.
pub fn assert_refused(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit status, stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// Runs `pm args` in `cwd` with at most 4 GB of address space, killed after `limit`: a
/// binary that would allocate without bound (an older one, under `PM_TEST_BIN`) fails the
/// test instead of taking the machine's memory.
pub fn pm_limited(args: &[&str], cwd: &Path, limit: Duration) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000 && exec \"$0\" \"$@\"")
        .arg(pm_bin())
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            child.kill().ok();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

/// The standard output of a finished `pm`.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The visible snapshot directories (`a_*`) of a run directory, sorted.
pub fn snapshots(run: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(run)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("a_"))
        .collect();
    out.sort();
    out
}

/// Checks that `snap` is a complete snapshot: `meta.json` parses, and every array it lists
/// exists and reads as a `.npy` of its dtype and shape. Returns the arrays checked.
pub fn assert_complete(snap: &Path) -> usize {
    let text = std::fs::read_to_string(snap.join("meta.json"))
        .unwrap_or_else(|e| panic!("{}: meta.json: {e}", snap.display()));
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = meta["files"]
        .as_object()
        .expect("meta.json lists its files");
    for entry in entries.values() {
        let path = snap.join(entry["file"].as_str().unwrap());
        let shape: Vec<usize> = entry["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let read_shape = match entry["dtype"].as_str().unwrap() {
            "float32" => ArrayD::<f32>::read_npy(file).map(|a| a.shape().to_vec()),
            _ => ArrayD::<f64>::read_npy(file).map(|a| a.shape().to_vec()),
        }
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(read_shape, shape, "{}", path.display());
    }
    entries.len()
}
