//! [`DistributedLpt`]: the LPT fields of one rank's slab of the particle lattice.

use std::ops::Range;

use pm_cosmo::GrowthTable;
use pm_decomp::{Comm, CommData, Decomposition, SlabFft};
use pm_fft::{Complex, Real};
use pm_mesh::{Lattice, Mesh};

use crate::lpt::{combine_fields, lpt_fields};
use crate::modes::ModeAmplitudes;
use crate::spectral::SlabSpectral;
use crate::{
    IntegrateError, LocalState, LptOrder, ModeOptions, NoiseSource, read_white_noise_npy,
    white_noise_block,
};

/// The LPT displacement fields at unit growth (see [`crate::Lpt`]) of the particles of one
/// rank: the lattice points of the x-planes `x_range(rank)` of the slab decomposition of the
/// particle grid, in C order, so local particle `j` is the global lattice point
/// `ids().start + j`.
///
/// Computed with the distributed FFT from the rank's block of the white noise (the same
/// global field on any rank count) through the serial code's per-mode functions; the fields
/// equal the serial [`crate::Lpt`]'s entries of these particles to rounding.
#[derive(Debug, Clone)]
pub struct DistributedLpt<T: Real> {
    lattice: Lattice,
    ids: Range<u64>,
    psi1: Vec<[T; 3]>,
    psi2: Option<Vec<[T; 3]>>,
}

impl<T: Real + CommData> DistributedLpt<T> {
    /// The fields of the calling rank from the white noise `noise` on `mesh`, the particle
    /// grid (one particle per cell, at the grid points), with the linear power `power`
    /// (`modes` as in [`crate::linear_modes`]). `fft` is the slab FFT of the grid's shape
    /// for `comm`. Collective.
    ///
    /// The rank draws only its own block of seeded noise ([`white_noise_block`]); a noise
    /// file is read whole on every rank and its block kept.
    ///
    /// Errors: the FFT's shape is not the mesh's ([`IntegrateError::Mesh`]), a noise file
    /// that cannot be used, a power spectrum that does not cover the grid's |k|, a
    /// communicator that is not the FFT's ([`IntegrateError::Decomp`]).
    pub fn new(
        comm: &dyn Comm,
        mesh: &Mesh,
        fft: &SlabFft<T>,
        noise: &NoiseSource,
        power: &pm_cosmo::LinearPower<f64>,
        modes: ModeOptions,
        order: LptOrder,
    ) -> Result<Self, IntegrateError> {
        let decomp = fft.decomposition();
        let shape = mesh.shape();
        if decomp.shape() != shape {
            return Err(pm_mesh::MeshError::MeshMismatch {
                what: format!(
                    "slab FFT of shape {:?} for the particle grid {shape:?}",
                    decomp.shape()
                ),
            }
            .into());
        }
        let xr = decomp.x_range(decomp.rank());
        let local_shape = [xr.len(), shape[1], shape[2]];
        let block = match noise {
            NoiseSource::Seed(seed) => {
                white_noise_block::<T>(shape, [xr.start, 0, 0], local_shape, *seed)
            }
            NoiseSource::File(path) => {
                let all = read_white_noise_npy::<T>(path, shape)?;
                all.slice(ndarray::s![xr.clone(), .., ..]).to_owned()
            }
        };
        // Logical (C) order whatever the array's layout.
        let mut real: Vec<T> = block.iter().copied().collect();
        drop(block);
        let amplitudes = ModeAmplitudes::new(mesh, power, modes)?;
        let sp = SlabSpectral {
            mesh: *mesh,
            fft,
            comm,
        };
        let mut delta = vec![Complex::new(T::zero(), T::zero()); fft.complex_len()];
        fft.forward(comm, &mut real, &mut delta)?;
        drop(real);
        amplitudes.apply(power, &mut delta, crate::spectral::Spectral::ky0(&sp))?;
        let (psi1, psi2) = lpt_fields(&sp, &delta, order)?;
        let plane = (shape[1] * shape[2]) as u64;
        Ok(Self {
            lattice: Lattice::new(shape, mesh.box_size())?,
            ids: xr.start as u64 * plane..xr.end as u64 * plane,
            psi1,
            psi2,
        })
    }
}

impl<T: Real> DistributedLpt<T> {
    /// The whole particle lattice.
    pub fn lattice(&self) -> Lattice {
        self.lattice
    }

    /// Global lattice indices (C order) of the local particles, consecutive.
    pub fn ids(&self) -> Range<u64> {
        self.ids.clone()
    }

    /// Number of local particles.
    pub fn len(&self) -> usize {
        self.psi1.len()
    }

    /// True when the rank holds no particles.
    pub fn is_empty(&self) -> bool {
        self.psi1.is_empty()
    }

    /// The order of the fields.
    pub fn order(&self) -> LptOrder {
        if self.psi2.is_some() {
            LptOrder::Second
        } else {
            LptOrder::First
        }
    }

    /// First-order displacement at unit growth of the local particles, Mpc/h.
    pub fn psi1(&self) -> &[[T; 3]] {
        &self.psi1
    }

    /// Second-order displacement of the local particles (times D2), Mpc/h; `None` for 1LPT.
    pub fn psi2(&self) -> Option<&[[T; 3]]> {
        self.psi2.as_deref()
    }

    /// The local particles at `a`: displacement `D1 psi1 + D2 psi2`, momentum
    /// `gp1 psi1 + gp2 psi2` (as [`crate::Lpt::state`]); the LPT fields travel with the
    /// particles when `carry_lpt` (for steppers that move the LPT frame, COLA).
    pub fn state(
        &self,
        a: f64,
        growth: &GrowthTable<f64>,
        carry_lpt: bool,
    ) -> Result<LocalState<T>, IntegrateError> {
        let g = growth.at(a)?;
        let psi2 = self.psi2.as_deref();
        let mut state = LocalState::new(
            self.lattice,
            a,
            self.ids.clone().collect(),
            combine_fields(&self.psi1, psi2, g.d1, g.d2),
            combine_fields(&self.psi1, psi2, g.gp1, g.gp2),
        )?;
        if carry_lpt {
            state.psi1 = Some(self.psi1.clone());
            state.psi2 = self.psi2.clone();
        }
        Ok(state)
    }
}
