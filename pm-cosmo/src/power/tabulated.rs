//! A tabulated linear power spectrum, as CAMB or CLASS write it, with log-log interpolation.
//!
//! File format (what CAMB's `*_matterpower.dat` and CLASS's `*_pk.dat` look like):
//! - plain text, one row per line, fields separated by any whitespace;
//! - column 1 is k in h/Mpc, column 2 is P(k) in (Mpc/h)^3 (at a = 1, or at whatever epoch
//!   the caller means);
//! - further columns are allowed and ignored (not even parsed), so files with, e.g., an error
//!   or a second spectrum beside P load as is;
//! - lines that are empty or whose first non-blank character is `#` are skipped (CAMB and
//!   CLASS write their headers that way);
//! - k must be finite, > 0 and strictly increasing; P must be finite and > 0 (log
//!   interpolation needs ln P, so P = 0 is rejected too); at least 2 rows.
//!
//! Every violation is a [`CosmoError::MalformedTable`] naming the file and the one-based line
//! (for "fewer than 2 rows", the last line of the file); a file that cannot be read is
//! [`CosmoError::Io`].
//!
//! Between rows, ln P is linear in ln k (a power law on each interval), so a pure power law is
//! reproduced exactly (to rounding). Outside [k_min, k_max] nothing is extrapolated:
//! [`TabulatedPower::power`] returns [`CosmoError::WavenumberOutOfRange`], and
//! [`TabulatedPower::check_range`] lets a caller check its whole k range once, up front.

use std::path::Path;

use crate::error::{CosmoError, Result};

/// A P(k) table: k in h/Mpc (strictly increasing, > 0) and P in (Mpc/h)^3 (> 0).
///
/// ```
/// use pm_cosmo::power::TabulatedPower;
/// let t = TabulatedPower::parse("# k P\n0.01 100\n0.1 10\n1.0 1\n", "example").unwrap();
/// assert!((t.power(0.031622776601683794).unwrap() - 31.622776601683793).abs() < 1e-10);
/// assert!(t.power(2.0).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TabulatedPower {
    source_name: String,
    k: Vec<f64>,
    p: Vec<f64>,
    ln_k: Vec<f64>,
    ln_p: Vec<f64>,
}

impl TabulatedPower {
    /// Reads a table file (see the module documentation for the format).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| CosmoError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses table text; `source_name` names it in error messages (a file name, or e.g.
    /// `<memory>`).
    pub fn parse(text: &str, source_name: &str) -> Result<Self> {
        let bad = |line: usize, message: String| CosmoError::MalformedTable {
            source_name: source_name.to_string(),
            line,
            message,
        };
        let mut rows = Vec::new();
        let mut n_lines = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            n_lines = line;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut fields = trimmed.split_whitespace();
            let mut next = |what: &str| -> Result<f64> {
                let f = fields.next().ok_or_else(|| {
                    bad(
                        line,
                        format!("found 1 column, need 2 (k [h/Mpc] and P [(Mpc/h)^3]); no {what}"),
                    )
                })?;
                f.parse::<f64>()
                    .map_err(|_| bad(line, format!("{what} field '{f}' is not a number")))
            };
            let k = next("k")?;
            let p = next("P")?;
            rows.push((line, k, p));
        }
        Self::from_rows(rows, n_lines, source_name)
    }

    /// A table from vectors of k (h/Mpc) and P ((Mpc/h)^3); errors name the one-based row.
    pub fn new(k: Vec<f64>, p: Vec<f64>) -> Result<Self> {
        let source_name = "<memory>";
        if k.len() != p.len() {
            return Err(CosmoError::MalformedTable {
                source_name: source_name.into(),
                line: k.len().min(p.len()) + 1,
                message: format!("{} values of k but {} of P", k.len(), p.len()),
            });
        }
        let n = k.len();
        let rows = k
            .into_iter()
            .zip(p)
            .enumerate()
            .map(|(i, (k, p))| (i + 1, k, p))
            .collect();
        Self::from_rows(rows, n, source_name)
    }

    fn from_rows(rows: Vec<(usize, f64, f64)>, n_lines: usize, source_name: &str) -> Result<Self> {
        let bad = |line: usize, message: String| CosmoError::MalformedTable {
            source_name: source_name.to_string(),
            line,
            message,
        };
        let mut prev: Option<f64> = None;
        for &(line, k, p) in &rows {
            if !(k.is_finite() && k > 0.0) {
                return Err(bad(line, format!("k = {k} must be finite and > 0")));
            }
            if !(p.is_finite() && p > 0.0) {
                return Err(bad(
                    line,
                    format!("P = {p} must be finite and > 0 (the table is interpolated in ln P)"),
                ));
            }
            if let Some(kp) = prev
                && k <= kp
            {
                return Err(bad(
                    line,
                    format!("k = {k} does not increase (previous row has k = {kp})"),
                ));
            }
            prev = Some(k);
        }
        if rows.len() < 2 {
            return Err(bad(
                n_lines,
                format!("{} data row(s); a table needs at least 2", rows.len()),
            ));
        }
        let k: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let p: Vec<f64> = rows.iter().map(|r| r.2).collect();
        Ok(TabulatedPower {
            source_name: source_name.to_string(),
            ln_k: k.iter().map(|x| x.ln()).collect(),
            ln_p: p.iter().map(|x| x.ln()).collect(),
            k,
            p,
        })
    }

    /// The name used in error messages (the file path, or `<memory>`).
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Tabulated wavenumbers, h/Mpc.
    pub fn k(&self) -> &[f64] {
        &self.k
    }

    /// Tabulated power, (Mpc/h)^3.
    pub fn p(&self) -> &[f64] {
        &self.p
    }

    /// (k_min, k_max) of the table, h/Mpc.
    pub fn k_range(&self) -> (f64, f64) {
        (self.k[0], self.k[self.k.len() - 1])
    }

    fn out_of_range(&self, k: f64) -> CosmoError {
        let (min, max) = self.k_range();
        CosmoError::WavenumberOutOfRange {
            source_name: format!(" from {}", self.source_name),
            k,
            min,
            max,
        }
    }

    /// Errors with [`CosmoError::WavenumberOutOfRange`] (naming the first offending end)
    /// unless the table covers [k_min, k_max] (h/Mpc).
    pub fn check_range(&self, k_min: f64, k_max: f64) -> Result<()> {
        let (lo, hi) = self.k_range();
        if k_min.is_nan() || k_min < lo {
            return Err(self.out_of_range(k_min));
        }
        if k_max.is_nan() || k_max > hi {
            return Err(self.out_of_range(k_max));
        }
        Ok(())
    }

    /// P(k) in (Mpc/h)^3 for k in h/Mpc, interpolated linearly in (ln k, ln P):
    /// P = P_i (k / k_i)^n_i with n_i = ln(P_{i+1} / P_i) / ln(k_{i+1} / k_i).
    /// Errors outside the table.
    pub fn power(&self, k: f64) -> Result<f64> {
        let (lo, hi) = self.k_range();
        if !(lo..=hi).contains(&k) {
            return Err(self.out_of_range(k));
        }
        // First node with k_j > k, so k lies in [k_{i}, k_{i+1}] with i = j - 1.
        let j = self.k.partition_point(|&x| x <= k);
        let i = j.saturating_sub(1).min(self.k.len() - 2);
        if k == self.k[i] {
            return Ok(self.p[i]);
        }
        if k == self.k[i + 1] {
            return Ok(self.p[i + 1]);
        }
        let t = (k.ln() - self.ln_k[i]) / (self.ln_k[i + 1] - self.ln_k[i]);
        Ok((self.ln_p[i] + t * (self.ln_p[i + 1] - self.ln_p[i])).exp())
    }

    /// The table's ln k nodes (for quadrature panels that follow the interpolation's kinks).
    pub(crate) fn ln_k(&self) -> &[f64] {
        &self.ln_k
    }
}
