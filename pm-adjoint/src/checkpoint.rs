//! The checkpointing baseline of the adjoint: store every k-th state on the way forward,
//! recompute each segment from its checkpoint on the way back.

use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::{Lpt, PmForces, State, Stepper, ensure_accelerations, kdk_step, kick};

use crate::reverse::{AdjointCarry, lpt_frame};
use crate::{AdjointError, ReverseResult, StateCotangent};

/// States saved by [`forward_checkpointed`]: the state (with its accelerations) at steps
/// `0, every, 2 every, ...`, before each of those steps.
#[derive(Debug, Clone)]
pub struct Checkpoints<T: Real> {
    /// Steps between checkpoints (at least 1).
    pub every: usize,
    /// The states at the first scale factor and after every `every` steps (not the final
    /// state), each with `acc` set.
    pub states: Vec<State<T>>,
}

/// Integrates `initial` (at the first of `scale_factors`) through every kick-drift-kick step
/// exactly as [`pm_integrate::Simulation::evolve`] does, storing a copy of the state every
/// `every` steps; returns the final state and the checkpoints. Memory: `ceil(steps / every)`
/// states.
///
/// Errors: [`AdjointError::Schedule`] if `every` is 0, the schedule has no step or does not
/// start at `initial.a`; the forward run's errors.
pub fn forward_checkpointed<T: Real, K: ForceKernel>(
    stepper: &dyn Stepper,
    forces: &PmForces<T, K>,
    lpt: Option<&Lpt<T>>,
    initial: State<T>,
    scale_factors: &[f64],
    every: usize,
) -> Result<(State<T>, Checkpoints<T>), AdjointError> {
    if every == 0 || scale_factors.len() < 2 || scale_factors[0] != initial.a {
        return Err(AdjointError::Schedule(format!(
            "checkpoints every {every} steps of {scale_factors:?} from a state at a = {}: \
             need every >= 1 and a schedule of at least one step starting at the state",
            initial.a
        )));
    }
    let mut state = initial;
    let mut states = Vec::new();
    for (i, &a1) in scale_factors[1..].iter().enumerate() {
        if i % every == 0 {
            ensure_accelerations(&mut state, forces)?;
            states.push(state.clone());
        }
        kdk_step(stepper, &mut state, a1, forces, lpt)?;
    }
    Ok((state, Checkpoints { every, states }))
}

/// The adjoint of the run of [`forward_checkpointed`] with stored (not reversed) states: for
/// each segment, last first, the states `x_s .. x_{s+every}` are recomputed forward from its
/// checkpoint with [`kdk_step`], then the adjoint updates of [`crate::reverse`] are applied
/// step by step, backwards, with those states (the half-step momenta
/// `p_h = p_i + k1 F(x_i) + frame` recomputed from `x_i`). Same equations and results as
/// [`crate::reverse`] up to rounding, without relying on reversibility; memory
/// `ceil(steps / every) + every + 1` states, time one extra forward run (less the last
/// segment).
///
/// `ReverseResult::initial` is the stored first checkpoint.
///
/// Errors: [`AdjointError::Schedule`] if the checkpoints do not fit `scale_factors`,
/// [`AdjointError::Length`] for cotangents of the wrong length; the forward run's and the
/// force VJP's errors.
pub fn reverse_checkpointed<T: Real, K: ForceKernel>(
    stepper: &dyn Stepper,
    forces: &PmForces<T, K>,
    lpt: Option<&Lpt<T>>,
    checkpoints: &Checkpoints<T>,
    scale_factors: &[f64],
    cotangent: StateCotangent<T>,
) -> Result<ReverseResult<T>, AdjointError> {
    let steps = scale_factors.len().saturating_sub(1);
    let every = checkpoints.every;
    let fits = every > 0
        && steps > 0
        && checkpoints.states.len() == steps.div_ceil(every)
        && checkpoints
            .states
            .iter()
            .enumerate()
            .all(|(c, s)| s.a == scale_factors[c * every]);
    if !fits {
        return Err(AdjointError::Schedule(format!(
            "{} checkpoints every {every} steps do not fit the schedule {scale_factors:?}",
            checkpoints.states.len()
        )));
    }
    let n = checkpoints.states[0].len();
    let mut carry = AdjointCarry::new(stepper, forces, scale_factors, n, cotangent)?;
    let frame = lpt_frame(lpt);

    for (c, checkpoint) in checkpoints.states.iter().enumerate().rev() {
        let s0 = c * every;
        let s1 = (s0 + every).min(steps);
        // States s0..=s1, each with F(x) cached by the forward steps.
        let mut states = Vec::with_capacity(s1 - s0 + 1);
        let mut state = checkpoint.clone();
        ensure_accelerations(&mut state, forces)?;
        states.push(state.clone());
        for &a1 in &scale_factors[s0 + 1..=s1] {
            kdk_step(stepper, &mut state, a1, forces, lpt)?;
            states.push(state.clone());
        }
        drop(state);
        if s1 == steps {
            let last = states.last().expect("non-empty");
            carry.force_vjp(steps, &last.positions(), None)?;
        }
        for i in (s0..s1).rev() {
            let next = states.pop().expect("one state per boundary");
            let here = states.last().expect("one state per boundary");
            let (a0, a1) = (scale_factors[i], scale_factors[i + 1]);
            let ah = 0.5 * (a0 + a1);
            carry.kick2(i, next.acc.as_ref().expect("set by kdk_step"), frame)?;
            drop(next);
            let mut half = here.clone();
            kick(stepper, &mut half, a0, ah, a0, lpt)?;
            carry.drift(i, &half.mom, frame)?;
            drop(half);
            carry.force_vjp(i, &here.positions(), None)?;
            carry.kick1(i, here.acc.as_ref().expect("set by kdk_step"), frame)?;
        }
    }
    Ok(carry.finish(checkpoints.states[0].clone()))
}
