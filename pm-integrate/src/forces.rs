//! The force a stepper needs: accelerations at the particles' positions.

use pm_fft::Real;
use pm_force::{ForceKernel, Gravity};
use pm_mesh::{Lattice, Positions};

use crate::IntegrateError;

/// Accelerations `F` with `dp/da = F / (a^2 E)` at the particles' positions; implemented by
/// [`PmForces`] (the PM solve) and by anything a user wants to integrate instead.
pub trait Forces<T: Real>: Send + Sync {
    /// Writes `F(q_i + disp_i)` into `out`.
    fn accelerations(
        &self,
        lattice: &Lattice,
        disp: &[[T; 3]],
        out: &mut [[T; 3]],
    ) -> Result<(), IntegrateError>;
}

/// The PM gravity solve with the FastPM normalisation `nabla^2 psi = 3/2 Omega_m delta`,
/// `F = -nabla psi` (see [`Gravity`]).
#[derive(Debug)]
pub struct PmForces<T: Real, K: ForceKernel> {
    /// The solver.
    pub gravity: Gravity<T, K>,
    /// `3/2 Omega_m`.
    pub prefactor: f64,
}

impl<T: Real, K: ForceKernel> PmForces<T, K> {
    /// Forces for matter density `omega_m` (today, in units of the critical density).
    pub fn new(gravity: Gravity<T, K>, omega_m: f64) -> Self {
        Self {
            gravity,
            prefactor: 1.5 * omega_m,
        }
    }
}

impl<T: Real, K: ForceKernel> Forces<T> for PmForces<T, K> {
    fn accelerations(
        &self,
        lattice: &Lattice,
        disp: &[[T; 3]],
        out: &mut [[T; 3]],
    ) -> Result<(), IntegrateError> {
        let positions = Positions::Displaced {
            lattice: *lattice,
            disp,
        };
        self.gravity
            .accelerations(&positions, self.prefactor, out)?;
        Ok(())
    }
}
