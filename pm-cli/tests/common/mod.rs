//! What the end-to-end tests of `pm` share: the binary, scratch directories, running it.
//!
//! `PM_TEST_BIN` runs the tests against another `pm` binary (e.g. an older build, to see
//! them fail).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

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
