//! A pm-integrate [`Observer`] that builds a convergence map while a simulation runs, on
//! one rank or many.

use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_integrate::{IntegrateError, Observer, State, StepInfo, StepPositions};

use crate::{BornProjection, LensingError, SkyMap, StepCrossings};

/// Feeds every step's drift of a run to a [`BornProjection`] and keeps the map.
///
/// It watches the drifts ([`Observer::observe_step`]): the run keeps one copy of the
/// displacements at the start of each step for it (the only extra memory). On several ranks
/// each rank projects its own particles into its own map, and [`ConvergenceObserver::finish`]
/// adds the ranks' maps in rank order, so the map equals the one-rank map to rounding and
/// does not depend on timing.
///
/// A projection with a stop hook ([`BornProjection::with_stop`]) that asks to stop makes
/// the observer skip the rest of its work without failing the step (so that no rank leaves
/// the run while the others wait for it in a collective); the run's driver stops every rank
/// together (e.g. by agreeing on the same flag after each step), and
/// [`ConvergenceObserver::finish`] returns [`LensingError::Stopped`] on every rank when any
/// rank's projection stopped.
///
/// ```no_run
/// # use pm_cosmo::Cosmology;
/// # use pm_decomp::SerialComm;
/// # use pm_integrate::Simulation;
/// # use pm_lensing::*;
/// # let sim = Simulation::<f32, _>::builder(Cosmology::planck18()).build().unwrap();
/// # let born: BornProjection<FlatSky> = todo!();
/// let mut observer = ConvergenceObserver::new(&born);
/// sim.run(&mut [&mut observer]).unwrap();
/// let kappa = observer.finish(&SerialComm).unwrap();
/// ```
pub struct ConvergenceObserver<'a, M: SkyMap, T: Real> {
    projection: &'a BornProjection<M>,
    kappa: Vec<f64>,
    a_first: Option<f64>,
    a_last: Option<f64>,
    steps: Vec<StepCrossings>,
    stopped: bool,
    _real: std::marker::PhantomData<T>,
}

impl<'a, M: SkyMap, T: Real> ConvergenceObserver<'a, M, T> {
    /// An empty map for `projection`.
    pub fn new(projection: &'a BornProjection<M>) -> Self {
        Self {
            projection,
            kappa: vec![0.0; projection.map().npix()],
            a_first: None,
            a_last: None,
            steps: Vec::new(),
            stopped: false,
            _real: std::marker::PhantomData,
        }
    }

    /// Crossing counts per observed step (this rank's particles).
    pub fn steps(&self) -> &[StepCrossings] {
        &self.steps
    }

    /// Whether this rank's projection was stopped by its stop hook (its map is incomplete).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The convergence map: the sum over every rank's particles (added in rank order) less
    /// the mean term of the lightcone's depth (from the first to the last observed scale
    /// factor), the same on every rank. Errors if no step was observed, and with
    /// [`LensingError::Stopped`] on every rank if any rank's projection was stopped.
    /// Collective.
    pub fn finish(self, comm: &dyn Comm) -> Result<Vec<f64>, LensingError> {
        let stopped = if comm.size() > 1 {
            comm.sum_u64(u64::from(self.stopped))
                .map_err(|e| crate::error::config("lightcone", e.to_string()))?
                > 0
        } else {
            self.stopped
        };
        if stopped {
            return Err(LensingError::Stopped);
        }
        let (Some(a_first), Some(a_last)) = (self.a_first, self.a_last) else {
            return Err(crate::error::config(
                "lightcone",
                "no step was observed: run the simulation with this observer",
            ));
        };
        let mut kappa = self.kappa;
        if comm.size() > 1 {
            comm.all_reduce_sum(&mut kappa)
                .map_err(|e| crate::error::config("lightcone", e.to_string()))?;
        }
        let mean = self.projection.mean_convergence(a_first, a_last)?;
        Ok(kappa.into_iter().map(|k| k - mean).collect())
    }
}

impl<M: SkyMap, T: Real> Observer<T> for ConvergenceObserver<'_, M, T> {
    fn observe(&mut self, _: &StepInfo, _: &State<T>) -> Result<(), IntegrateError> {
        Ok(())
    }

    fn wants_steps(&self) -> bool {
        true
    }

    fn observe_step(&mut self, step: &StepPositions<'_, T>) -> Result<(), IntegrateError> {
        if self.stopped {
            return Ok(());
        }
        let counts = match self.projection.add_step(step, &mut self.kappa) {
            Ok(counts) => counts,
            Err(LensingError::Stopped) => {
                self.stopped = true;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        self.steps.push(counts);
        self.a_first.get_or_insert(step.a0);
        self.a_last = Some(step.a1);
        Ok(())
    }
}
