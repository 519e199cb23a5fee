//! The run directory's guarantees end to end (issue 22, items 1-3 and 7, and the paths a
//! user gives): `pm` never deletes or replaces what it did not write, a rerun that is
//! stopped or killed leaves the earlier run readable, one run per directory, a run too small
//! to plot keeps its snapshot, symbolic links and FIFOs are honoured as the user's paths,
//! and a run killed with SIGKILL at 20 random instants leaves only complete snapshots and
//! reruns to the same bytes.
//!
//! `PM_TEST_BIN` runs these tests against another `pm` binary (e.g. an older build, to see
//! them fail; see `common`); `PM_TEST_PYTHON` names a Python with numpy that the fault-injection test
//! also loads every snapshot with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pm_testkit::SplitMix64;

use crate::common::{TINY, assert_complete, pm, snapshots, spawn, stderr};

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch("rundir", name)
}

/// 32^3 particles, 64^3 mesh, 40 steps, ten snapshots: long enough to stop in the middle.
const LONG: &str = "[simulation]\nbox_size = 64.0\nparticles = 32\nmesh = 64\nsteps = 40\n\
                    [output]\na = [0.19, 0.28, 0.37, 0.46, 0.55, 0.64, 0.73, 0.82, 0.91, 1.0]\n";

/// Every file under `dir` with its bytes, sorted by relative path.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The visible snapshot directories (`a_*`) of a run directory, sorted.
/// Loads every visible snapshot's arrays with numpy when `PM_TEST_PYTHON` names a Python
/// that has it.
fn load_with_numpy(run: &Path) {
    let Some(python) = std::env::var_os("PM_TEST_PYTHON") else {
        return;
    };
    let script = "import glob, json, os, sys, numpy as np\n\
                  for snap in sorted(glob.glob(os.path.join(sys.argv[1], 'a_*'))):\n\
                  \x20   meta = json.load(open(os.path.join(snap, 'meta.json')))\n\
                  \x20   for e in meta['files'].values():\n\
                  \x20       a = np.load(os.path.join(snap, e['file']))\n\
                  \x20       assert list(a.shape) == e['shape'] and a.dtype.name == e['dtype'], snap\n\
                  \x20       assert np.isfinite(a).all(), snap\n";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(run)
        .output()
        .unwrap();
    assert!(out.status.success(), "numpy: {}", stderr(&out));
}

/// Hidden entries left in a run directory other than its manifest and lock.
fn leftovers(run: &Path) -> Vec<String> {
    std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".pm-manifest.json" && n != ".pm-lock")
        .collect()
}

fn wait_for(path: &Path, what: &str) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(t0.elapsed().as_secs() < 120, "no {what} after 120 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Item 1: a run into a directory holding the user's files (a script named like a
/// snapshot, a map inside a directory named `lensing`, a commented `config.toml`) refuses
/// before any work and touches none of them; `--overwrite` writes beside them but still
/// never replaces one that is in the run's way.
#[test]
fn user_files_are_never_deleted_or_replaced() {
    let dir = scratch("user-files");
    let proj = dir.join("proj");
    std::fs::create_dir_all(proj.join("lensing")).unwrap();
    let config = format!(
        "# my commented config\n{TINY}[lensing]\nenabled = true\nsource_z = 0.05\nfov_deg = 20.0\n\
         pixels = 16\nnside = 4\n"
    );
    std::fs::write(proj.join("a_plot.py"), "print('mine')\n").unwrap();
    std::fs::write(proj.join("lensing/mymap.fits"), "m").unwrap();
    std::fs::write(proj.join("config.toml"), &config).unwrap();
    let mine = files(&proj);
    let out = pm(&["run", "config.toml", "--output", ".", "--quiet"], &proj);
    assert!(!out.status.success(), "the run must refuse");
    assert!(
        stderr(&out).contains("holds entries pm did not write (a_plot.py, config.toml, lensing)"),
        "{}",
        stderr(&out)
    );
    assert!(files(&proj) == mine, "the user's files changed");
    // --overwrite: the user's config.toml is in the way of the run's, and refused by name.
    let out = pm(
        &[
            "run",
            "config.toml",
            "--output",
            ".",
            "--quiet",
            "--overwrite",
        ],
        &proj,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("config.toml: pm did not write it and will not replace it"),
        "{}",
        stderr(&out)
    );
    assert!(files(&proj) == mine, "the user's files changed");
    // With the config under another name, the user's `lensing/` is in the way of the maps.
    std::fs::rename(proj.join("config.toml"), proj.join("my.toml")).unwrap();
    let mine = files(&proj);
    let out = pm(
        &["run", "my.toml", "--output", ".", "--quiet", "--overwrite"],
        &proj,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("lensing: pm did not write it"),
        "{}",
        stderr(&out)
    );
    assert!(files(&proj) == mine, "the user's files changed");
    // Without maps, --overwrite writes the run beside the user's entries.
    let plain = config.replace("enabled = true", "enabled = false");
    std::fs::write(proj.join("my.toml"), &plain).unwrap();
    let out = pm(
        &["run", "my.toml", "--output", ".", "--quiet", "--overwrite"],
        &proj,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(proj.join("a_plot.py")).unwrap(),
        "print('mine')\n"
    );
    assert_eq!(
        std::fs::read_to_string(proj.join("lensing/mymap.fits")).unwrap(),
        "m"
    );
    assert_eq!(
        std::fs::read_to_string(proj.join("my.toml")).unwrap(),
        plain
    );
    assert_eq!(snapshots(&proj).len(), 2);
    // A rerun with fewer snapshots removes the earlier run's extra one, nothing else.
    std::fs::write(
        proj.join("my.toml"),
        plain.replace("a = [0.4, 1.0]", "a = [1.0]"),
    )
    .unwrap();
    let out = pm(
        &["run", "my.toml", "--output", ".", "--quiet", "--overwrite"],
        &proj,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(snapshots(&proj), vec![proj.join("a_1.0000")]);
    assert!(proj.join("a_plot.py").exists() && proj.join("lensing/mymap.fits").exists());
    // A file the user put into a snapshot directory of pm's is in the way of its rerun.
    std::fs::write(proj.join("a_1.0000/notes.txt"), "mine").unwrap();
    let out = pm(
        &["run", "my.toml", "--output", ".", "--quiet", "--overwrite"],
        &proj,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("a_1.0000/notes.txt: pm did not write it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(proj.join("a_1.0000/notes.txt")).unwrap(),
        "mine"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Item 2: a rerun into a finished run's directory removes nothing when it starts; stopped
/// (SIGINT) or killed (SIGKILL) part way, it leaves every snapshot complete, the earlier
/// run's snapshots that it had not yet replaced in place, and the earlier `config.toml`
/// and `summary.json`.
#[test]
fn a_stopped_rerun_leaves_the_earlier_run_readable() {
    let dir = scratch("rerun");
    std::fs::write(dir.join("long.toml"), LONG).unwrap();
    let out = pm(&["run", "long.toml", "--output", "run", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = dir.join("run");
    let earlier = files(&run);
    let earlier_snapshots = snapshots(&run);
    assert_eq!(earlier_snapshots.len(), 10);
    // The rerun draws another universe, so a replaced snapshot is told from a kept one.
    std::fs::write(
        dir.join("other.toml"),
        LONG.replace("steps = 40", "steps = 40\nseed = 99"),
    )
    .unwrap();
    for signal in ["-INT", "-KILL"] {
        let child = spawn(&["run", "other.toml", "--output", "run", "--quiet"], &dir);
        // Stop it once it has written its first snapshot (when the earlier first one has
        // been replaced: its meta.json then names seed 99).
        let t0 = Instant::now();
        loop {
            let meta = std::fs::read_to_string(run.join("a_0.1900/meta.json")).unwrap_or_default();
            if meta.contains("\"seed\": 99") {
                break;
            }
            assert!(t0.elapsed().as_secs() < 120, "no new snapshot after 120 s");
            std::thread::sleep(Duration::from_millis(2));
        }
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert!(
            !out.status.success(),
            "{signal}: the rerun must not complete"
        );
        assert_eq!(
            snapshots(&run),
            earlier_snapshots,
            "{signal}: snapshots lost"
        );
        let mut replaced = 0;
        for snap in &earlier_snapshots {
            assert_complete(snap);
            let name = snap.strip_prefix(&run).unwrap();
            let now = files(snap);
            let before: Vec<_> = earlier
                .iter()
                .filter(|(p, _)| p.starts_with(name))
                .map(|(p, b)| (p.strip_prefix(name).unwrap().to_path_buf(), b.clone()))
                .collect();
            if now != before {
                replaced += 1;
            }
        }
        assert!(
            (1..10).contains(&replaced),
            "{signal}: {replaced} of 10 snapshots replaced"
        );
        for name in ["config.toml", "summary.json"] {
            let before = &earlier
                .iter()
                .find(|(p, _)| p == Path::new(name))
                .unwrap()
                .1;
            assert_eq!(
                &std::fs::read(run.join(name)).unwrap(),
                before,
                "{signal}: {name}"
            );
        }
        if signal == "-INT" {
            assert!(leftovers(&run).is_empty(), "{:?}", leftovers(&run));
        }
    }
    // Completed, the rerun is the run of other.toml in every byte (summary.json aside).
    let out = pm(&["run", "other.toml", "--output", "run", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = pm(&["run", "other.toml", "--output", "fresh", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let strip = |v: Vec<(PathBuf, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        v.into_iter()
            .filter(|(p, _)| p != Path::new("summary.json") && p != Path::new(".pm-lock"))
            .collect()
    };
    assert!(strip(files(&run)) == strip(files(&dir.join("fresh"))));
    assert!(leftovers(&run).is_empty(), "{:?}", leftovers(&run));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Item 3: a second run into a directory a run is writing is refused at once, naming the
/// holder; the first run completes undisturbed.
#[test]
fn a_second_run_into_a_busy_directory_is_refused() {
    let dir = scratch("lock");
    std::fs::write(dir.join("long.toml"), LONG).unwrap();
    let first = spawn(&["run", "long.toml", "--output", "run", "--quiet"], &dir);
    wait_for(&dir.join("run/.pm-manifest.json"), "manifest");
    let second = pm(&["run", "long.toml", "--output", "run", "--quiet"], &dir);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let message = stderr(&second);
    assert!(
        message.contains("is in use by another run (pid ")
            && message.contains(&first.id().to_string()),
        "{message}"
    );
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let snaps = snapshots(&dir.join("run"));
    assert_eq!(snaps.len(), 10);
    for snap in &snaps {
        assert_eq!(assert_complete(snap), 2);
    }
    assert!(dir.join("run/config.toml").exists() && dir.join("run/summary.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Item 7: a run of 2^3 particles on a 2^3 mesh with pictures on keeps its snapshot and
/// skips the pictures with a warning.
#[test]
fn a_run_too_small_to_plot_keeps_its_snapshot() {
    let dir = scratch("tiny-plot");
    let config = "[simulation]\nparticles = 2\nmesh = 2\nsteps = 2\n[output]\nplots = true\n";
    std::fs::write(dir.join("two.toml"), config).unwrap();
    let out = pm(&["run", "two.toml", "--output", "run", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    let snaps = snapshots(&dir.join("run"));
    assert_eq!(snaps.len(), 1);
    assert_eq!(assert_complete(&snaps[0]), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Paths the user gives are honoured as paths: a symbolic link is written through (the link
/// stays a link), a FIFO is written in place (not replaced by a regular file), a link to a
/// directory takes the run, and a directory is refused as a file.
#[test]
fn output_paths_are_honoured() {
    use std::os::unix::fs::{FileTypeExt, symlink};
    let dir = scratch("paths");
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    // A run through a link to a directory.
    std::fs::create_dir_all(dir.join("real-run")).unwrap();
    symlink("real-run", dir.join("run")).unwrap();
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(dir.join("run"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(snapshots(&dir.join("real-run")).len(), 2);
    // P(k) through a link to a file: the target gets the CSV.
    std::fs::write(dir.join("target.csv"), "old").unwrap();
    symlink("target.csv", dir.join("link.csv")).unwrap();
    let out = pm(&["power", "run/a_1.0000", "--output", "link.csv"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(dir.join("link.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let csv = std::fs::read_to_string(dir.join("target.csv")).unwrap();
    assert!(csv.starts_with("k,power"), "{csv}");
    // `pm init --force` through a dangling link creates the link's target.
    symlink("made.toml", dir.join("dangling.toml")).unwrap();
    let out = pm(&["init", "dangling.toml", "--force"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("made.toml").is_file());
    assert!(
        std::fs::symlink_metadata(dir.join("dangling.toml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A FIFO is written in place: a reader gets the CSV and the FIFO stays a FIFO.
    let fifo = dir.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = pm(&["power", "run/a_1.0000", "--output", "pipe"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(reader.join().unwrap().starts_with("k,power"));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // /dev/null takes the CSV in place. Not asked of another binary (PM_TEST_BIN): one
    // that replaces the path would replace the machine's /dev/null when run as root.
    if std::env::var_os("PM_TEST_BIN").is_none() {
        let out = pm(&["power", "run/a_1.0000", "--output", "/dev/null"], &dir);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
    // A directory is not a file.
    let out = pm(&["power", "run/a_1.0000", "--output", "real-run"], &dir);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pm reconstruct --output DIR` is held to the same rules: a file of the user's named like
/// one of its results is refused before any work.
#[test]
fn reconstruct_never_replaces_a_users_file() {
    let dir = scratch("reconstruct");
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::create_dir_all(dir.join("rec")).unwrap();
    std::fs::write(dir.join("rec/white_noise.npy"), "mine").unwrap();
    for extra in [&[][..], &["--overwrite"][..]] {
        let mut args = vec!["reconstruct", "run/a_1.0000", "--output", "rec"];
        args.extend_from_slice(extra);
        let out = pm(&args, &dir);
        assert!(!out.status.success(), "{extra:?}");
        assert!(stderr(&out).contains("white_noise.npy"), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(dir.join("rec/white_noise.npy")).unwrap(),
            "mine"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fault-injection test: a run is killed with SIGKILL at 20 random instants, half
/// drawn uniformly over the run's wall time and half just after a snapshot has started to
/// be written, each run a rerun into what the kills before left. After every kill, each
/// visible snapshot is complete (and loads with numpy under `PM_TEST_PYTHON`); the final
/// rerun completes and equals an uninterrupted run in every byte (`summary.json`, which
/// holds timings, and the lock file aside).
#[test]
fn sigkill_at_random_instants_leaves_only_complete_snapshots() {
    let dir = scratch("sigkill");
    let config = "[simulation]\nbox_size = 64.0\nparticles = 32\nmesh = 64\nsteps = 12\n\
                  [output]\na = [0.325, 0.55, 0.7, 0.85, 1.0]\ndensity = true\n";
    std::fs::write(dir.join("c.toml"), config).unwrap();
    let t0 = Instant::now();
    let out = pm(&["run", "c.toml", "--output", "reference", "--quiet"], &dir);
    let wall = t0.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let run = dir.join("run");
    let mut rng = SplitMix64::new(22);
    let (mut early, mut during_write) = (0, 0);
    for kill in 0..20 {
        let mut child = spawn(&["run", "c.toml", "--output", "run", "--quiet"], &dir);
        if kill % 2 == 0 {
            std::thread::sleep(wall.mul_f64(rng.range(0.0, 1.1)));
        } else {
            // Wait for a snapshot being written (a hidden `.a_*.partial`), then a little.
            let t0 = Instant::now();
            while t0.elapsed() < wall * 4 {
                let partial = std::fs::read_dir(&run).into_iter().flatten().any(|e| {
                    let n = e.unwrap().file_name().to_string_lossy().into_owned();
                    n.starts_with(".a_") && n.ends_with(".partial")
                });
                if partial {
                    during_write += 1;
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_micros((rng.uniform() * 5e3) as u64));
        }
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap();
        child.wait().unwrap();
        if !finished {
            early += 1;
        }
        for snap in snapshots(&run) {
            assert_complete(&snap);
        }
        if run.exists() {
            load_with_numpy(&run);
        }
    }
    assert!(early >= 10, "only {early} of 20 kills hit a running run");
    assert!(
        during_write >= 5,
        "only {during_write} kills during a write"
    );
    let out = pm(&["run", "c.toml", "--output", "run", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let strip = |v: Vec<(PathBuf, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        v.into_iter()
            .filter(|(p, _)| p != Path::new("summary.json") && p != Path::new(".pm-lock"))
            .collect()
    };
    let (a, b) = (strip(files(&run)), strip(files(&dir.join("reference"))));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(a == b, "the rerun differs from the uninterrupted run");
    assert!(leftovers(&run).is_empty(), "{:?}", leftovers(&run));
    let _ = std::fs::remove_dir_all(&dir);
}
