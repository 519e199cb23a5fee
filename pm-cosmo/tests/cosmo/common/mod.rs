//! Helpers shared by the integration tests: the reference cosmologies and vectors in `ref/`.
#![allow(dead_code)]

use pm_cosmo::{Amplitude, Cosmology};
use std::path::PathBuf;

/// Path of a file in `ref/`.
pub fn ref_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("ref")
        .join(name)
}

/// The cosmologies of `ref/cosmologies.json`, by name.
pub fn reference_cosmologies() -> Vec<(String, Cosmology)> {
    let text = std::fs::read_to_string(ref_path("cosmologies.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (name, p) in v.as_object().unwrap() {
        let g = |k: &str| p[k].as_f64().unwrap();
        out.push((
            name.clone(),
            Cosmology {
                omega_c: g("Omega_c"),
                omega_b: g("Omega_b"),
                h: g("h"),
                n_s: g("n_s"),
                amplitude: Amplitude::Sigma8(g("sigma8")),
                w0: g("w0"),
                wa: g("wa"),
                omega_k: g("Omega_k"),
                t_cmb: g("T_cmb"),
                n_eff: g("N_eff"),
                include_radiation: true,
            },
        ));
    }
    out
}

/// Rows of a whitespace-separated numeric table, `#` lines skipped.
pub fn read_table(name: &str) -> Vec<Vec<f64>> {
    std::fs::read_to_string(ref_path(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect()
}
