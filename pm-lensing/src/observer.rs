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
            _real: std::marker::PhantomData,
        }
    }

    /// Crossing counts per observed step (this rank's particles).
    pub fn steps(&self) -> &[StepCrossings] {
        &self.steps
    }

    /// The convergence map: the sum over every rank's particles (added in rank order) less
    /// the mean term of the lightcone's depth (from the first to the last observed scale
    /// factor), the same on every rank. Errors if no step was observed. Collective.
    pub fn finish(self, comm: &dyn Comm) -> Result<Vec<f64>, LensingError> {
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
        let counts = self.projection.add_step(step, &mut self.kappa)?;
        self.steps.push(counts);
        self.a_first.get_or_insert(step.a0);
        self.a_last = Some(step.a1);
        Ok(())
    }
}
