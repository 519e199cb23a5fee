//! [`LocalState`]: one rank's particles, labelled by their global lattice index.

use pm_decomp::{Comm, CommData, CommExt};
use pm_fft::Real;
use pm_mesh::{Lattice, Positions};

use crate::{IntegrateError, State};

/// The particles one rank holds at scale factor `a`: for each, its global lattice index
/// `ids[i]` (C order on `lattice`, so its Lagrangian point is `lattice.q(ids[i])`), its
/// displacement from that point and its momentum (the conventions of [`State`]).
///
/// Particles move between ranks as they move through the box; every per-particle array
/// moves with them. `acc` caches the accelerations at the current positions; `psi1` and
/// `psi2` are the particles' LPT fields at unit growth, carried only for steppers that move
/// the LPT frame (COLA).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalState<T: Real> {
    /// The whole Lagrangian lattice (all ranks).
    pub lattice: Lattice,
    /// Scale factor of positions and momenta.
    pub a: f64,
    /// Global lattice index of each local particle.
    pub ids: Vec<u64>,
    /// Displacements from the lattice points, Mpc/h.
    pub disp: Vec<[T; 3]>,
    /// Momenta `p = a^3 E dx/da`, Mpc/h.
    pub mom: Vec<[T; 3]>,
    /// Accelerations at the current positions, if known.
    pub acc: Option<Vec<[T; 3]>>,
    /// First-order LPT displacement at unit growth, when carried.
    pub psi1: Option<Vec<[T; 3]>>,
    /// Second-order LPT displacement at unit growth, when carried (2LPT).
    pub psi2: Option<Vec<[T; 3]>>,
}

impl<T: Real> LocalState<T> {
    /// A local state without cached accelerations or LPT fields.
    ///
    /// Errors: arrays of different lengths ([`IntegrateError::Length`]), an index outside
    /// the lattice or a non-positive scale factor ([`IntegrateError::Config`]).
    pub fn new(
        lattice: Lattice,
        a: f64,
        ids: Vec<u64>,
        disp: Vec<[T; 3]>,
        mom: Vec<[T; 3]>,
    ) -> Result<Self, IntegrateError> {
        let state = Self {
            lattice,
            a,
            ids,
            disp,
            mom,
            acc: None,
            psi1: None,
            psi2: None,
        };
        state.validate()?;
        Ok(state)
    }

    /// Number of local particles.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the rank holds no particles.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Checks the lengths of every array, the indices and the scale factor.
    pub fn validate(&self) -> Result<(), IntegrateError> {
        let n = self.ids.len();
        let lengths = [
            ("displacements", Some(self.disp.len())),
            ("momenta", Some(self.mom.len())),
            ("accelerations", self.acc.as_ref().map(Vec::len)),
            ("psi1", self.psi1.as_ref().map(Vec::len)),
            ("psi2", self.psi2.as_ref().map(Vec::len)),
        ];
        for (what, got) in lengths {
            if let Some(got) = got.filter(|&g| g != n) {
                return Err(IntegrateError::Length {
                    what,
                    expected: n,
                    got,
                });
            }
        }
        let total = self.lattice.len() as u64;
        if let Some(bad) = self.ids.iter().find(|&&i| i >= total) {
            return Err(IntegrateError::Config {
                what: "particle index",
                reason: format!("{bad} is outside the lattice of {total} points"),
            });
        }
        if !(self.a.is_finite() && self.a > 0.0) {
            return Err(IntegrateError::Config {
                what: "scale factor",
                reason: format!("a = {} must be finite and positive", self.a),
            });
        }
        Ok(())
    }

    /// Position of local particle `i` (`q + disp`, not wrapped), Mpc/h, in f64 as
    /// [`pm_mesh::Positions`] computes it.
    #[inline]
    pub fn position(&self, i: usize) -> [f64; 3] {
        let q = self.lattice.q(self.ids[i] as usize);
        std::array::from_fn(|a| q[a] + self.disp[i][a].as_f64())
    }
}

impl<T: Real> LocalState<T> {
    /// The local particles as [`Positions::Indexed`] (`q_{ids_i} + disp_i`, evaluated in
    /// f64 as in the serial run): what the distributed force solve is handed.
    pub fn positions(&self) -> Positions<'_, T> {
        Positions::Indexed {
            lattice: self.lattice,
            ids: &self.ids,
            disp: &self.disp,
        }
    }
}

impl<T: Real + CommData> LocalState<T> {
    /// Total number of particles over all ranks. Collective.
    pub fn global_len(&self, comm: &dyn Comm) -> Result<u64, IntegrateError> {
        Ok(comm.sum_u64(self.len() as u64)?)
    }

    /// Gathers every rank's particles into the serial [`State`] (particle `i` the lattice
    /// point `i`), on every rank: for output and for comparison with a serial run.
    /// Collective; needs the memory of the whole state on each rank. Cached accelerations
    /// and LPT fields are not gathered.
    ///
    /// Errors: a particle index held by two ranks, or missing ([`IntegrateError::Config`]);
    /// ranks at different scale factors.
    pub fn gather(&self, comm: &dyn Comm) -> Result<State<T>, IntegrateError> {
        let a = comm.all_gather(&[self.a])?;
        if a.iter().flatten().any(|&x| x.to_bits() != self.a.to_bits()) {
            return Err(IntegrateError::Config {
                what: "distributed state",
                reason: "ranks are at different scale factors".into(),
            });
        }
        let ids = comm.all_gather(&self.ids)?;
        let disp = comm.all_gather(&self.disp)?;
        let mom = comm.all_gather(&self.mom)?;
        let n = self.lattice.len();
        let zero = [T::zero(); 3];
        let mut seen = vec![false; n];
        let (mut d, mut p) = (vec![zero; n], vec![zero; n]);
        for ((ids, disp), mom) in ids.iter().zip(&disp).zip(&mom) {
            for ((&id, dv), pv) in ids.iter().zip(disp).zip(mom) {
                let i = usize::try_from(id).ok().filter(|&i| i < n).ok_or_else(|| {
                    IntegrateError::Config {
                        what: "distributed state",
                        reason: format!("particle index {id} is outside the lattice"),
                    }
                })?;
                if std::mem::replace(&mut seen[i], true) {
                    return Err(IntegrateError::Config {
                        what: "distributed state",
                        reason: format!("particle {id} is held twice"),
                    });
                }
                d[i] = *dv;
                p[i] = *pv;
            }
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(IntegrateError::Config {
                what: "distributed state",
                reason: format!("particle {missing} is held by no rank"),
            });
        }
        State::new(self.lattice, self.a, d, p)
    }
}
