//! No panic reaches the user (issue 22): a closed pipe or a full disk on standard output,
//! a snapshot whose arrays do not match its `meta.json`, and numeric options that are NaN,
//! negative or zero all end with a message naming what is wrong and status 1 (141, quietly,
//! for a closed pipe, as for any writer that `head` stops), never a panic's 101 or an abort.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{TINY, assert_refused, pm, pm_bin, scratch, stderr};

/// A finished tiny run in `dir/run`; returns its last snapshot.
fn tiny_run(dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    let out = pm(&["run", "tiny.toml", "--output", "run", "--quiet"], dir);
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join("run/a_1.0000")
}

#[test]
fn a_closed_pipe_or_a_full_disk_on_stdout_is_not_a_panic() {
    let dir = scratch("no-panic", "stdout");
    let snap = tiny_run(&dir);
    let snap = snap.to_str().unwrap();
    // No reader at all: the pipe's read end is closed before pm starts, so its first write
    // fails with EPIPE (SIGPIPE is ignored by the Rust runtime). pm ends quietly with 141,
    // as a C tool killed by SIGPIPE would.
    for args in [vec!["power", snap], vec!["info", snap]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(pm_bin())
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    // A full disk is reported.
    for args in [
        vec!["power", snap],
        vec!["info", snap],
        vec!["validate", "tiny.toml"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(pm_bin())
            .args(&args)
            .current_dir(&dir)
            .stdout(full)
            .output()
            .unwrap();
        assert_refused(&out, "could not write to standard output");
    }
}

/// Edits `meta.json` of a copy of `snap` with `edit`, then checks that `pm power`,
/// `pm reconstruct` and (for a `meta.json` wrong in itself) `pm info` refuse it with a
/// message containing `needle`.
fn refused_after(snap: &Path, name: &str, needle: &str, edit: impl Fn(&mut serde_json::Value)) {
    let info = name != "shape"; // `pm info` reads no array
    let dir = snap.parent().unwrap().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    for e in std::fs::read_dir(snap).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let meta_path = dir.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    edit(&mut meta);
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let d = dir.to_str().unwrap();
    let out_dir = format!("{d}-reconstruction");
    let mut commands = vec![
        vec!["power", d],
        vec![
            "reconstruct",
            d,
            "--schedule",
            "1:0.5:1:0.01",
            "--output",
            &out_dir,
        ],
    ];
    if info {
        commands.push(vec!["info", d]);
    }
    for args in commands {
        let out = pm(&args, snap.parent().unwrap());
        assert_refused(&out, needle);
    }
    assert!(!Path::new(&out_dir).exists(), "{out_dir} written");
}

#[test]
fn a_snapshot_that_does_not_match_its_meta_json_is_refused() {
    let dir = scratch("no-panic", "meta");
    let snap = tiny_run(&dir);
    // More particles than the arrays hold (read silently before).
    refused_after(&snap, "more", "files.", |m| m["particles"] = 32.into());
    // A count whose cube overflows (an abort allocating 2 TB before).
    refused_after(&snap, "overflow", "particles = 1000000000000", |m| {
        m["particles"] = 1_000_000_000_000u64.into()
    });
    // A mesh whose cube overflows (an overflow panic in the density before).
    refused_after(&snap, "mesh", "mesh = 1000000000", |m| {
        m["mesh"] = 1_000_000_000u64.into()
    });
    // Arrays and counts edited together: the file is too short for what meta.json
    // promises, refused before any allocation.
    refused_after(&snap, "shape", "cannot hold", |m| {
        m["particles"] = 100.into();
        for role in ["positions", "momenta"] {
            m["files"][role]["shape"] = serde_json::json!([1_000_000u64, 3]);
        }
    });
    // A dtype that is not the file's.
    refused_after(&snap, "dtype", "float64", |m| {
        for role in ["positions", "momenta"] {
            m["files"][role]["dtype"] = "float64".into();
        }
    });
    refused_after(&snap, "box", "box_size", |m| m["box_size"] = (-1.0).into());
}

/// A `.npy` header declaring `shape` over a few bytes of data.
fn hostile_npy(path: &Path, descr: &str, shape: &str) {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (dict.len() + 11) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((dict.len() as u16).to_le_bytes());
    bytes.extend(dict.as_bytes());
    bytes.extend([0u8; 96]);
    std::fs::write(path, bytes).unwrap();
}

/// A `.npy` header that asks for more memory than exists (8 PB of white noise; a
/// snapshot whose positions header claims 10^12 rows) is refused from the header, where
/// the reader used to abort allocating it.
#[test]
fn a_npy_header_asking_for_petabytes_is_refused() {
    let dir = scratch("no-panic", "npy");
    hostile_npy(&dir.join("noise.npy"), "<f8", "(100000, 100000, 100000)");
    std::fs::write(
        dir.join("noise.toml"),
        "[simulation]\nparticles = 16\nmesh = 16\nbox_size = 64.0\nsteps = 2\n\
         white_noise = \"noise.npy\"\n",
    )
    .unwrap();
    let out = pm(&["run", "noise.toml", "--output", "run", "-q"], &dir);
    assert_refused(&out, "shape [100000, 100000, 100000]");
    assert!(!dir.join("run").exists());

    let snap = tiny_run(&dir);
    hostile_npy(&snap.join("positions.npy"), "<f4", "(1000000000000, 3)");
    let padding = vec![0u8; 16 * 16 * 16 * 12];
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(snap.join("positions.npy"))
        .unwrap();
    std::io::Write::write_all(&mut f, &padding).unwrap();
    let out = pm(&["power", snap.to_str().unwrap()], &dir);
    assert_refused(&out, "shape [1000000000000, 3]");
}

#[test]
fn nan_negative_and_zero_options_are_refused() {
    let dir = scratch("no-panic", "options");
    let snap = tiny_run(&dir);
    let snap = snap.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["grad-check", "tiny.toml", "--tolerance", "nan"],
            "--tolerance",
        ),
        (
            vec!["grad-check", "tiny.toml", "--tolerance=-1"],
            "--tolerance",
        ),
        (vec!["power", snap, "--mesh", "0"], "--mesh"),
        (vec!["reconstruct", snap, "--mesh", "0"], "--mesh"),
        (
            vec!["reconstruct", snap, "--schedule", "1:nan:1:0.01"],
            "sigma",
        ),
        (
            vec!["reconstruct", snap, "--schedule", "1:0.5:-1:0.01"],
            "smoothing",
        ),
        (
            vec!["reconstruct", snap, "--schedule", "1:0.5:1:inf"],
            "learning rate",
        ),
        (vec!["run", "tiny.toml", "--ranks", "0"], "ranks"),
    ] {
        let out = pm(&args, &dir);
        assert_refused(&out, needle);
    }
    assert!(!dir.join("pm-reconstruction").exists());
}

/// Lensing keys that used to panic in the run after `pm validate` called them valid: a NaN
/// field of view (taken as "no flat map", then no map at all), a negative one (silently no
/// flat map), and a pixel count whose square overflows.
#[test]
fn lensing_values_that_panicked_are_refused_by_validate() {
    let dir = scratch("no-panic", "lensing");
    for (line, needle) in [
        ("fov_deg = nan", "lensing.fov_deg"),
        ("fov_deg = -5.0", "lensing.fov_deg"),
        ("pixels = 4000000000", "lensing.pixels"),
    ] {
        let config = format!(
            "[simulation]\nparticles = 8\nmesh = 8\nbox_size = 64.0\nsteps = 2\n\
             [lensing]\nenabled = true\nsource_z = 0.05\n{line}\n"
        );
        std::fs::write(dir.join("l.toml"), config).unwrap();
        assert_refused(&pm(&["validate", "l.toml"], &dir), needle);
        assert_refused(
            &pm(&["run", "l.toml", "--output", "run", "-q"], &dir),
            needle,
        );
        assert!(!dir.join("run").exists(), "{line}");
    }
}

/// Values `pm validate` called valid whose run then failed (without naming a key, after
/// making the output directory) or aborted: a start before the growth table (a = 1e-300),
/// a box so small that P(k) overflows (NaN positions), a billion steps (an 8 GB list of
/// step boundaries, aborted). Each is now refused by validate, naming the key.
#[test]
fn values_whose_run_failed_are_refused_by_validate() {
    let dir = scratch("no-panic", "extremes");
    for (line, needle) in [
        ("a_start = 1e-300", "simulation.a_start"),
        ("scale_factors = [1e-9, 1.0]", "simulation.scale_factors"),
        ("a_end = 1e300", "simulation.a_end"),
        ("box_size = 1e-300", "simulation.box_size"),
        ("steps = 1000000000", "simulation.steps"),
    ] {
        let config = format!("[simulation]\nparticles = 8\nmesh = 8\n{line}\n");
        std::fs::write(dir.join("e.toml"), config).unwrap();
        assert_refused(&pm(&["validate", "e.toml"], &dir), needle);
    }
}
