//! `value_and_gradient`: an objective of a [`Simulation`] and its gradient with respect to the
//! white noise, the linear modes, the LPT growth factors, the force and the step coefficients,
//! on any communicator.

use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::{
    IntegrateError, Lpt, Observer, Simulation, State, StateCotangent, StepInfo, StepObservable,
    StepPositions, linear_modes_vjp,
};
use pm_mesh::{FourierField, RealField};
use rayon::prelude::*;

use crate::{
    AdjointError, Integration, Objective, ObjectiveInput, ReverseResult, StepCoefficientGradients,
    reverse_with,
};

/// An objective's value and its gradients through a whole forward run (white noise ->
/// linear modes -> LPT -> kick-drift-kick steps -> final state), from [`value_and_gradient`];
/// the field gradients are this rank's blocks (the whole fields on one rank), the other
/// gradients are summed over the ranks.
#[derive(Debug, Clone)]
pub struct Gradient<T: Real> {
    /// `L`.
    pub value: f64,
    /// `dL/d noise(x)` on this rank's x-planes of the particle grid, total: the objective's
    /// explicit term plus the dependence through the simulation.
    pub noise: RealField<T>,
    /// `dL/d delta_L(k)` for the a = 1 linear modes on this rank's ky-rows of the particle
    /// grid, through the simulation only, in the stored-element convention of [`Lpt::vjp`]
    /// (`dL = sum_stored Re(conj(modes_k) d delta_L(k))`, every stored half-complex element
    /// counted once).
    pub modes: FourierField<T>,
    /// `dL/d(D1, D2, gp1, gp2)` for the four growth factors that [`Lpt::state`] takes from
    /// `growth.at(a_start)` (`a_start` the first scale factor) to place the particles:
    /// `disp0 = D1 psi1 + D2 psi2`, `mom0 = gp1 psi1 + gp2 psi2`, so
    /// `[<x_bar0, psi1>, <x_bar0, psi2>, <p_bar0, psi1>, <p_bar0, psi2>]` with `x_bar0`,
    /// `p_bar0` the cotangents of the initial state (the `psi2` entries are 0 for 1LPT).
    /// Only the initial placement: the steppers' own growth dependence (COLA's frame terms,
    /// the kick and drift factors) is in `steps`.
    pub lpt_growth: [f64; 4],
    /// `dL/dc` for the force prefactor `c = 3/2 Omega_m` at fixed growth and coefficients.
    pub prefactor: f64,
    /// `dL/dtheta` for the force kernel's parameters.
    pub kernel_params: Vec<f64>,
    /// Per step (forward order), the gradients with respect to its kick and drift
    /// coefficients (see [`StepCoefficientGradients`]).
    pub steps: Vec<StepCoefficientGradients>,
}

/// Runs `sim` forward from this rank's block `noise` of the white noise (on the particle
/// grid), evaluates `objective` on the final state, and returns its value and this rank's
/// gradients ([`Gradient`]). Collective over `comm`: the one-rank run on
/// [`pm_decomp::SerialComm`] (a `sim` built with `build`), or every rank of a run built with
/// `build_on(comm)`, whose gradients equal the one-rank ones to rounding.
///
/// The chain, forward then backwards:
///
/// ```text
/// noise --linear_modes--> delta_L(k) --Lpt::new--> (psi1, psi2) --Lpt::state--> (x0, p0)
///       --kdk steps--> (x_N, p_N) --objective--> L
///
/// (x_bar0, p_bar0), psi_frame_bar, dL/dc, dL/dtheta, steps = reverse(x_N, dL/d(x_N, p_N))
/// (x_bar0, p_bar0) back to the lattice order (by lattice index, across ranks)
/// psi_bar, dL/d(D1, D2, gp1, gp2) = Lpt::state_vjp(x_bar0, p_bar0, psi_frame_bar)
/// modes_bar = Lpt::vjp(delta_L, psi_bar);   noise_bar = linear_modes_vjp(modes_bar) + dL/dnoise
/// ```
///
/// Only the final state is kept from the forward run, and the reverse integration consumes
/// it (no copy: run [`Simulation::evolve_on`] to keep one); [`crate::reverse`] recovers the
/// trajectory by integrating backwards, so memory does not grow with the number of steps.
/// The LPT fields are not held during the run (COLA's state carries its own); they are
/// recomputed for the VJP. When the objective does not depend on the state on any rank
/// (`state: None`), the reverse run is skipped and every gradient through the simulation is
/// zero.
///
/// Errors: [`AdjointError::Integrate`] if `noise` is not this rank's block of the particle
/// grid, and whatever the forward run, the objective or the adjoint return.
pub fn value_and_gradient<T: Real, K: ForceKernel>(
    comm: &dyn Comm,
    sim: &Simulation<T, K>,
    noise: &RealField<T>,
    objective: &dyn Objective<T>,
) -> Result<Gradient<T>, AdjointError> {
    gradient_with(comm, sim, noise, objective, None)
}

/// [`value_and_gradient`] of `objective(final state) + L_obs(trajectory)`: `observable`
/// watches every step's drift in the forward run ([`StepObservable::observe_step`]), gives
/// its value at the end, and adds its cotangents inside the reverse run
/// ([`crate::reverse_with`]), so memory stays flat in the number of steps. The forward run
/// keeps one extra copy of the displacements (the step's start) for it.
pub fn value_and_gradient_along<T: Real, K: ForceKernel>(
    comm: &dyn Comm,
    sim: &Simulation<T, K>,
    noise: &RealField<T>,
    objective: &dyn Objective<T>,
    observable: &mut dyn StepObservable<T>,
) -> Result<Gradient<T>, AdjointError> {
    gradient_with(comm, sim, noise, objective, Some(observable))
}

/// Feeds a [`StepObservable`] every drift of a forward run.
struct Feed<'a, T: Real>(&'a mut dyn StepObservable<T>);

impl<T: Real> Observer<T> for Feed<'_, T> {
    fn observe(&mut self, _: &StepInfo, _: &State<T>) -> Result<(), IntegrateError> {
        Ok(())
    }

    fn wants_steps(&self) -> bool {
        true
    }

    fn observe_step(&mut self, step: &StepPositions<'_, T>) -> Result<(), IntegrateError> {
        self.0.observe_step(step)
    }
}

fn gradient_with<T: Real, K: ForceKernel>(
    comm: &dyn Comm,
    sim: &Simulation<T, K>,
    noise: &RealField<T>,
    objective: &dyn Objective<T>,
    mut observable: Option<&mut dyn StepObservable<T>>,
) -> Result<Gradient<T>, AdjointError> {
    let block = sim.particle_block();
    block.check_real(noise).map_err(IntegrateError::from)?;
    let modes = sim.linear_modes_from(comm, noise)?;
    let a_start = sim.scale_factors()[0];
    let start = sim.lpt_from_modes(comm, &modes)?.into_state(
        a_start,
        sim.growth(),
        sim.stepper().needs_lpt(),
    )?;
    let final_state = match observable.as_deref_mut() {
        None => sim.evolve_on(comm, start, &mut [])?,
        Some(obs) => sim.evolve_on(comm, start, &mut [&mut Feed(obs)])?,
    };
    let mut output = objective.evaluate(
        comm,
        ObjectiveInput {
            noise,
            state: &final_state,
        },
    )?;
    let steps = sim.scale_factors().len() - 1;
    let n_params = sim.forces().gravity.kernel().params().len();
    let observable = match observable {
        Some(obs) => {
            output.value += obs.finish(comm)?;
            if output.state.is_none() {
                output.state = Some(StateCotangent::zeros(final_state.len()));
            }
            Some(&*obs)
        }
        None => None,
    };
    // Every rank runs the reverse pass if any rank's objective depends on the state.
    let with_state = if comm.size() > 1 {
        comm.sum_u64(u64::from(output.state.is_some()))
            .map_err(IntegrateError::from)?
            > 0
    } else {
        output.state.is_some()
    };
    if !with_state {
        return Ok(Gradient {
            value: output.value,
            noise: output.noise.unwrap_or_else(|| block.zeros_real()),
            modes: block.zeros_modes(),
            lpt_growth: [0.0; 4],
            prefactor: 0.0,
            kernel_params: vec![0.0; n_params],
            steps: vec![StepCoefficientGradients::default(); steps],
        });
    }
    let cotangent = output
        .state
        .take()
        .unwrap_or_else(|| StateCotangent::zeros(final_state.len()));
    pullback(
        comm,
        sim,
        Pullback {
            noise,
            modes,
            final_state,
            cotangent,
            observable,
            value: output.value,
            explicit_noise: output.noise,
        },
    )
}

/// The vector-Jacobian product of a forward run of `sim` from this rank's block `noise` of
/// the white noise: given the run's final state (`final_state`, this rank's particles as
/// [`Simulation::evolve_on`] returned them, or, on one rank, a state in lattice order
/// rebuilt from the final displacements and momenta) and the cotangents `cotangent` of its
/// displacements and momenta, returns the gradients of `L = <cotangent, final state>` with
/// respect to the noise, the modes, the growth factors, the force and the step coefficients,
/// as [`value_and_gradient`] does, without running the forward simulation again: this is
/// the backward half of [`value_and_gradient`] (`Gradient::value` is 0: no objective is
/// evaluated). COLA's LPT fields are recomputed from `noise` when the state does not carry
/// them (lattice-ordered states only). Collective.
///
/// Errors: as [`value_and_gradient`]; [`AdjointError::Length`] if `cotangent` does not have
/// a row per particle of `final_state`.
pub fn vjp<T: Real, K: ForceKernel>(
    comm: &dyn Comm,
    sim: &Simulation<T, K>,
    noise: &RealField<T>,
    mut final_state: State<T>,
    cotangent: StateCotangent<T>,
) -> Result<Gradient<T>, AdjointError> {
    sim.particle_block()
        .check_real(noise)
        .map_err(IntegrateError::from)?;
    for (what, got) in [
        ("displacement cotangent", cotangent.disp.len()),
        ("momentum cotangent", cotangent.mom.len()),
    ] {
        if got != final_state.len() {
            return Err(AdjointError::Length {
                what,
                expected: final_state.len(),
                got,
            });
        }
    }
    let modes = sim.linear_modes_from(comm, noise)?;
    if sim.stepper().needs_lpt() && final_state.psi1.is_none() {
        let lpt = sim.lpt_from_modes(comm, &modes)?;
        if final_state.ids.is_some() || lpt.len() != final_state.len() {
            return Err(IntegrateError::Config {
                what: "state",
                reason: format!(
                    "{} needs the LPT fields: pass the state the forward run returned",
                    sim.stepper().name()
                ),
            }
            .into());
        }
        final_state.psi1 = Some(lpt.psi1().to_vec());
        final_state.psi2 = lpt.psi2().map(<[_]>::to_vec);
    }
    pullback(
        comm,
        sim,
        Pullback {
            noise,
            modes,
            final_state,
            cotangent,
            observable: None,
            value: 0.0,
            explicit_noise: None,
        },
    )
}

/// What [`pullback`] carries back through a run.
struct Pullback<'a, T: Real> {
    /// This rank's block of the white noise the run started from.
    noise: &'a RealField<T>,
    /// The linear modes of `noise`.
    modes: FourierField<T>,
    /// This rank's particles at the end of the run.
    final_state: State<T>,
    /// `dL/d(final state)`.
    cotangent: StateCotangent<T>,
    /// A trajectory observable whose cotangents the reverse run adds.
    observable: Option<&'a dyn StepObservable<T>>,
    /// `L`, reported as is.
    value: f64,
    /// The objective's explicit `dL/d noise`, added to the noise gradient.
    explicit_noise: Option<RealField<T>>,
}

/// The reverse half of a gradient: the steps backwards from the final state
/// ([`reverse_with`]), then the LPT placement, the LPT fields and the linear modes.
fn pullback<T: Real, K: ForceKernel>(
    comm: &dyn Comm,
    sim: &Simulation<T, K>,
    p: Pullback<'_, T>,
) -> Result<Gradient<T>, AdjointError> {
    let Pullback {
        noise,
        modes,
        final_state,
        cotangent,
        observable,
        value,
        explicit_noise,
    } = p;
    let block = sim.particle_block();
    let a_start = sim.scale_factors()[0];
    let back = reverse_with(
        comm,
        Integration::of(sim),
        final_state,
        cotangent,
        observable,
    )?;

    // The initial cotangents back to the particle grid's slabs, in lattice order.
    let lpt = sim.lpt_from_modes(comm, &modes)?;
    let ReverseResult {
        initial,
        cotangent: bar,
        prefactor,
        kernel_params,
        steps: step_grads,
    } = back;
    let placed = lpt.to_lattice_order(comm, initial.ids.as_deref(), bar)?;
    drop(initial);
    let (psi_bar, mut lpt_growth) = lpt.state_vjp(a_start, sim.growth(), placed)?;
    drop(lpt);
    if comm.size() > 1 {
        comm.all_reduce_sum(&mut lpt_growth)
            .map_err(IntegrateError::from)?;
    }
    let modes_bar = Lpt::vjp(comm, block, &modes, &psi_bar)?;
    drop(psi_bar);
    let mut noise_bar = linear_modes_vjp(
        comm,
        block,
        noise,
        sim.power(),
        sim.mode_options(),
        &modes_bar,
    )?;
    if let Some(explicit) = explicit_noise {
        if explicit.planes() != noise_bar.planes() || explicit.mesh() != noise_bar.mesh() {
            return Err(AdjointError::Length {
                what: "objective's noise gradient",
                expected: noise_bar.as_slice().len(),
                got: explicit.as_slice().len(),
            });
        }
        noise_bar
            .as_slice_mut()
            .par_iter_mut()
            .zip(explicit.as_slice().par_iter())
            .for_each(|(g, e)| *g = T::lit(g.as_f64() + e.as_f64()));
    }
    Ok(Gradient {
        value,
        noise: noise_bar,
        modes: modes_bar,
        lpt_growth,
        prefactor,
        kernel_params,
        steps: step_grads,
    })
}

impl<T: Real> Gradient<T> {
    /// The whole noise gradient on every rank (the blocks in rank order). Collective; needs
    /// the memory of the whole field on each rank.
    pub fn gather_noise(&self, comm: &dyn Comm) -> Result<RealField<T>, AdjointError> {
        if self.noise.is_whole() {
            return Ok(self.noise.clone());
        }
        let all = comm
            .all_gather(self.noise.as_slice())
            .map_err(IntegrateError::from)?
            .concat();
        Ok(RealField::from_vec(*self.noise.mesh(), all).map_err(IntegrateError::from)?)
    }
}
