//! [`reverse_distributed`]: the reverse-time adjoint of a [`DistributedRun`].

use pm_decomp::{Comm, CommData, CommExt};
use pm_fft::Real;
use pm_force::{ForceKernel, GravityVjp};
use pm_integrate::{DistributedRun, IntegrateError, LocalState};
use pm_mesh::Positions;

use crate::reverse::{AdjointCarry, ForceAdjoint, Frame};
use crate::{AdjointError, ReverseResult, StateCotangent};

/// The distributed force solve of a run as the adjoint's force.
struct SlabForce<'a, 'r, 's, T: Real + CommData, K: ForceKernel> {
    run: &'r DistributedRun<'s, T, K>,
    comm: &'a dyn Comm,
}

impl<T: Real + CommData, K: ForceKernel> ForceAdjoint<T> for SlabForce<'_, '_, '_, T, K> {
    fn n_params(&self) -> usize {
        self.run.gravity().kernel().params().len()
    }

    fn vjp(
        &self,
        positions: &Positions<'_, T>,
        cotangent: &[[T; 3]],
        acc: Option<&mut [[T; 3]]>,
        grad: &mut [[T; 3]],
    ) -> Result<GravityVjp, AdjointError> {
        let gravity = self.run.gravity();
        let c = self.run.simulation().forces().prefactor;
        Ok(match acc {
            Some(acc) => {
                gravity.accelerations_and_vjp(self.comm, positions, c, cotangent, acc, grad)?
            }
            None => gravity.accelerations_vjp(self.comm, positions, c, cotangent, grad)?,
        })
    }
}

/// The LPT fields a COLA state carries, for the frame terms.
fn frame<T: Real>(state: &LocalState<T>) -> Frame<'_, T> {
    state.psi1.as_deref().map(|p1| (p1, state.psi2.as_deref()))
}

/// Moves the particles to the ranks owning their positions, their cotangents with them.
fn migrate<T: Real + CommData, K: ForceKernel>(
    run: &DistributedRun<'_, T, K>,
    comm: &dyn Comm,
    state: &mut LocalState<T>,
    carry: &mut AdjointCarry<'_, T>,
) -> Result<(), AdjointError> {
    Ok(run.migrate_with(comm, state, &mut carry.cotangent_arrays())?)
}

/// [`crate::reverse`] for a run distributed over the ranks of `comm`: integrates this rank's
/// share of the final particles `state` backwards through every step of `run`'s
/// simulation, carrying the cotangents `cotangent` (one row per local particle), and
/// returns this rank's share of the initial state and of its cotangents. Collective.
///
/// The serial adjoint's arithmetic ([`crate::reverse`]: undo the second half kick, record
/// and transpose the drift, undo it, one force VJP per step) with the distributed pieces:
/// the force and its VJP from [`pm_force::SlabGravity`], and after each undone drift a
/// migration that moves every particle to the rank owning its new position, its cotangents
/// `x_bar`, `p_bar` (and COLA's `psi_bar` and LPT fields) with it. The adjoint of the
/// forward run's migration is its reverse; the reverse run instead migrates forward in
/// time-reversed order, which sends the same rows to the same ranks (only the order of
/// particles on a rank differs, and every update is per particle).
///
/// The per-step coefficient gradients are sums over particles: each rank's partial sums
/// are added over the ranks at the end (the same on every rank). The prefactor and kernel
/// gradients come reduced from the force VJPs. The returned initial state and cotangents
/// are on the force mesh's ranks; [`crate::value_and_gradient_distributed`] moves them to
/// the particle grid.
///
/// Errors: a state that is not at the last scale factor, a COLA run without the LPT fields
/// in the state, errors of the force solve and migration.
pub fn reverse_distributed<T: Real + CommData, K: ForceKernel>(
    run: &DistributedRun<'_, T, K>,
    comm: &dyn Comm,
    mut state: LocalState<T>,
    cotangent: StateCotangent<T>,
) -> Result<ReverseResult<T, LocalState<T>>, AdjointError> {
    let sim = run.simulation();
    let stepper = sim.stepper();
    let scale_factors = sim.scale_factors();
    if scale_factors.last() != Some(&state.a) {
        return Err(AdjointError::Schedule(format!(
            "the state is at a = {} but the schedule {:?} ends elsewhere",
            state.a, scale_factors
        )));
    }
    if stepper.needs_lpt() && state.psi1.is_none() {
        return Err(IntegrateError::Config {
            what: "state",
            reason: format!(
                "{} needs the LPT fields carried in the state",
                stepper.name()
            ),
        }
        .into());
    }
    let force = SlabForce { run, comm };
    let mut carry = AdjointCarry::new(stepper, &force, scale_factors, state.len(), cotangent)?;
    let steps = carry.steps();
    state.acc = None;
    migrate(run, comm, &mut state, &mut carry)?;

    // The VJP at the final positions (second half kick of the last step), and F(x_N).
    let mut acc = vec![[T::zero(); 3]; state.len()];
    carry.force_vjp(steps, &state.positions(), Some(&mut acc))?;
    state.acc = Some(acc);

    for i in (0..steps).rev() {
        let (a0, a1) = (scale_factors[i], scale_factors[i + 1]);
        let ah = 0.5 * (a0 + a1);

        // Undo the second half kick: p_h = p1 - k2 F(x1).
        carry.kick2(
            i,
            state.acc.as_deref().expect("set above or below"),
            frame(&state),
        )?;
        run.kick(&mut state, a1, ah, a1)?;

        // Transpose and undo the drift: x0 = x1 - d p_h; then the particles move to the
        // ranks of x0, with their cotangents.
        carry.drift(i, &state.mom, frame(&state))?;
        run.drift(&mut state, a1, a0, ah)?;
        migrate(run, comm, &mut state, &mut carry)?;

        // F(x0), and the VJP at x0 for this step's first kick and the previous step's second.
        let mut acc = vec![[T::zero(); 3]; state.len()];
        carry.force_vjp(i, &state.positions(), Some(&mut acc))?;
        state.acc = Some(acc);

        // Undo the first half kick: p0 = p_h - k1 F(x0).
        carry.kick1(i, state.acc.as_deref().expect("just set"), frame(&state))?;
        run.kick(&mut state, ah, a0, a0)?;
        state.a = a0;
    }
    let mut result = carry.finish(state);
    // Sum the per-step partial sums over the ranks.
    let mut sums: Vec<f64> = result
        .steps
        .iter()
        .flat_map(|g| [g.kick1, g.drift, g.kick2].into_iter().chain(g.psi))
        .collect();
    comm.all_reduce_sum(&mut sums)
        .map_err(IntegrateError::from)?;
    for (g, s) in result.steps.iter_mut().zip(sums.chunks_exact(9)) {
        (g.kick1, g.drift, g.kick2) = (s[0], s[1], s[2]);
        g.psi.copy_from_slice(&s[3..]);
    }
    Ok(result)
}
