//! The particle state: displacements from the Lagrangian lattice and momenta.

use pm_fft::Real;
use pm_mesh::{Lattice, Positions};

use crate::IntegrateError;

/// Particles at scale factor `a`: displacement `disp` from the lattice point `q` (Mpc/h) and
/// momentum `mom = p = a^3 E(a) dx/da` (Mpc/h, DESIGN.md), as `(n, 3)` row-major arrays.
/// The position is `(q + disp) mod L`.
///
/// `acc` caches the acceleration `F` (`dp/da = F / (a^2 E)`) at the current positions; the
/// kick-drift-kick steppers reuse it for the first half kick of the next step.
#[derive(Debug, Clone, PartialEq)]
pub struct State<T: Real> {
    /// The Lagrangian lattice.
    pub lattice: Lattice,
    /// Scale factor of positions and momenta.
    pub a: f64,
    /// Displacements from the lattice points, Mpc/h.
    pub disp: Vec<[T; 3]>,
    /// Momenta `p = a^3 E dx/da`, Mpc/h.
    pub mom: Vec<[T; 3]>,
    /// Accelerations at the current positions, if known.
    pub acc: Option<Vec<[T; 3]>>,
}

impl<T: Real> State<T> {
    /// A state, checking the array lengths against the lattice.
    pub fn new(
        lattice: Lattice,
        a: f64,
        disp: Vec<[T; 3]>,
        mom: Vec<[T; 3]>,
    ) -> Result<Self, IntegrateError> {
        for (what, got) in [("displacements", disp.len()), ("momenta", mom.len())] {
            if got != lattice.len() {
                return Err(IntegrateError::Length {
                    what,
                    expected: lattice.len(),
                    got,
                });
            }
        }
        if !(a.is_finite() && a > 0.0) {
            return Err(IntegrateError::Config {
                what: "scale factor",
                reason: format!("a = {a} must be finite and positive"),
            });
        }
        Ok(Self {
            lattice,
            a,
            disp,
            mom,
            acc: None,
        })
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        self.disp.len()
    }

    /// True when there are no particles.
    pub fn is_empty(&self) -> bool {
        self.disp.is_empty()
    }

    /// The positions, for painting.
    pub fn positions(&self) -> Positions<'_, T> {
        Positions::Displaced {
            lattice: self.lattice,
            disp: &self.disp,
        }
    }

    /// Total momentum `sum_i p_i` (accumulated in f64).
    pub fn total_momentum(&self) -> [f64; 3] {
        let mut total = [0.0f64; 3];
        for p in &self.mom {
            for a in 0..3 {
                total[a] += p[a].as_f64();
            }
        }
        total
    }

    /// Root-mean-square momentum per component (f64), the scale for momentum checks.
    pub fn rms_momentum(&self) -> f64 {
        let sum: f64 = self.mom.iter().flatten().map(|v| v.as_f64().powi(2)).sum();
        (sum / (3 * self.len().max(1)) as f64).sqrt()
    }
}
