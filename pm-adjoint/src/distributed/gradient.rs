//! [`value_and_gradient_distributed`]: an objective of a distributed run and its gradient
//! with respect to the white noise, each rank holding its share.

use std::ops::Range;

use pm_decomp::{Comm, CommData, CommExt, Decomposition, Migration};
use pm_fft::{Complex, Real};
use pm_force::ForceKernel;
use pm_integrate::{DistributedRun, IntegrateError, LptCotangent};
use pm_mesh::{Mesh, RealField};

use super::{DistributedInput, DistributedObjective, reverse_distributed};
use crate::gradient::initial_placement_vjp;
use crate::{AdjointError, StateCotangent, StepCoefficientGradients};

/// An objective's value and this rank's share of its gradients through a distributed run,
/// from [`value_and_gradient_distributed`]: the fields of [`crate::Gradient`], with the
/// white-noise and mode gradients as this rank's blocks.
#[derive(Debug, Clone)]
pub struct DistributedGradient<T: Real> {
    /// `L`.
    pub value: f64,
    /// `dL/d noise(x)` (total, as [`crate::Gradient::noise`]) on the x-planes
    /// `noise_planes` of the particle grid, C order.
    pub noise: Vec<T>,
    /// The x-planes of the particle grid in `noise`.
    pub noise_planes: Range<usize>,
    /// `dL/d delta_L(k)` (as [`crate::Gradient::modes`]) on the ky-rows `mode_rows` of the
    /// half-complex grid: `[nx][rows][nz/2 + 1]`, C order.
    pub modes: Vec<Complex<T>>,
    /// The ky-rows in `modes`.
    pub mode_rows: Range<usize>,
    /// As [`crate::Gradient::lpt_growth`] (summed over ranks).
    pub lpt_growth: [f64; 4],
    /// As [`crate::Gradient::prefactor`].
    pub prefactor: f64,
    /// As [`crate::Gradient::kernel_params`].
    pub kernel_params: Vec<f64>,
    /// As [`crate::Gradient::steps`] (summed over ranks).
    pub steps: Vec<StepCoefficientGradients>,
}

impl<T: Real + CommData> DistributedGradient<T> {
    /// The whole noise gradient on every rank (the blocks in rank order), on `mesh` (the
    /// particle grid). Collective; needs the memory of the whole field on each rank.
    pub fn gather_noise(&self, comm: &dyn Comm, mesh: Mesh) -> Result<RealField<T>, AdjointError> {
        let all = comm
            .all_gather(&self.noise)
            .map_err(IntegrateError::from)?
            .concat();
        Ok(RealField::from_vec(mesh, all).map_err(IntegrateError::from)?)
    }
}

/// [`crate::value_and_gradient`] for a run distributed over the ranks of `comm`: runs
/// `run`'s simulation forward ([`DistributedRun::initial_state`], [`DistributedRun::evolve`]),
/// evaluates `objective` on each rank's final particles and returns the value and this
/// rank's share of the gradients. Collective.
///
/// ```text
/// noise block --slab FFT, modes, LPT--> (psi1, psi2) on the particle grid's x-slab
///   --> (x0, p0) --migrate, kdk steps, migrate--> (x_N, p_N) on the force mesh's slabs
///   --> L;  reverse_distributed --> (x_bar0, p_bar0) on the force mesh's slabs
///   --migrate by lattice index--> the particle grid's x-slab, lattice order
///   --> psi_bar (initial placement VJP) --> DistributedLpt::noise_vjp --> noise_bar block
/// ```
///
/// Every piece is the serial one's arithmetic on this rank's block (the LPT and mode VJPs
/// are the same functions, through the slab FFT), so the gathered gradient equals the
/// serial [`crate::value_and_gradient`]'s to rounding (tested to 1e-10 relative in f64 on
/// 1 to 4 ranks). The white noise is the simulation's ([`pm_integrate::NoiseSource`]);
/// trajectory observables are not supported here. Memory per rank follows the forward
/// run's (`pm_integrate::DistributedRun`): one state, its cotangents, the force mesh, and
/// for the LPT VJP about `12 n s` bytes on the particle grid's slab.
///
/// Errors: whatever the forward run, the objective, the reverse run and the VJPs return.
pub fn value_and_gradient_distributed<T: Real + CommData, K: ForceKernel>(
    run: &DistributedRun<'_, T, K>,
    comm: &dyn Comm,
    objective: &dyn DistributedObjective<T>,
) -> Result<DistributedGradient<T>, AdjointError> {
    let sim = run.simulation();
    let a_start = sim.scale_factors()[0];
    let start = run.initial_state(comm)?;
    let final_state = run.evolve(comm, start)?;
    let decomp = run.particle_decomposition();
    let noise_planes = decomp.x_range(decomp.rank());
    let output = {
        let noise = run.noise_block()?;
        objective.evaluate(
            comm,
            DistributedInput {
                noise: &noise,
                noise_planes: noise_planes.clone(),
                state: &final_state,
            },
        )?
    };
    // Every rank runs the reverse pass if any rank's objective depends on the state.
    let with_state = comm
        .sum_u64(u64::from(output.state.is_some()))
        .map_err(IntegrateError::from)?;
    let n_local = final_state.len();
    let back = if with_state > 0 {
        let cotangent = output
            .state
            .unwrap_or_else(|| StateCotangent::zeros(n_local));
        Some(reverse_distributed(run, comm, final_state, cotangent)?)
    } else {
        None
    };

    let lpt = run.lpt(comm)?;
    let n = lpt.len();
    let ids = lpt.ids();
    let (psi_bar, lpt_growth, rest) = match back {
        None => (
            LptCotangent::zeros(n, lpt.order()),
            [0.0; 4],
            (0.0, vec![0.0; run.gravity().kernel().params().len()], None),
        ),
        Some(back) => {
            // The initial state's cotangents to the particle grid's slabs, lattice order.
            let plane = {
                let s = decomp.shape();
                (s[1] * s[2]) as u64
            };
            let owners: Vec<usize> = back
                .initial
                .ids
                .iter()
                .map(|&id| decomp.x_owner((id / plane) as usize).unwrap_or(0))
                .collect();
            let mig = Migration::from_owners(comm, &owners).map_err(IntegrateError::from)?;
            let arrived = mig
                .forward(comm, &back.initial.ids)
                .map_err(IntegrateError::from)?;
            let to_lattice = |v: &[[T; 3]]| -> Result<Vec<[T; 3]>, AdjointError> {
                let moved = mig.forward(comm, v).map_err(IntegrateError::from)?;
                let mut out = vec![[T::zero(); 3]; n];
                for (&id, row) in arrived.iter().zip(moved) {
                    out[(id - ids.start) as usize] = row;
                }
                Ok(out)
            };
            if arrived.len() != n {
                return Err(AdjointError::Length {
                    what: "initial cotangents on the particle grid's slab",
                    expected: n,
                    got: arrived.len(),
                });
            }
            let x_bar = to_lattice(&back.cotangent.disp)?;
            let p_bar = to_lattice(&back.cotangent.mom)?;
            let frame = match &back.lpt {
                None => None,
                Some(f) => Some(LptCotangent {
                    psi1: to_lattice(&f.psi1)?,
                    psi2: f.psi2.as_deref().map(to_lattice).transpose()?,
                }),
            };
            let (psi_bar, mut growth) = initial_placement_vjp(
                sim.growth(),
                a_start,
                (lpt.psi1(), lpt.psi2()),
                &x_bar,
                &p_bar,
                frame,
            )?;
            comm.all_reduce_sum(&mut growth)
                .map_err(IntegrateError::from)?;
            (
                psi_bar,
                growth,
                (back.prefactor, back.kernel_params, Some(back.steps)),
            )
        }
    };
    drop(lpt);
    let (prefactor, kernel_params, steps) = rest;
    let steps = steps.unwrap_or_else(|| {
        vec![StepCoefficientGradients::default(); sim.scale_factors().len() - 1]
    });
    let grads = run.noise_vjp(comm, &psi_bar)?;
    drop(psi_bar);
    let mut noise = grads.noise;
    if let Some(explicit) = output.noise {
        if explicit.len() != noise.len() {
            return Err(AdjointError::Length {
                what: "objective's noise gradient block",
                expected: noise.len(),
                got: explicit.len(),
            });
        }
        for (g, e) in noise.iter_mut().zip(&explicit) {
            *g = T::lit(g.as_f64() + e.as_f64());
        }
    }
    Ok(DistributedGradient {
        value: output.value,
        noise,
        noise_planes,
        modes: grads.modes,
        mode_rows: decomp.ky_range(decomp.rank()),
        lpt_growth,
        prefactor,
        kernel_params,
        steps,
    })
}
