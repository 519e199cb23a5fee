//! A property test over random configurations (issue 22): keys drawn from the real ones,
//! values in range, at the edges and far out of range (0, negative, NaN, infinities, 1e300,
//! i64::MAX, wrong types). `pm validate` either accepts a config and `pm run` then succeeds
//! or refuses with an error naming a key, or `pm validate` refuses it with an error naming a
//! key. Never a panic (exit 101), an abort (134) or a signal.
//!
//! Sizes that validate are tiny by construction or far too large (refused by the estimate
//! under `--max-memory 256M`); lightcones beyond 1e6 crossings are refused by
//! `--max-crossings`, so each run takes about a second. `PM_TEST_BIN` runs another binary.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// `pm args` in `cwd` with at most 4 GB of address space, killed after 60 s.
fn pm(args: &[&str], cwd: &Path) -> Output {
    crate::common::pm_limited(args, cwd, Duration::from_secs(60))
}

use proptest::prelude::*;

/// A key and the TOML values it may take (`None`: the key is left out).
type Key = (&'static str, &'static str, &'static [&'static str]);

/// `(section, key, values)`: in-range values first, then edges and out-of-range ones.
const KEYS: &[Key] = &[
    (
        "cosmology",
        "preset",
        &["\"planck18\"", "\"eds\"", "\"nope\"", "3"],
    ),
    (
        "cosmology",
        "power_spectrum",
        &["\"eisenstein_hu\"", "\"missing.txt\"", "\"\""],
    ),
    (
        "cosmology",
        "Omega_c",
        &["0.26", "0.0", "-1.0", "nan", "inf", "1e300", "\"x\""],
    ),
    (
        "cosmology",
        "sigma8",
        &["0.8", "0.0", "-0.5", "nan", "-inf", "1e300"],
    ),
    ("cosmology", "h", &["0.7", "0.0", "1e-300", "1e300", "nan"]),
    ("cosmology", "w0", &["-1.0", "0.0", "-1e300", "nan"]),
    (
        "simulation",
        "box_size",
        &["64.0", "1e-300", "0.0", "-1.0", "nan", "inf", "1e300"],
    ),
    (
        "simulation",
        "particles",
        &[
            "8",
            "16",
            "0",
            "1",
            "3",
            "-4",
            "100000",
            "9223372036854775807",
            "16.5",
        ],
    ),
    (
        "simulation",
        "mesh",
        &["16", "32", "0", "7", "1048576", "9223372036854775807", "-2"],
    ),
    (
        "simulation",
        "seed",
        &["1", "0", "9223372036854775807", "-1"],
    ),
    ("simulation", "lpt_order", &["1", "2", "0", "3", "-1"]),
    (
        "simulation",
        "stepper",
        &["\"fastpm\"", "\"cola\"", "\"leapfrog\"", "\"rk4\""],
    ),
    (
        "simulation",
        "a_start",
        &["0.1", "0.5", "0.0", "-0.1", "nan", "1e-300", "2.0", "inf"],
    ),
    (
        "simulation",
        "a_end",
        &["1.0", "0.5", "0.0", "nan", "inf", "1e300"],
    ),
    (
        "simulation",
        "steps",
        &["1", "2", "0", "-1", "9223372036854775807", "2000000"],
    ),
    (
        "simulation",
        "schedule",
        &["\"linear_a\"", "\"log_a\"", "\"cubic\""],
    ),
    (
        "simulation",
        "scale_factors",
        &[
            "[0.1, 0.5, 1.0]",
            "[]",
            "[1.0, 0.5]",
            "[0.1, nan]",
            "[0.0, 1.0]",
        ],
    ),
    (
        "simulation",
        "precision",
        &["\"f32\"", "\"f64\"", "\"f16\""],
    ),
    ("simulation", "threads", &["0", "1", "5000", "-1"]),
    (
        "force",
        "kernel",
        &["\"fastpm\"", "\"naive\"", "\"sharpened\"", "\"x\""],
    ),
    (
        "force",
        "sharpen",
        &[
            "[0.0, 0.0, 0.0]",
            "[1.0, 2.0, 0.5]",
            "[nan, 0.0, 0.0]",
            "[1e300, 1e300, 1e300]",
        ],
    ),
    (
        "force",
        "scheme",
        &["\"cic\"", "\"ngp\"", "\"tsc\"", "\"pcs\""],
    ),
    ("force", "compensate", &["true", "false", "1"]),
    (
        "output",
        "a",
        &[
            "[1.0]",
            "[0.5, 1.0]",
            "[nan]",
            "[]",
            "[1e300]",
            "[1.0, 1.0]",
        ],
    ),
    ("output", "plots", &["false", "true"]),
    ("output", "density", &["true", "false"]),
    ("output", "directory", &["\"\"", "\"elsewhere\""]),
    ("lensing", "enabled", &["true", "false"]),
    (
        "lensing",
        "source_z",
        &["0.5", "0.05", "0.0", "-1.0", "nan", "25.0", "1e300"],
    ),
    (
        "lensing",
        "fov_deg",
        &["5.0", "0.0", "-1.0", "200.0", "nan", "1e300"],
    ),
    (
        "lensing",
        "pixels",
        &["16", "0", "1", "1000000000", "9223372036854775807"],
    ),
    (
        "lensing",
        "nside",
        &["0", "2", "3", "1099511627776", "9223372036854775807"],
    ),
    (
        "lensing",
        "observer",
        &["[32.0, 32.0, 32.0]", "[nan, 0.0, 0.0]", "[1e300, 0.0, 0.0]"],
    ),
    (
        "lensing",
        "line_of_sight",
        &["[1.0, 0.37, 0.21]", "[0.0, 0.0, 0.0]", "[nan, 1.0, 0.0]"],
    ),
];

/// The keys of a config as a refusal names them (`section.key`), and the options a
/// refusal may name instead: a refusal must name one of them. (Bare key names such as
/// `a` or `h` would match almost any message.)
fn named_keys() -> Vec<String> {
    let mut names: Vec<String> = KEYS.iter().map(|(s, k, _)| format!("{s}.{k}")).collect();
    names.extend(["--max-memory".into(), "--max-crossings".into()]);
    names
}

/// A config: each key left out (index 0 of the choice) or set to one of its values. The
/// sizes default to tiny ones (8^3 particles, 16^3 mesh, 2 steps), so that what validates
/// runs in about a second unless a drawn size is far too large.
fn config() -> impl Strategy<Value = String> {
    let choices: Vec<_> = KEYS
        .iter()
        .map(|(_, _, values)| {
            // Mostly left out or in range, so that about a third of the configs validate
            // and run; otherwise any value (about three per config).
            prop_oneof![
                8 => Just(None),
                4 => Just(Some(0usize)),
                1 => (0..values.len()).prop_map(Some),
            ]
        })
        .collect();
    choices.prop_map(|picks| {
        let mut sections: Vec<(&str, Vec<String>)> = Vec::new();
        for (s, _, _) in KEYS {
            if !sections.iter().any(|(name, _)| name == s) {
                sections.push((s, Vec::new()));
            }
        }
        let defaults = [
            ("simulation", "particles", "8"),
            ("simulation", "mesh", "16"),
            ("simulation", "steps", "2"),
            ("simulation", "box_size", "64.0"),
            ("output", "plots", "false"),
            ("lensing", "pixels", "16"),
        ];
        for ((section, key, values), pick) in KEYS.iter().zip(picks) {
            let value = match pick {
                Some(i) => values[i],
                None => match defaults.iter().find(|(s, k, _)| s == section && k == key) {
                    Some((_, _, v)) => v,
                    None => continue,
                },
            };
            let lines = &mut sections.iter_mut().find(|(s, _)| s == section).unwrap().1;
            lines.push(format!("{key} = {value}"));
        }
        let mut text = String::new();
        for (section, lines) in sections {
            text.push_str(&format!("[{section}]\n{}\n", lines.join("\n")));
        }
        text
    })
}

/// Exit 0 or 1, never a panic, an abort, a kill or a time-out.
fn assert_clean_exit(out: &Output, what: &str, config: &str) {
    let code = out.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "{what}: exit {:?} (not 0 or 1)\nconfig:\n{config}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_names_a_key(out: &Output, what: &str, config: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        named_keys().iter().any(|k| err.contains(k.as_str())),
        "{what}: the refusal names no key\nconfig:\n{config}\nstderr: {err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn validate_accepts_and_runs_or_refuses_naming_a_key(text in config()) {
        let dir = std::env::temp_dir().join(format!(
            "pm-config-props-{}-{}",
            std::process::id(),
            text.len() ^ text.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cfg.toml"), &text).unwrap();
        let validate = pm(&["validate", "cfg.toml"], &dir);
        assert_clean_exit(&validate, "pm validate", &text);
        if validate.status.code() == Some(1) {
            assert_names_a_key(&validate, "pm validate", &text);
            if std::env::var_os("PM_PROPS_VERBOSE").is_some() {
                eprintln!("validate refused: {}", String::from_utf8_lossy(&validate.stderr).lines().next().unwrap_or(""));
            }
        } else {
            let run = pm(
                &[
                    "run", "cfg.toml", "--output", "out", "--quiet",
                    "--max-memory", "256M", "--max-crossings", "1e6",
                ],
                &dir,
            );
            assert_clean_exit(&run, "pm run", &text);
            if run.status.code() == Some(1) {
                assert_names_a_key(&run, "pm run", &text);
                // A refusal leaves nothing behind.
                prop_assert!(!dir.join("out").exists() || !String::from_utf8_lossy(&run.stderr).contains("refused"));
            } else {
                prop_assert!(dir.join("out/summary.json").is_file());
            }
            if std::env::var_os("PM_PROPS_VERBOSE").is_some() {
                eprintln!("run exit {:?}: {}", run.status.code(), String::from_utf8_lossy(&run.stderr).lines().next().unwrap_or(""));
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
