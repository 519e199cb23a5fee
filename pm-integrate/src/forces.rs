//! The force a stepper needs, accelerations at the particles' positions ([`Forces`]), and
//! its vector-Jacobian product, which the reverse adjoint needs ([`ForcesVjp`]).

use pm_decomp::Comm;
use pm_fft::Real;
use pm_force::{ForceKernel, Gravity, GravityVjp, VjpArrays};
use pm_mesh::{MeshBlock, Positions};

use crate::IntegrateError;

/// Accelerations `F` with `dp/da = F / (a^2 E)` at the particles' positions; implemented by
/// [`PmForces`] (the PM solve) and by anything a user wants to integrate instead.
///
/// Collective over the communicator of the run: every rank passes its own particles. A
/// force that lives on a distributed mesh says where the particles must be
/// ([`Forces::block`]); the run migrates them there after every drift.
pub trait Forces<T: Real>: Send + Sync {
    /// Writes `F(x_i)` of this rank's particles into `out`.
    fn accelerations(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        out: &mut [[T; 3]],
    ) -> Result<(), IntegrateError>;

    /// The rank's block of the mesh whose x-slabs the particles must be on (those whose
    /// x-plane it owns); `None` (the default): any rank may hold any particle.
    fn block(&self) -> Option<&MeshBlock<T>> {
        None
    }
}

/// The gradients a [`ForcesVjp`] returns besides the positions': `dL/dc` of the force
/// prefactor `c = 3/2 Omega_m` (0 for a force without one) and `dL/dtheta` of its parameters.
pub type ForceParamsVjp = GravityVjp;

/// The vector-Jacobian product of a [`Forces`], for the reverse-time adjoint: implement it
/// to differentiate your own force through a run (`pm_adjoint::reverse`).
pub trait ForcesVjp<T: Real>: Forces<T> {
    /// Number of parameters `theta` of the force (0 by default).
    fn n_params(&self) -> usize {
        0
    }

    /// For `L = sum_i cotangent_i . F(x)_i` (summed over all ranks) **adds** `dL/dx_i` of
    /// this rank's particles into `grad` and returns `dL/dc` and `dL/dtheta` (the same on
    /// every rank); writes `F(x)` into `acc` when given. Collective.
    fn accelerations_vjp(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        cotangent: &[[T; 3]],
        acc: Option<&mut [[T; 3]]>,
        grad: &mut [[T; 3]],
    ) -> Result<ForceParamsVjp, IntegrateError>;
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
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        out: &mut [[T; 3]],
    ) -> Result<(), IntegrateError> {
        self.gravity
            .accelerations(comm, positions, self.prefactor, out)?;
        Ok(())
    }

    fn block(&self) -> Option<&MeshBlock<T>> {
        Some(self.gravity.block())
    }
}

impl<T: Real, K: ForceKernel> ForcesVjp<T> for PmForces<T, K> {
    fn n_params(&self) -> usize {
        self.gravity.kernel().params().len()
    }

    fn accelerations_vjp(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        cotangent: &[[T; 3]],
        acc: Option<&mut [[T; 3]]>,
        grad: &mut [[T; 3]],
    ) -> Result<ForceParamsVjp, IntegrateError> {
        let arrays = VjpArrays {
            cotangent,
            grad_pos: grad,
            acc,
        };
        Ok(self
            .gravity
            .accelerations_and_vjp(comm, positions, self.prefactor, arrays)?)
    }
}
