//! The kick-drift-kick driver and the `Stepper` trait that sets its coefficients: each
//! update (kick, drift) beside its vector-Jacobian product, the migration of particles
//! between ranks after a drift (a no-op on one rank), and the step that puts them together.

use pm_cosmo::{N_PARAMS, Scalar};
use pm_decomp::{Comm, CommExt, DecompError, Migration};
use pm_fft::Real;
use rayon::prelude::*;

use crate::{Forces, IntegrateError, LptCotangent, LptOrder, State, StateCotangent};

/// Coefficients of one kick or drift in the LPT-aware form shared by every stepper:
///
/// ```text
/// kick:   p += scale * F  + psi1 * psi1(q) + psi2 * psi2(q)
/// drift:  x += scale * p  + psi1 * psi1(q) + psi2 * psi2(q)
/// ```
///
/// FastPM and leapfrog have `psi1 = psi2 = 0`; COLA uses them to move the LPT frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Coefficients {
    /// Factor of the acceleration (kick) or momentum (drift).
    pub scale: f64,
    /// Factor of the first-order LPT displacement.
    pub psi1: f64,
    /// Factor of the second-order LPT displacement.
    pub psi2: f64,
}

/// A time-stepping scheme: the coefficients of a kick of the momenta from `a_from` to
/// `a_to` with the force evaluated at `a_force`, and of a drift of the positions from
/// `a_from` to `a_to` with the momenta at `a_mom`. Steps may go backwards (`a_to < a_from`),
/// which the reverse-time adjoint uses.
pub trait Stepper: Send + Sync {
    /// A short description.
    fn name(&self) -> String;
    /// Kick coefficients.
    fn kick(&self, a_from: f64, a_to: f64, a_force: f64) -> Result<Coefficients, IntegrateError>;
    /// Drift coefficients.
    fn drift(&self, a_from: f64, a_to: f64, a_mom: f64) -> Result<Coefficients, IntegrateError>;
    /// Whether the coefficients use the LPT fields (then the driver needs them).
    fn needs_lpt(&self) -> bool {
        false
    }
    /// Derivatives of the kick coefficients with respect to the cosmological parameters:
    /// entry `i` holds `d(scale, psi1, psi2)/d theta_i` for `theta_i = Param::ALL[i]`
    /// (pm-cosmo's parameter set). The default errors (a stepper that does not depend on the
    /// cosmology, or does not know how); the stock steppers compute them with dual numbers
    /// through the same formulas as [`Stepper::kick`].
    fn kick_derivatives(
        &self,
        a_from: f64,
        a_to: f64,
        a_force: f64,
    ) -> Result<[Coefficients; N_PARAMS], IntegrateError> {
        let _ = (a_from, a_to, a_force);
        Err(no_derivatives(&self.name()))
    }
    /// Derivatives of the drift coefficients with respect to the cosmological parameters,
    /// as [`Stepper::kick_derivatives`].
    fn drift_derivatives(
        &self,
        a_from: f64,
        a_to: f64,
        a_mom: f64,
    ) -> Result<[Coefficients; N_PARAMS], IntegrateError> {
        let _ = (a_from, a_to, a_mom);
        Err(no_derivatives(&self.name()))
    }
}

fn no_derivatives(name: &str) -> IntegrateError {
    IntegrateError::Config {
        what: "stepper",
        reason: format!("{name} does not provide derivatives with respect to the cosmology"),
    }
}

/// The LPT fields `(psi1, psi2)` of some particles, for the updates' LPT-frame terms.
type Frame<'a, T> = Option<(&'a [[T; 3]], Option<&'a [[T; 3]]>)>;

/// The LPT fields a state carries, as a [`Frame`].
fn frame<T: Real>(state: &State<T>) -> Frame<'_, T> {
    state.psi1.as_deref().map(|p1| (p1, state.psi2.as_deref()))
}

/// `y_i += c.scale * x_i + c.psi1 * psi1_i + c.psi2 * psi2_i`, in f64 per element, with the
/// LPT fields `(psi1, psi2)` of the same particles (needed only when the coefficients move
/// the LPT frame): the update of a kick (`y = p`, `x = F`) or a drift (`y = x`, `x = p`).
fn update<T: Real>(
    y: &mut [[T; 3]],
    x: &[[T; 3]],
    c: Coefficients,
    lpt: Frame<'_, T>,
) -> Result<(), IntegrateError> {
    let frame = c.psi1 != 0.0 || c.psi2 != 0.0;
    if frame && lpt.is_none() {
        return Err(IntegrateError::Config {
            what: "stepper",
            reason: "this stepper moves the LPT frame (COLA) but the state carries no LPT \
                     fields"
                .into(),
        });
    }
    y.par_iter_mut()
        .zip(x.par_iter())
        .enumerate()
        .for_each(|(i, (y, x))| {
            let shift = match (frame, lpt) {
                (true, Some((psi1, psi2))) => {
                    let s1 = psi1[i];
                    match psi2 {
                        Some(psi2) => std::array::from_fn(|a| {
                            c.psi1 * s1[a].as_f64() + c.psi2 * psi2[i][a].as_f64()
                        }),
                        None => std::array::from_fn(|a| c.psi1 * s1[a].as_f64()),
                    }
                }
                _ => [0.0; 3],
            };
            for a in 0..3 {
                y[a] = T::lit(y[a].as_f64() + c.scale * x[a].as_f64() + shift[a]);
            }
        });
    Ok(())
}

/// `sum_i a_i . b_i`, accumulated in f64 (per parallel task, then in task order).
pub(crate) fn dot<T: Real>(a: &[[T; 3]], b: &[[T; 3]]) -> f64 {
    a.par_iter()
        .zip(b.par_iter())
        .map(|(x, y)| (0..3).map(|k| x[k].as_f64() * y[k].as_f64()).sum::<f64>())
        .collect::<Vec<_>>()
        .iter()
        .sum()
}

/// `y += s * x` elementwise, in f64.
pub(crate) fn axpy<T: Real>(y: &mut [[T; 3]], s: f64, x: &[[T; 3]]) {
    y.par_iter_mut().zip(x.par_iter()).for_each(|(y, x)| {
        for k in 0..3 {
            y[k] = T::lit(y[k].as_f64() + s * x[k].as_f64());
        }
    });
}

/// VJP of [`update`] for the cotangent `y_bar` of its output (which is also the cotangent
/// of its input `y`, unchanged): accumulates `psi_bar += (c.psi1, c.psi2) y_bar` when the
/// update moves the LPT frame, and returns the cotangents of the coefficients,
/// `[<y_bar, x>, <y_bar, psi1>, <y_bar, psi2>]` (this rank's sums; 0 without LPT fields).
/// The cotangent of `x`, `c.scale y_bar`, is left to the caller.
fn update_vjp<T: Real>(
    y_bar: &[[T; 3]],
    x: &[[T; 3]],
    c: Coefficients,
    lpt: Frame<'_, T>,
    psi_bar: &mut Option<LptCotangent<T>>,
) -> [f64; 3] {
    let Some((psi1, psi2)) = lpt else {
        return [dot(y_bar, x), 0.0, 0.0];
    };
    if c.psi1 != 0.0 || c.psi2 != 0.0 {
        let order = if psi2.is_some() {
            LptOrder::Second
        } else {
            LptOrder::First
        };
        let bar = psi_bar.get_or_insert_with(|| LptCotangent::zeros(y_bar.len(), order));
        axpy(&mut bar.psi1, c.psi1, y_bar);
        if let Some(p2) = bar.psi2.as_mut() {
            axpy(p2, c.psi2, y_bar);
        }
    }
    [
        dot(y_bar, x),
        dot(y_bar, psi1),
        psi2.map_or(0.0, |p| dot(y_bar, p)),
    ]
}

/// Kicks `state.mom` from `a_from` to `a_to` with `state.acc`, evaluated at `a_force`:
/// `p += k.scale F + k.psi1 psi1 + k.psi2 psi2` with the stepper's coefficients `k` (the LPT
/// fields from the state, for COLA). Local: no communication.
pub fn kick<T: Real>(
    stepper: &dyn Stepper,
    state: &mut State<T>,
    a_from: f64,
    a_to: f64,
    a_force: f64,
) -> Result<(), IntegrateError> {
    let c = stepper.kick(a_from, a_to, a_force)?;
    let acc = state.acc.as_ref().ok_or_else(|| IntegrateError::Config {
        what: "state",
        reason: "kick needs the accelerations; compute them first".into(),
    })?;
    let psi = state.psi1.as_deref().map(|p1| (p1, state.psi2.as_deref()));
    update(&mut state.mom, acc, c, psi)
}

/// VJP of [`kick`] (same arguments; `state` holds the accelerations it used) for the
/// cotangents `bar` of its output: `bar.mom` passes through; the LPT fields' cotangents
/// `bar.lpt += k.psi bar.mom`; returns `dL/d(k.scale, k.psi1, k.psi2)` (this rank's sums).
/// The force's share, `F_bar = k.scale bar.mom`, is the caller's to carry to the positions
/// (`pm_adjoint` does the VJPs of the two kicks that use one force in one force VJP).
pub fn kick_vjp<T: Real>(
    stepper: &dyn Stepper,
    state: &State<T>,
    a_from: f64,
    a_to: f64,
    a_force: f64,
    bar: &mut StateCotangent<T>,
) -> Result<[f64; 3], IntegrateError> {
    let c = stepper.kick(a_from, a_to, a_force)?;
    let acc = state.acc.as_ref().ok_or_else(|| IntegrateError::Config {
        what: "state",
        reason: "kick_vjp needs the accelerations the kick used".into(),
    })?;
    Ok(update_vjp(&bar.mom, acc, c, frame(state), &mut bar.lpt))
}

/// Drifts `state.disp` from `a_from` to `a_to` with the momenta, taken at `a_mom`:
/// `x += d.scale p + d.psi1 psi1 + d.psi2 psi2`; drops the cached accelerations. Local: the
/// particles are not migrated ([`migrate`]).
pub fn drift<T: Real>(
    stepper: &dyn Stepper,
    state: &mut State<T>,
    a_from: f64,
    a_to: f64,
    a_mom: f64,
) -> Result<(), IntegrateError> {
    let c = stepper.drift(a_from, a_to, a_mom)?;
    let psi = state.psi1.as_deref().map(|p1| (p1, state.psi2.as_deref()));
    update(&mut state.disp, &state.mom, c, psi)?;
    state.acc = None;
    Ok(())
}

/// VJP of [`drift`] (same arguments; `state.mom` the momenta it used) for the cotangents
/// `bar` of its output: `bar.disp` passes through, `bar.mom += d.scale bar.disp`, the LPT
/// fields' `bar.lpt += d.psi bar.disp`; returns `dL/d(d.scale, d.psi1, d.psi2)` (this rank's
/// sums).
pub fn drift_vjp<T: Real>(
    stepper: &dyn Stepper,
    state: &State<T>,
    a_from: f64,
    a_to: f64,
    a_mom: f64,
    bar: &mut StateCotangent<T>,
) -> Result<[f64; 3], IntegrateError> {
    let c = stepper.drift(a_from, a_to, a_mom)?;
    let grads = update_vjp(&bar.disp, &state.mom, c, frame(state), &mut bar.lpt);
    axpy(&mut bar.mom, c.scale, &bar.disp);
    Ok(grads)
}

/// Computes `state.acc` if it is not cached. Collective: every rank caches at the same
/// points of a run, so all take part or none.
pub fn ensure_accelerations<T: Real>(
    comm: &dyn Comm,
    state: &mut State<T>,
    forces: &dyn Forces<T>,
) -> Result<(), IntegrateError> {
    if state.acc.is_none() {
        let mut acc = vec![[T::zero(); 3]; state.len()];
        forces.accelerations(comm, &state.positions(), &mut acc)?;
        state.acc = Some(acc);
    }
    Ok(())
}

/// Moves every particle to the rank that owns its x-plane of the force's mesh block
/// ([`Forces::block`]), with all its arrays (ids, displacements, momenta, the cached
/// accelerations and carried LPT fields) and the per-particle arrays `extra` (such as the
/// adjoint's cotangents). A no-op on one rank and for forces without a block. Collective.
///
/// Particles carry their global lattice index, so one can cross any number of domains in
/// one drift (it is sent straight to its new owner); the arrival order is (source rank,
/// original index).
///
/// Errors: an array of `extra` whose length is not the state's, and the migration's.
pub fn migrate<T: Real>(
    comm: &dyn Comm,
    forces: &dyn Forces<T>,
    state: &mut State<T>,
    extra: &mut [&mut Vec<[T; 3]>],
) -> Result<(), IntegrateError> {
    if let Some(v) = extra.iter().find(|v| v.len() != state.len()) {
        return Err(IntegrateError::Length {
            what: "array migrated with the particles",
            expected: state.len(),
            got: v.len(),
        });
    }
    let Some(block) = forces.block().filter(|_| comm.size() > 1) else {
        // One rank owns every plane: nothing moves (the force solve checks positions).
        return Ok(());
    };
    block
        .migration_stopwatch()
        .time(|| migrate_to(comm, block, state, extra))
}

/// [`migrate`] to the slabs of `block`.
fn migrate_to<T: Real>(
    comm: &dyn Comm,
    block: &pm_mesh::MeshBlock<T>,
    state: &mut State<T>,
    extra: &mut [&mut Vec<[T; 3]>],
) -> Result<(), IntegrateError> {
    let x: Vec<f64> = (0..state.len())
        .into_par_iter()
        .map(|i| state.position(i)[0])
        .collect();
    let box_x = block.mesh().box_size()[0];
    let mig = Migration::for_slab_x(comm, block.decomposition(), box_x, &x)?;
    drop(x);
    let ids: Vec<u64> = match state.ids.take() {
        Some(ids) => ids,
        None => (0..state.len() as u64).collect(),
    };
    state.ids = Some(mig.forward(comm, &ids)?);
    drop(ids);
    state.disp = mig.forward(comm, &state.disp)?;
    state.mom = mig.forward(comm, &state.mom)?;
    for field in [&mut state.acc, &mut state.psi1, &mut state.psi2] {
        // Every rank has the same fields (the same stepper and state history).
        if let Some(v) = field.as_mut() {
            *v = mig.forward(comm, v)?;
        }
    }
    for v in extra.iter_mut() {
        **v = mig.forward(comm, v)?;
    }
    Ok(())
}

/// Checks a local condition on every rank: when it fails on any, that rank returns its
/// own error and the others [`DecompError::Collective`] (naming `what`), so that no rank
/// waits for the others in a later collective. Collective.
pub(crate) fn agree(
    comm: &dyn Comm,
    local: Result<(), IntegrateError>,
    what: &str,
) -> Result<(), IntegrateError> {
    if comm.size() == 1 {
        return local;
    }
    let failed = comm.sum_u64(u64::from(local.is_err()))?;
    local?;
    if failed > 0 {
        return Err(DecompError::Collective(format!("{failed} rank(s) failed: {what}")).into());
    }
    Ok(())
}

/// Watches a step's drift: gets the displacements before it and the state after it
/// (before the particles migrate).
pub type DriftWatch<'a, T> = &'a mut dyn FnMut(&[[T; 3]], &State<T>) -> Result<(), IntegrateError>;

/// One kick-drift-kick step from `state.a` to `a1` with the midpoint `a_h = (a0 + a1)/2`:
/// kick `a0 -> a_h` with `F(a0)`, drift `a0 -> a1` with `p(a_h)`, migrate the particles to
/// the ranks of their new positions (a no-op on one rank), compute `F(a1)`, kick `a_h -> a1`
/// with `F(a1)` (Quinn et al. 1997; FastPM, Feng et al. 2016, sec. 2.2). One force
/// evaluation per step; `F(a1)` stays cached in the state for the next step. `watch`, when
/// given, sees the drift (the run keeps a copy of the displacements for it). Collective.
pub fn kdk_step<T: Real>(
    comm: &dyn Comm,
    stepper: &dyn Stepper,
    forces: &dyn Forces<T>,
    state: &mut State<T>,
    a1: f64,
    watch: Option<DriftWatch<'_, T>>,
) -> Result<(), IntegrateError> {
    if stepper.needs_lpt() && state.psi1.is_none() {
        return Err(IntegrateError::Config {
            what: "stepper",
            reason: format!(
                "{} needs the LPT fields carried in the state",
                stepper.name()
            ),
        });
    }
    let a0 = state.a;
    let ah = 0.5 * (a0 + a1);
    ensure_accelerations(comm, state, forces)?;
    kick(stepper, state, a0, ah, a0)?;
    match watch {
        None => drift(stepper, state, a0, a1, ah)?,
        Some(watch) => {
            let x0 = state.disp.clone();
            drift(stepper, state, a0, a1, ah)?;
            watch(&x0, state)?;
        }
    }
    migrate(comm, forces, state, &mut [])?;
    ensure_accelerations(comm, state, forces)?;
    kick(stepper, state, ah, a1, a1)?;
    state.a = a1;
    Ok(())
}

/// `int_{a0}^{a1} f(a) da` by 8-point Gauss-Legendre on pieces of at most 0.05 in ln a
/// (exact to ~1e-14 for the smooth background integrands used here). Generic over the
/// scalar so that dual numbers carry parameter derivatives through it; the nodes depend on
/// `a0, a1` only.
pub(crate) fn integrate<S: Scalar>(f: impl Fn(f64) -> S, a0: f64, a1: f64) -> S {
    const X: [f64; 4] = [
        0.1834346424956498,
        0.5255324099163290,
        0.7966664774136267,
        0.9602898564975363,
    ];
    const W: [f64; 4] = [
        0.3626837833783620,
        0.3137066458778873,
        0.2223810344533745,
        0.1012285362903763,
    ];
    if a0 == a1 {
        return S::from(0.0);
    }
    let (lo, hi, sign) = if a1 > a0 {
        (a0, a1, 1.0)
    } else {
        (a1, a0, -1.0)
    };
    let pieces = ((hi / lo).ln() / 0.05).ceil().max(1.0) as usize;
    let ratio = (hi / lo).powf(1.0 / pieces as f64);
    let mut total = S::from(0.0);
    let mut left = lo;
    for p in 0..pieces {
        let right = if p + 1 == pieces { hi } else { left * ratio };
        let (mid, half) = (0.5 * (left + right), 0.5 * (right - left));
        for (x, w) in X.iter().zip(W) {
            total += (f(mid - half * x) + f(mid + half * x)) * (w * half);
        }
        left = right;
    }
    total * sign
}

#[cfg(test)]
mod tests {
    use super::integrate;

    #[test]
    fn gauss_legendre_integrates_powers_of_a() {
        // int a^-3 da from 0.01 to 1 = (0.01^-2 - 1)/2.
        let got = integrate(|a| a.powi(-3), 0.01, 1.0);
        let want = (1e4 - 1.0) / 2.0;
        assert!((got / want - 1.0).abs() < 1e-13, "{got}");
        let back = integrate(|a| a.powi(-3), 1.0, 0.01);
        assert_eq!(back, -got);
    }
}
