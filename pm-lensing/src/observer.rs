//! A pm-integrate [`Observer`] that builds a convergence map while a simulation runs.

use pm_fft::Real;
use pm_integrate::{IntegrateError, Observer, State, StepInfo};
use pm_mesh::{Lattice, Positions};

use crate::{BornProjection, LensingError, SkyMap, StepCrossings};

/// Feeds every step of a run to a [`BornProjection`] and keeps the map.
///
/// It holds one copy of the previous step's displacements (the only extra memory).
///
/// ```no_run
/// # use pm_cosmo::Cosmology;
/// # use pm_integrate::Simulation;
/// # use pm_lensing::*;
/// # let sim = Simulation::<f32, _>::builder(Cosmology::planck18()).build().unwrap();
/// # let born: BornProjection<FlatSky> = todo!();
/// let mut observer = ConvergenceObserver::new(&born);
/// sim.run(&mut [&mut observer]).unwrap();
/// let kappa = observer.finish().unwrap();
/// ```
pub struct ConvergenceObserver<'a, M: SkyMap, T: Real> {
    projection: &'a BornProjection<M>,
    kappa: Vec<f64>,
    previous: Option<(Lattice, Vec<[T; 3]>)>,
    a_first: Option<f64>,
    a_last: Option<f64>,
    steps: Vec<StepCrossings>,
}

impl<'a, M: SkyMap, T: Real> ConvergenceObserver<'a, M, T> {
    /// An empty map for `projection`.
    pub fn new(projection: &'a BornProjection<M>) -> Self {
        Self {
            projection,
            kappa: vec![0.0; projection.map().npix()],
            previous: None,
            a_first: None,
            a_last: None,
            steps: Vec::new(),
        }
    }

    /// Crossing counts per observed step.
    pub fn steps(&self) -> &[StepCrossings] {
        &self.steps
    }

    /// The convergence map: the particles' sum less the mean term of the lightcone's depth
    /// (from the first to the last observed scale factor). Errors if no step was observed.
    pub fn finish(self) -> Result<Vec<f64>, LensingError> {
        let (Some(a_first), Some(a_last)) = (self.a_first, self.a_last) else {
            return Err(crate::error::config(
                "lightcone",
                "no step was observed: run the simulation with this observer",
            ));
        };
        let mean = self.projection.mean_convergence(a_first, a_last)?;
        Ok(self.kappa.into_iter().map(|k| k - mean).collect())
    }
}

impl<M: SkyMap, T: Real> Observer<T> for ConvergenceObserver<'_, M, T> {
    fn observe(&mut self, info: &StepInfo, state: &State<T>) -> Result<(), IntegrateError> {
        if let Some((lattice, disp)) = self.previous.take() {
            let x0 = Positions::Displaced {
                lattice,
                disp: &disp,
            };
            let counts = self.projection.add_step(
                info.a_prev,
                info.a,
                &x0,
                &state.positions(),
                &mut self.kappa,
            )?;
            self.steps.push(counts);
            self.a_first.get_or_insert(info.a_prev);
            self.a_last = Some(info.a);
        }
        self.previous = Some((state.lattice, state.disp.clone()));
        Ok(())
    }
}
