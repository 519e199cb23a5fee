//! The Born projection of lightcone particles onto a sky map, with its JVP and VJP.
//!
//! With the mean particle density `n = N / V`, the Born integral over a pixel of solid angle
//! `Omega_p` becomes a sum over the particles that cross the cone in that direction
//! (`dV = r^2 dr dOmega`, `delta = n(x)/n - 1`):
//!
//! ```text
//! kappa_p = (1/Omega_p) ∫_p dOmega ∫ dr r W(r) (n(x)/n - 1)
//!         = sum_{crossings i in p} W(r_i) V_p / (r_i Omega_p)  -  ∫_{r(a_end)}^{r(a_start)} dr r W(r)
//! ```
//!
//! with `V_p = V/N` the volume per particle and `W = A g / a` the [`BornKernel`] weight (the
//! sum spread bilinearly over pixels by [`SkyMap::deposit`]). The second term, the
//! [`BornKernel::mean_convergence`] of the lightcone's depth, is the same in every pixel and
//! makes the full-sky mean vanish up to the shells' particle-count fluctuations.
//!
//! One generic routine places a crossing's deposits; it runs on `f64` for the map, on
//! `Dual64` (one tangent direction) for the JVP and on `DualSVec64<6>` (the derivatives with
//! respect to the particle's two positions) for the VJP.

use nalgebra::SVector;
use num_dual::{Derivative, Dual64, DualSVec64};
use pm_cosmo::Scalar;
use pm_fft::Real;
use pm_integrate::StepPositions;
use pm_mesh::Positions;
use rayon::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::lightcone::{box_meets_shell, crossing_point, norm_s};
use crate::sky::lift;
use crate::{BornKernel, LensingError, Lightcone, SkyMap};

/// Particles per unit of parallel work; fixed, so that the map's sums happen in the same
/// order on any thread count.
const CHUNK: usize = 4096;
/// Chunks whose step ends and replica lists are prepared at once.
const BATCH: usize = 16;
/// Replicas of one chunk in one task of the forward projection: a task holds at most
/// `CHUNK * GROUP` crossings (a particle crosses a replica's shell at most once per step).
const GROUP: usize = 8;
/// Tasks run (and whose deposits are held) at once, per worker thread; at least
/// [`MIN_TASKS`]. With the two maps' four deposits per crossing that bounds the deposits
/// held by the forward projection at `tasks * CHUNK * GROUP * 4` (16 B each for the map:
/// 32 MiB for up to 16 threads) whatever the number of replicas.
const TASKS_PER_THREAD: usize = 2;
/// The fewest tasks run at once.
const MIN_TASKS: usize = 16;
/// Particles of the VJP between two looks at the stop hook.
const STOP_EVERY: usize = 64;

/// The most particle crossings whose deposits the forward projection holds at once on
/// `threads` worker threads: `max(TASKS_PER_THREAD * threads, MIN_TASKS) * CHUNK * GROUP`
/// (each task is one chunk against at most `GROUP` replicas, and a particle crosses a
/// replica's shell at most once per step), whatever the number of replicas. Each crossing
/// deposits on a few pixels of a map; a memory estimate multiplies by its bytes.
///
/// ```
/// // 16 tasks of 4096 particles x 8 replicas on up to 8 threads.
/// assert_eq!(pm_lensing::crossings_held_at_once(2), 16 * 4096 * 8);
/// ```
pub fn crossings_held_at_once(threads: usize) -> usize {
    (TASKS_PER_THREAD.saturating_mul(threads)).max(MIN_TASKS) * CHUNK * GROUP
}

/// A request to stop a projection early (see [`BornProjection::with_stop`]): a function the
/// projection calls between units of work, `true` meaning stop.
#[derive(Clone)]
struct StopHook(Arc<dyn Fn() -> bool + Send + Sync>);

impl std::fmt::Debug for StopHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHook")
    }
}

/// Born convergence of the particles crossing an observer's lightcone, onto a sky map.
///
/// ```no_run
/// use pm_cosmo::Cosmology;
/// use pm_lensing::{BornKernel, BornProjection, FlatSky, Lightcone, Sources};
/// let kernel = BornKernel::new(&Cosmology::planck18(), &Sources::Plane { z: 1.0 }).unwrap();
/// let cone = Lightcone::new([0.0; 3], [500.0; 3], kernel.source_distance());
/// let sky = FlatSky::new([1.0, 0.3, 0.2], 10.0, 256).unwrap();
/// let born = BornProjection::new(kernel, cone, sky);
/// // feed it the steps of a run: see `ConvergenceObserver`
/// ```
#[derive(Debug, Clone)]
pub struct BornProjection<M: SkyMap> {
    kernel: BornKernel,
    cone: Lightcone,
    map: M,
    stop: Option<StopHook>,
}

/// Counts from one step (for logs and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCrossings {
    /// Periodic replicas of the box the step's shell reaches (and the map sees).
    pub replicas: usize,
    /// Particle crossings found (each particle at most once per replica).
    pub crossings: usize,
}

impl<M: SkyMap> BornProjection<M> {
    /// The projection with `kernel`'s sources and distances, `cone`'s observer, onto `map`.
    pub fn new(kernel: BornKernel, cone: Lightcone, map: M) -> Self {
        Self {
            kernel,
            cone,
            map,
            stop: None,
        }
    }

    /// The same projection, asking `stop` between units of work (a few thousand particles
    /// against a few periodic replicas: well under a second each, however many replicas a
    /// step has) whether to give up: once it answers `true`, [`Self::add_step`],
    /// [`Self::step_jvp`] and [`Self::step_vjp`] return [`LensingError::Stopped`] and what
    /// they were adding to is incomplete. E.g. a command line's signal flag. The hook is
    /// local to the calling rank: see [`crate::ConvergenceObserver`] for stopping every
    /// rank together.
    pub fn with_stop(mut self, stop: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.stop = Some(StopHook(Arc::new(stop)));
        self
    }

    /// Whether the stop hook asks to stop (never without one).
    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| (s.0)())
    }

    /// The radial kernel.
    pub fn kernel(&self) -> &BornKernel {
        &self.kernel
    }

    /// The observer.
    pub fn cone(&self) -> &Lightcone {
        &self.cone
    }

    /// The map's pixelisation.
    pub fn map(&self) -> &M {
        &self.map
    }

    /// The constant every pixel loses (see the module docs) when the lightcone runs from
    /// `a_first` to `a_last`: `∫ dr r W(r)` from `r(a_last)` to `r(a_first)`.
    pub fn mean_convergence(&self, a_first: f64, a_last: f64) -> Result<f64, LensingError> {
        let r_hi = self.kernel.distance(a_first)?.min(self.cone.r_max());
        let r_lo = self.kernel.distance(a_last)?;
        Ok(self.kernel.mean_convergence(r_lo, r_hi))
    }

    /// Adds the crossings of a step (the particles from `step.x0` at `step.a0` to `step.x1`
    /// at `step.a1`) to `kappa` (one value per pixel; the mean term is not subtracted).
    pub fn add_step<T: Real>(
        &self,
        step: &StepPositions<'_, T>,
        kappa: &mut [f64],
    ) -> Result<StepCrossings, LensingError> {
        self.check(step, kappa.len(), "convergence map")?;
        self.accumulate(step, |x, _| x, None, |pix, v: f64| kappa[pix] += v)
    }

    /// Jacobian-vector product of [`Self::add_step`]: adds `d kappa` for the position
    /// perturbations `[dx0, dx1]` (Mpc/h, one per particle) into `dkappa`.
    pub fn step_jvp<T: Real>(
        &self,
        step: &StepPositions<'_, T>,
        [dx0, dx1]: [&[[f64; 3]]; 2],
        dkappa: &mut [f64],
    ) -> Result<(), LensingError> {
        self.check(step, dkappa.len(), "map tangent")?;
        for (what, d) in [("dx0", dx0), ("dx1", dx1)] {
            if d.len() != step.x0.len() {
                return Err(LensingError::Length {
                    what,
                    expected: step.x0.len(),
                    got: d.len(),
                });
            }
        }
        self.accumulate(step, Dual64::new, Some((dx0, dx1)), |pix, v: Dual64| {
            dkappa[pix] += v.eps
        })?;
        Ok(())
    }

    /// Vector-Jacobian product of [`Self::add_step`]: for a cotangent `kappa_bar` of the
    /// map, adds `dL/dx0` into `x0_bar` and `dL/dx1` into `x1_bar` (per particle).
    pub fn step_vjp<T: Real>(
        &self,
        step: &StepPositions<'_, T>,
        kappa_bar: &[f64],
        x0_bar: &mut [[T; 3]],
        x1_bar: &mut [[T; 3]],
    ) -> Result<(), LensingError> {
        self.check(step, kappa_bar.len(), "map cotangent")?;
        let (x0, x1) = (&step.x0, &step.x1);
        for (what, b) in [
            ("x0 cotangent", x0_bar.len()),
            ("x1 cotangent", x1_bar.len()),
        ] {
            if b != x0.len() {
                return Err(LensingError::Length {
                    what,
                    expected: x0.len(),
                    got: b,
                });
            }
        }
        let Some(step) = self.prepare(step)? else {
            return Ok(());
        };
        let vp = self.particle_volume(x0);
        let l = self.cone.box_size();
        let stopped = AtomicBool::new(false);
        x0_bar
            .par_chunks_mut(CHUNK)
            .zip(x1_bar.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (b0s, b1s))| {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let first = c * CHUNK;
                let ends: Vec<_> = (first..first + b0s.len())
                    .map(|i| unwrapped_pair(x0, x1, i, l))
                    .collect();
                let shifts = self.chunk_replicas(&step, &ends);
                for (k, ((b0, b1), &(p0, p1))) in
                    b0s.iter_mut().zip(b1s.iter_mut()).zip(&ends).enumerate()
                {
                    if k % STOP_EVERY == 0
                        && (stopped.load(Ordering::Relaxed) || self.stop_requested())
                    {
                        stopped.store(true, Ordering::Relaxed);
                        return;
                    }
                    let mut grad = [0.0; 6];
                    for shift in &shifts {
                        let (y0, y1) = self.relative(p0, p1, shift);
                        if !self.cone.crosses(y0, y1, step.r0, step.r1) {
                            continue;
                        }
                        let seed = |v: [f64; 3], off: usize| -> [DualSVec64<6>; 3] {
                            std::array::from_fn(|a| {
                                let mut e = SVector::<f64, 6>::zeros();
                                e[off + a] = 1.0;
                                DualSVec64::new(v[a], Derivative::some(e))
                            })
                        };
                        self.deposits(
                            [&seed(y0, 0), &seed(y1, 3)],
                            [step.r0, step.r1],
                            vp,
                            &mut |pix, v| {
                                if let Some(d) = v.eps.0 {
                                    for (g, dv) in grad.iter_mut().zip(d.iter()) {
                                        *g += kappa_bar[pix] * dv;
                                    }
                                }
                            },
                        );
                    }
                    for a in 0..3 {
                        b0[a] = b0[a] + T::lit(grad[a]);
                        b1[a] = b1[a] + T::lit(grad[3 + a]);
                    }
                }
            });
        if stopped.into_inner() {
            return Err(LensingError::Stopped);
        }
        Ok(())
    }

    /// `V/N`, Mpc^3/h^3.
    /// The comoving volume per particle, `V / N`, with `N` the particles of the whole
    /// lattice (all ranks' particles; the particles given, for absolute positions).
    fn particle_volume<T: Real>(&self, x: &Positions<'_, T>) -> f64 {
        let n = x.lattice().map_or(x.len(), |l| l.len());
        self.cone.box_size().iter().product::<f64>() / n as f64
    }

    fn check<T: Real>(
        &self,
        step: &StepPositions<'_, T>,
        map_len: usize,
        what: &'static str,
    ) -> Result<(), LensingError> {
        let (x0, x1) = (&step.x0, &step.x1);
        if x1.len() != x0.len() {
            return Err(LensingError::Length {
                what: "positions at the step's end",
                expected: x0.len(),
                got: x1.len(),
            });
        }
        if map_len != self.map.npix() {
            return Err(LensingError::Length {
                what,
                expected: self.map.npix(),
                got: map_len,
            });
        }
        Ok(())
    }

    /// The step's cone radii and the replicas to visit; `None` when the step lies beyond the
    /// sources or holds no particle.
    fn prepare<T: Real>(&self, step: &StepPositions<'_, T>) -> Result<Option<Step>, LensingError> {
        let StepPositions { a0, a1, x0, x1, .. } = *step;
        let (x0, x1) = (&x0, &x1);
        if !(a1 > a0) {
            return Err(crate::error::config(
                "step",
                format!("a1 = {a1} must exceed a0 = {a0}"),
            ));
        }
        let r0 = self.kernel.distance(a0)?;
        let r1 = self.kernel.distance(a1)?;
        if r1 > self.cone.r_max() || x0.is_empty() {
            return Ok(None);
        }
        let l = self.cone.box_size();
        let n = x0.len();
        let (lo, hi) = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                bounds((c * CHUNK..((c + 1) * CHUNK).min(n)).map(|i| unwrapped_pair(x0, x1, i, l)))
            })
            .reduce(
                || EMPTY_BOUNDS,
                |(l0, h0), (l1, h1)| {
                    (
                        std::array::from_fn(|a| l0[a].min(l1[a])),
                        std::array::from_fn(|a| h0[a].max(h1[a])),
                    )
                },
            );
        let o = self.cone.origin();
        let half_diagonal = 0.5 * (0..3).map(|a| (hi[a] - lo[a]).powi(2)).sum::<f64>().sqrt();
        let shifts = self
            .cone
            .replicas(lo, hi, r1, r0)
            .into_iter()
            .filter(|s| {
                let centre = std::array::from_fn(|a| 0.5 * (lo[a] + hi[a]) + s[a] - o[a]);
                self.map.sees_ball(centre, half_diagonal)
            })
            .collect();
        Ok(Some(Step { r0, r1, shifts }))
    }

    /// The step's replicas that can hold a crossing of the particles whose step ends are
    /// `ends`: those whose copy of the particles' bounding box meets the step's shell and the
    /// map ([`Lightcone::replicas`] order kept). Particles in index order are lattice planes,
    /// so a chunk's box is small and most replicas drop out.
    fn chunk_replicas(&self, step: &Step, ends: &[([f64; 3], [f64; 3])]) -> Vec<[f64; 3]> {
        let (lo, hi) = bounds(ends.iter().copied());
        let o = self.cone.origin();
        let half_diagonal = 0.5 * (0..3).map(|a| (hi[a] - lo[a]).powi(2)).sum::<f64>().sqrt();
        step.shifts
            .iter()
            .filter(|s| {
                let centre = std::array::from_fn(|a| 0.5 * (lo[a] + hi[a]) + s[a] - o[a]);
                box_meets_shell(lo, hi, **s, o, step.r1, step.r0.min(self.cone.r_max()))
                    && self.map.sees_ball(centre, half_diagonal)
            })
            .copied()
            .collect()
    }

    fn relative(&self, p0: [f64; 3], p1: [f64; 3], shift: &[f64; 3]) -> ([f64; 3], [f64; 3]) {
        let o = self.cone.origin();
        (
            std::array::from_fn(|a| p0[a] + shift[a] - o[a]),
            std::array::from_fn(|a| p1[a] + shift[a] - o[a]),
        )
    }

    /// The deposits of one crossing from `y0` to `y1` over the step's shell `[r0, r1]`:
    /// `W(r) V_p / r * w_pix / Omega_pix` at the crossing point `y*` (positions relative to
    /// the observer).
    fn deposits<S: Scalar>(
        &self,
        [y0, y1]: [&[S; 3]; 2],
        [r0, r1]: [f64; 2],
        vp: f64,
        out: &mut dyn FnMut(usize, S),
    ) {
        let y = crossing_point(y0, y1, r0, r1);
        let r = norm_s(&y);
        let (w, dw) = self.kernel.weight(r.re());
        if w == 0.0 && dw == 0.0 {
            return;
        }
        let c = lift(r, w, dw) * vp / r;
        self.map.deposit(&y, &mut |pix, wt| {
            out(pix, c * wt / self.map.pixel_area(pix))
        });
    }

    /// Runs the crossings of a step through [`Self::deposits`] with `S` built from each
    /// position coordinate and its tangent by `make`, and hands every deposit to `apply` in
    /// a fixed order (chunks of [`CHUNK`] particles in index order, replicas in
    /// [`Lightcone::replicas`] order within a chunk, particles in index order within a
    /// replica), the same on any thread count.
    ///
    /// The work is split into tasks of one chunk against at most [`GROUP`] of its replicas,
    /// run in parallel a bounded number at a time (see [`TASKS_PER_THREAD`]), each task's
    /// deposits applied in task order before the next tasks start: the deposits held at once
    /// are bounded whatever the number of replicas (a small box under a deep lightcone has
    /// thousands per step). The stop hook is asked before every round of tasks.
    #[allow(clippy::type_complexity)]
    fn accumulate<T: Real, S: Scalar>(
        &self,
        positions: &StepPositions<'_, T>,
        make: impl Fn(f64, f64) -> S + Sync,
        tangent: Option<(&[[f64; 3]], &[[f64; 3]])>,
        mut apply: impl FnMut(usize, S),
    ) -> Result<StepCrossings, LensingError> {
        if self.stop_requested() {
            return Err(LensingError::Stopped);
        }
        let Some(step) = self.prepare(positions)? else {
            return Ok(StepCrossings::default());
        };
        let (x0, x1) = (&positions.x0, &positions.x1);
        let n = x0.len();
        let vp = self.particle_volume(x0);
        let l = self.cone.box_size();
        let tasks_at_once = crossings_held_at_once(rayon::current_num_threads()) / (CHUNK * GROUP);
        let mut crossings = 0;
        let chunks: Vec<usize> = (0..n.div_ceil(CHUNK)).collect();
        for batch in chunks.chunks(BATCH) {
            if self.stop_requested() {
                return Err(LensingError::Stopped);
            }
            // Each chunk's particle range, step ends and replicas.
            let prepared: Vec<_> = batch
                .par_iter()
                .map(|&c| {
                    let range = c * CHUNK..((c + 1) * CHUNK).min(n);
                    let ends: Vec<_> = range
                        .clone()
                        .map(|i| unwrapped_pair(x0, x1, i, l))
                        .collect();
                    let shifts = self.chunk_replicas(&step, &ends);
                    (range, ends, shifts)
                })
                .collect();
            // Tasks in the order their deposits are applied: by chunk, then replica group.
            let tasks: Vec<(usize, usize)> = prepared
                .iter()
                .enumerate()
                .flat_map(|(k, (_, _, shifts))| {
                    (0..shifts.len().div_ceil(GROUP)).map(move |g| (k, g))
                })
                .collect();
            for round in tasks.chunks(tasks_at_once) {
                if self.stop_requested() {
                    return Err(LensingError::Stopped);
                }
                let found: Vec<(usize, Vec<(usize, S)>)> = round
                    .par_iter()
                    .map(|&(k, g)| {
                        let (range, ends, shifts) = &prepared[k];
                        let group = &shifts[g * GROUP..((g + 1) * GROUP).min(shifts.len())];
                        let mut out = Vec::new();
                        let mut count = 0;
                        for shift in group {
                            for (i, &(p0, p1)) in range.clone().zip(ends) {
                                let (y0, y1) = self.relative(p0, p1, shift);
                                if !self.cone.crosses(y0, y1, step.r0, step.r1) {
                                    continue;
                                }
                                count += 1;
                                let (d0, d1) = match tangent {
                                    Some((d0, d1)) => (d0[i], d1[i]),
                                    None => ([0.0; 3], [0.0; 3]),
                                };
                                let s0 = std::array::from_fn(|a| make(y0[a], d0[a]));
                                let s1 = std::array::from_fn(|a| make(y1[a], d1[a]));
                                self.deposits([&s0, &s1], [step.r0, step.r1], vp, &mut |pix, v| {
                                    out.push((pix, v))
                                });
                            }
                        }
                        (count, out)
                    })
                    .collect();
                for (count, deposits) in found {
                    crossings += count;
                    for (pix, v) in deposits {
                        apply(pix, v);
                    }
                }
            }
        }
        Ok(StepCrossings {
            replicas: step.shifts.len(),
            crossings,
        })
    }
}

struct Step {
    r0: f64,
    r1: f64,
    shifts: Vec<[f64; 3]>,
}

/// The empty box, identity of [`bounds`].
const EMPTY_BOUNDS: ([f64; 3], [f64; 3]) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);

/// The axis-aligned bounding box `(lo, hi)` of pairs of points (a particle's two step ends).
fn bounds(points: impl IntoIterator<Item = ([f64; 3], [f64; 3])>) -> ([f64; 3], [f64; 3]) {
    points
        .into_iter()
        .fold(EMPTY_BOUNDS, |(mut lo, mut hi), (p, q)| {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]).min(q[a]);
                hi[a] = hi[a].max(p[a]).max(q[a]);
            }
            (lo, hi)
        })
}

/// Unwrapped positions of particle `i` at both ends of a step: `x0` as given (`q + disp`
/// for lattice positions) and `x1` moved by whole boxes to the periodic image nearest `x0`
/// (a particle moves far less than half a box in a step).
#[inline]
fn unwrapped_pair<T: Real>(
    x0: &Positions<'_, T>,
    x1: &Positions<'_, T>,
    i: usize,
    box_size: [f64; 3],
) -> ([f64; 3], [f64; 3]) {
    let p0 = x0.position(i);
    let p1 = x1.position(i);
    let p1 = std::array::from_fn(|a| {
        let d = p1[a] - p0[a];
        p0[a] + d - box_size[a] * (d / box_size[a]).round()
    });
    (p0, p1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FullSky, Sources};
    use pm_cosmo::Cosmology;
    use pm_testkit::SplitMix64;
    use std::sync::atomic::AtomicUsize;

    /// A small box (32 Mpc/h) under a lightcone 290 Mpc/h deep: one step's shell holds
    /// hundreds of replicas, so the forward projection splits into many tasks and rounds.
    fn deep_setup() -> (BornProjection<FullSky>, Vec<[f64; 3]>, Vec<[f64; 3]>) {
        let kernel = BornKernel::new(&Cosmology::planck18(), &Sources::Plane { z: 0.1 }).unwrap();
        let l = 32.0;
        let cone = Lightcone::new([7.0, 8.5, 9.0], [l; 3], kernel.source_distance());
        let born = BornProjection::new(kernel, cone, FullSky::new(4).unwrap());
        let mut rng = SplitMix64::new(11);
        let n = CHUNK + 700;
        let x0: Vec<[f64; 3]> = (0..n)
            .map(|_| std::array::from_fn(|_| l * rng.uniform()))
            .collect();
        let x1 = x0
            .iter()
            .map(|p| std::array::from_fn(|a| (p[a] + 0.5 * rng.signed()).rem_euclid(l)))
            .collect();
        (born, x0, x1)
    }

    fn step<'a>(x0: &'a [[f64; 3]], x1: &'a [[f64; 3]]) -> StepPositions<'a, f64> {
        StepPositions {
            step: 0,
            a0: 0.96,
            a1: 0.965,
            x0: Positions::Absolute(x0),
            x1: Positions::Absolute(x1),
        }
    }

    /// The forward map, split into bounded tasks, is bit for bit the map of the plain serial
    /// loop (chunks, their replicas, particles) on 1 and 3 threads.
    #[test]
    fn bounded_tasks_give_the_serial_loops_map_bit_for_bit() {
        let (born, x0, x1) = deep_setup();
        let step = step(&x0, &x1);
        let prepared = born.prepare(&step).unwrap().unwrap();
        assert!(prepared.shifts.len() > 100, "{}", prepared.shifts.len());
        let vp = born.particle_volume(&step.x0);
        let l = born.cone.box_size();
        let mut reference = vec![0.0; born.map.npix()];
        let mut crossings = 0;
        for c in 0..x0.len().div_ceil(CHUNK) {
            let range = c * CHUNK..((c + 1) * CHUNK).min(x0.len());
            let ends: Vec<_> = range
                .clone()
                .map(|i| unwrapped_pair(&step.x0, &step.x1, i, l))
                .collect();
            let shifts = born.chunk_replicas(&prepared, &ends);
            assert!(shifts.len() > 2 * GROUP, "{}", shifts.len());
            for shift in &shifts {
                for &(p0, p1) in &ends {
                    let (y0, y1) = born.relative(p0, p1, shift);
                    if born.cone.crosses(y0, y1, prepared.r0, prepared.r1) {
                        crossings += 1;
                        born.deposits(
                            [&y0, &y1],
                            [prepared.r0, prepared.r1],
                            vp,
                            &mut |pix, v: f64| reference[pix] += v,
                        );
                    }
                }
            }
        }
        assert!(crossings > 1000, "{crossings}");
        for threads in [1, 3] {
            let mut kappa = vec![0.0; born.map.npix()];
            let counts = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| born.add_step(&step, &mut kappa))
                .unwrap();
            assert_eq!(counts.crossings, crossings);
            assert!(kappa == reference, "{threads} threads");
        }
    }

    /// A stop hook that answers `true` after a few questions stops the forward map, the
    /// JVP and the VJP with `Stopped`; one that never does changes nothing.
    #[test]
    fn a_stop_hook_stops_every_projection() {
        let (born, x0, x1) = deep_setup();
        let step = step(&x0, &x1);
        let npix = born.map.npix();
        let mut plain = vec![0.0; npix];
        born.add_step(&step, &mut plain).unwrap();
        let never = born.clone().with_stop(|| false);
        let mut same = vec![0.0; npix];
        never.add_step(&step, &mut same).unwrap();
        assert!(same == plain);
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let soon = born
            .clone()
            .with_stop(move || counter.fetch_add(1, Ordering::SeqCst) >= 3);
        let mut kappa = vec![0.0; npix];
        assert!(matches!(
            soon.add_step(&step, &mut kappa),
            Err(LensingError::Stopped)
        ));
        let d = vec![[0.0; 3]; x0.len()];
        assert!(matches!(
            soon.step_jvp(&step, [&d, &d], &mut kappa),
            Err(LensingError::Stopped)
        ));
        let (mut b0, mut b1) = (vec![[0.0; 3]; x0.len()], vec![[0.0; 3]; x0.len()]);
        let bar = vec![1.0; npix];
        assert!(matches!(
            soon.step_vjp(&step, &bar, &mut b0, &mut b1),
            Err(LensingError::Stopped)
        ));
    }
}
