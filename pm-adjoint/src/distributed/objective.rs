//! Objectives of a distributed run: each rank sees its own particles and its own block of
//! the white noise.

use std::ops::Range;

use pm_decomp::{Comm, CommData, CommExt};
use pm_fft::Real;
use pm_integrate::LocalState;
use pm_mesh::{Mesh, RealField};

use crate::{AdjointError, Objective, ObjectiveInput, StateCotangent};

/// What a [`DistributedObjective`] sees on one rank.
#[derive(Debug, Clone)]
pub struct DistributedInput<'a, T: Real> {
    /// This rank's block of the white noise: the x-planes `noise_planes` of the particle
    /// grid, C order.
    pub noise: &'a [T],
    /// The x-planes of the particle grid held in `noise`.
    pub noise_planes: Range<usize>,
    /// This rank's particles after the last step.
    pub state: &'a LocalState<T>,
}

/// A [`DistributedObjective`]'s value and this rank's gradients; `None` stands for zero.
#[derive(Debug, Clone)]
pub struct DistributedOutput<T: Real> {
    /// `L`, the same on every rank.
    pub value: f64,
    /// `dL/d noise` on this rank's block (explicit dependence only).
    pub noise: Option<Vec<T>>,
    /// `dL/d(disp, mom)` of this rank's particles, in the state's order.
    pub state: Option<StateCotangent<T>>,
}

/// A differentiable scalar objective of a distributed forward run: every rank calls
/// [`DistributedObjective::evaluate`] (collectively) with its own particles and noise block,
/// and gets the global value and its local gradients.
pub trait DistributedObjective<T: Real + CommData>: Sync {
    /// A short description (for logs).
    fn name(&self) -> String;

    /// The value and this rank's gradients. Collective.
    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: DistributedInput<'_, T>,
    ) -> Result<DistributedOutput<T>, AdjointError>;
}

/// Any serial [`Objective`] as a [`DistributedObjective`]: the state and the noise are
/// gathered onto every rank, each rank evaluates the objective on the whole run, and keeps
/// the gradient rows of its own particles and noise planes. The value is rank 0's.
///
/// Every stock objective (likelihoods, power spectrum losses, the prior, their sums) thus
/// runs unchanged on any communicator, at the memory cost of one whole final state and
/// noise field per rank (`N_p (8 + 6s) + N_p s` bytes for `s`-byte reals) during the
/// evaluation: right for checks and moderate sizes, not for runs that need the
/// decomposition to fit in memory, which need an objective that works on the local
/// particles (paint with `pm_mesh::paint_slab`, reduce over ranks).
///
/// ```
/// use pm_adjoint::{DistributedObjective, Gathered, WhiteNoisePrior};
/// let prior = Gathered(WhiteNoisePrior::new());
/// assert_eq!(DistributedObjective::<f64>::name(&prior), "gathered(white-noise prior)");
/// ```
#[derive(Debug, Clone)]
pub struct Gathered<O>(pub O);

impl<T: Real + CommData, O: Objective<T>> DistributedObjective<T> for Gathered<O> {
    fn name(&self) -> String {
        format!("gathered({})", self.0.name())
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: DistributedInput<'_, T>,
    ) -> Result<DistributedOutput<T>, AdjointError> {
        let local = input.state;
        let lattice = local.lattice;
        let state = local.gather(comm)?;
        let noise: Vec<T> = comm
            .all_gather(input.noise)
            .map_err(pm_integrate::IntegrateError::from)?
            .concat();
        let shape = lattice.shape();
        let noise = Mesh::new(shape, lattice.box_size())
            .and_then(|mesh| RealField::from_vec(mesh, noise))
            .map_err(pm_integrate::IntegrateError::from)?;
        let output = self.0.evaluate(ObjectiveInput {
            noise: &noise,
            state: &state,
        })?;
        drop(state);
        // The same computation on every rank; rank 0's value is the one all report.
        let value = comm
            .all_gather(&[output.value])
            .map_err(pm_integrate::IntegrateError::from)?[0][0];
        let plane = shape[1] * shape[2];
        let noise_bar = output.noise.map(|g| {
            g.as_slice()[input.noise_planes.start * plane..input.noise_planes.end * plane].to_vec()
        });
        let state_bar = output.state.map(|c| {
            let rows = |v: &[[T; 3]]| -> Vec<[T; 3]> {
                local.ids.iter().map(|&id| v[id as usize]).collect()
            };
            StateCotangent {
                disp: rows(&c.disp),
                mom: rows(&c.mom),
            }
        });
        Ok(DistributedOutput {
            value,
            noise: noise_bar,
            state: state_bar,
        })
    }
}
