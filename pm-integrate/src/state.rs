//! The particle state: displacements from the Lagrangian lattice and momenta, of the
//! particles one rank holds (all of them on one rank), and their cotangents.

use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_mesh::{Lattice, Positions};

use crate::{IntegrateError, LptCotangent};

/// Particles at scale factor `a`: displacement `disp` from the lattice point `q` (Mpc/h) and
/// momentum `mom = p = a^3 E(a) dx/da` (Mpc/h, docs/ARCHITECTURE.md), as `(n, 3)` row-major arrays.
/// The position is `(q + disp) mod L`.
///
/// On one rank a state holds every lattice point in order (`ids` is `None`: particle `i` is
/// lattice point `i`). In a run over several ranks each rank holds the particles of its slab
/// of the force mesh, named by their global lattice index `ids[i]` (C order on `lattice`), in
/// any order; particles move between ranks as they move through the box
/// ([`crate::migrate`]), every per-particle array with them.
///
/// `acc` caches the acceleration `F` (`dp/da = F / (a^2 E)`) at the current positions; the
/// kick-drift-kick steppers reuse it for the first half kick of the next step. `psi1` and
/// `psi2` are the particles' LPT fields at unit growth, carried for steppers that move the
/// LPT frame (COLA).
#[derive(Debug, Clone, PartialEq)]
pub struct State<T: Real> {
    /// The Lagrangian lattice (all ranks' particles).
    pub lattice: Lattice,
    /// Scale factor of positions and momenta.
    pub a: f64,
    /// Global lattice index of each particle; `None`: particle `i` is lattice point `i` and
    /// the state holds the whole lattice.
    pub ids: Option<Vec<u64>>,
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

impl<T: Real> State<T> {
    /// The whole lattice in order (a one-rank state), checking the array lengths against
    /// the lattice.
    pub fn new(
        lattice: Lattice,
        a: f64,
        disp: Vec<[T; 3]>,
        mom: Vec<[T; 3]>,
    ) -> Result<Self, IntegrateError> {
        for (what, got) in [("displacements", disp.len()), ("momenta", mom.len())] {
            if got != lattice.len() {
                return Err(IntegrateError::Length {
                    what,
                    expected: lattice.len(),
                    got,
                });
            }
        }
        let state = Self::build(lattice, a, None, disp, mom);
        state.validate()?;
        Ok(state)
    }

    /// Some particles of the lattice, named by their global indices `ids` (one rank's share
    /// of a distributed run).
    ///
    /// Errors: arrays of different lengths ([`IntegrateError::Length`]), an index outside
    /// the lattice or a non-positive scale factor ([`IntegrateError::Config`]).
    pub fn with_ids(
        lattice: Lattice,
        a: f64,
        ids: Vec<u64>,
        disp: Vec<[T; 3]>,
        mom: Vec<[T; 3]>,
    ) -> Result<Self, IntegrateError> {
        let state = Self::build(lattice, a, Some(ids), disp, mom);
        state.validate()?;
        Ok(state)
    }

    fn build(
        lattice: Lattice,
        a: f64,
        ids: Option<Vec<u64>>,
        disp: Vec<[T; 3]>,
        mom: Vec<[T; 3]>,
    ) -> Self {
        Self {
            lattice,
            a,
            ids,
            disp,
            mom,
            acc: None,
            psi1: None,
            psi2: None,
        }
    }

    /// Number of particles (on this rank).
    pub fn len(&self) -> usize {
        self.disp.len()
    }

    /// True when there are no particles.
    pub fn is_empty(&self) -> bool {
        self.disp.is_empty()
    }

    /// Global lattice index of particle `i`.
    #[inline]
    pub fn id(&self, i: usize) -> u64 {
        self.ids.as_ref().map_or(i as u64, |ids| ids[i])
    }

    /// Checks the lengths of every array, the indices and the scale factor.
    pub fn validate(&self) -> Result<(), IntegrateError> {
        let n = self.len();
        let lengths = [
            ("ids", self.ids.as_ref().map(Vec::len)),
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
        match &self.ids {
            None if n as u64 != total => {
                return Err(IntegrateError::Length {
                    what: "displacements",
                    expected: self.lattice.len(),
                    got: n,
                });
            }
            Some(ids) => {
                if let Some(bad) = ids.iter().find(|&&i| i >= total) {
                    return Err(IntegrateError::Config {
                        what: "particle index",
                        reason: format!("{bad} is outside the lattice of {total} points"),
                    });
                }
            }
            None => {}
        }
        if !(self.a.is_finite() && self.a > 0.0) {
            return Err(IntegrateError::Config {
                what: "scale factor",
                reason: format!("a = {} must be finite and positive", self.a),
            });
        }
        Ok(())
    }

    /// The positions `q + disp` (evaluated in f64 by pm-mesh), for painting.
    pub fn positions(&self) -> Positions<'_, T> {
        self.positions_with(&self.disp)
    }

    /// The positions of this state's particles displaced by `disp` (one row per particle,
    /// e.g. the displacements at another time) instead of their own.
    pub fn positions_with<'a>(&'a self, disp: &'a [[T; 3]]) -> Positions<'a, T> {
        let lattice = self.lattice;
        match self.ids.as_deref() {
            None => Positions::Displaced { lattice, disp },
            Some(ids) => Positions::Indexed { lattice, ids, disp },
        }
    }

    /// Position of particle `i` (`q + disp`, not wrapped), Mpc/h, in f64 as
    /// [`pm_mesh::Positions`] computes it.
    #[inline]
    pub fn position(&self, i: usize) -> [f64; 3] {
        let q = self.lattice.q(self.id(i) as usize);
        std::array::from_fn(|a| q[a] + self.disp[i][a].as_f64())
    }

    /// Total momentum `sum_i p_i` of this rank's particles (accumulated in f64).
    pub fn total_momentum(&self) -> [f64; 3] {
        let mut total = [0.0f64; 3];
        for p in &self.mom {
            for a in 0..3 {
                total[a] += p[a].as_f64();
            }
        }
        total
    }

    /// Root-mean-square momentum per component (f64), the scale for momentum checks.
    pub fn rms_momentum(&self) -> f64 {
        let sum: f64 = self.mom.iter().flatten().map(|v| v.as_f64().powi(2)).sum();
        (sum / (3 * self.len().max(1)) as f64).sqrt()
    }

    /// Total number of particles over all ranks. Collective.
    pub fn global_len(&self, comm: &dyn Comm) -> Result<u64, IntegrateError> {
        Ok(comm.sum_u64(self.len() as u64)?)
    }

    /// Every rank's particles as one whole-lattice state (particle `i` the lattice point
    /// `i`), on every rank: for output and for comparisons. Collective; needs the memory of
    /// the whole state on each rank. Cached accelerations and LPT fields are not gathered.
    ///
    /// Errors: a particle index held by two ranks, or missing ([`IntegrateError::Config`]);
    /// ranks at different scale factors.
    pub fn gather(&self, comm: &dyn Comm) -> Result<State<T>, IntegrateError> {
        if comm.size() == 1 && self.ids.is_none() {
            return State::new(self.lattice, self.a, self.disp.clone(), self.mom.clone());
        }
        let a = comm.all_gather(&[self.a])?;
        if a.iter().flatten().any(|&x| x.to_bits() != self.a.to_bits()) {
            return Err(IntegrateError::Config {
                what: "distributed state",
                reason: "ranks are at different scale factors".into(),
            });
        }
        let own_ids: Vec<u64> = (0..self.len()).map(|i| self.id(i)).collect();
        let ids = comm.all_gather(&own_ids)?;
        drop(own_ids);
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
                        reason: format!("particle {id} is held by two ranks"),
                    });
                }
                d[i] = *dv;
                p[i] = *pv;
            }
        }
        if let Some(missing) = seen.iter().position(|&s| !s) {
            return Err(IntegrateError::Config {
                what: "distributed state",
                reason: format!("particle {missing} is on no rank"),
            });
        }
        State::new(self.lattice, self.a, d, p)
    }
}

/// Cotangents (gradients of a scalar objective) with respect to a state's displacements and
/// momenta, in the order of the state's particles, and, when the state carries them, its
/// LPT fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StateCotangent<T: Real> {
    /// `dL/d disp`.
    pub disp: Vec<[T; 3]>,
    /// `dL/d mom`.
    pub mom: Vec<[T; 3]>,
    /// `dL/d(psi1, psi2)` of the carried LPT fields (the steps' LPT-frame terms, COLA);
    /// `None` while zero.
    pub lpt: Option<LptCotangent<T>>,
}

impl<T: Real> StateCotangent<T> {
    /// The cotangents `disp` and `mom` (no LPT-field part).
    pub fn new(disp: Vec<[T; 3]>, mom: Vec<[T; 3]>) -> Self {
        Self {
            disp,
            mom,
            lpt: None,
        }
    }

    /// Zero cotangents for `n` particles.
    pub fn zeros(n: usize) -> Self {
        Self::new(vec![[T::zero(); 3]; n], vec![[T::zero(); 3]; n])
    }

    /// The per-particle arrays (`disp`, `mom`, and the LPT-field cotangents once
    /// allocated), to move with the particles between ranks.
    pub fn arrays(&mut self) -> Vec<&mut Vec<[T; 3]>> {
        let mut out = vec![&mut self.disp, &mut self.mom];
        if let Some(psi) = self.lpt.as_mut() {
            out.push(&mut psi.psi1);
            if let Some(p2) = psi.psi2.as_mut() {
                out.push(p2);
            }
        }
        out
    }
}
