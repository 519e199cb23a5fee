//! The checkpointing baseline of the adjoint: store every k-th state on the way forward,
//! recompute each segment from its checkpoint on the way back. A one-rank baseline (the
//! states are stored as they are, so the particles must not migrate between ranks).

use pm_decomp::SerialComm;
use pm_fft::Real;
use pm_integrate::{State, StateCotangent, ensure_accelerations, kdk_step, kick};

use crate::reverse::AdjointCarry;
use crate::{AdjointError, Integration, ReverseResult};

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

/// Integrates `initial` (at the first of the scale factors) through every kick-drift-kick
/// step of the one-rank run exactly as [`pm_integrate::Simulation::evolve`] does, storing a
/// copy of the state every `every` steps; returns the final state and the checkpoints.
/// Memory: `ceil(steps / every)` states.
///
/// Errors: [`AdjointError::Schedule`] if `every` is 0, the schedule has no step or does not
/// start at `initial.a`; the forward run's errors.
pub fn forward_checkpointed<T: Real>(
    run: Integration<'_, T>,
    initial: State<T>,
    every: usize,
) -> Result<(State<T>, Checkpoints<T>), AdjointError> {
    let scale_factors = run.scale_factors;
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
            ensure_accelerations(&SerialComm, &mut state, run.forces)?;
            states.push(state.clone());
        }
        kdk_step(&SerialComm, run.stepper, run.forces, &mut state, a1, None)?;
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
pub fn reverse_checkpointed<T: Real>(
    run: Integration<'_, T>,
    checkpoints: &Checkpoints<T>,
    cotangent: StateCotangent<T>,
) -> Result<ReverseResult<T>, AdjointError> {
    let scale_factors = run.scale_factors;
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
    let mut carry = AdjointCarry::new(&SerialComm, run, n, cotangent)?;

    for (c, checkpoint) in checkpoints.states.iter().enumerate().rev() {
        let s0 = c * every;
        let s1 = (s0 + every).min(steps);
        // States s0..=s1, each with F(x) cached by the forward steps.
        let mut states = Vec::with_capacity(s1 - s0 + 1);
        let mut state = checkpoint.clone();
        ensure_accelerations(&SerialComm, &mut state, run.forces)?;
        states.push(state.clone());
        for &a1 in &scale_factors[s0 + 1..=s1] {
            kdk_step(&SerialComm, run.stepper, run.forces, &mut state, a1, None)?;
            states.push(state.clone());
        }
        drop(state);
        if s1 == steps {
            let last = states.last().expect("non-empty");
            carry.force_vjp(steps, last, None)?;
        }
        for i in (s0..s1).rev() {
            let next = states.pop().expect("one state per boundary");
            let here = states.last().expect("one state per boundary");
            let (a0, a1) = (scale_factors[i], scale_factors[i + 1]);
            let ah = 0.5 * (a0 + a1);
            carry.kick2(i, &next)?;
            drop(next);
            let mut half = here.clone();
            kick(run.stepper, &mut half, a0, ah, a0)?;
            carry.drift(i, &half)?;
            drop(half);
            carry.force_vjp(i, here, None)?;
            carry.kick1(i, here)?;
        }
    }
    carry.finish(checkpoints.states[0].clone())
}
