//! [`DistributedLpt`]: the LPT fields of one rank's slab of the particle lattice.

use std::ops::Range;

use pm_cosmo::GrowthTable;
use pm_decomp::{Comm, CommData, Decomposition, SlabDecomposition};
use pm_fft::{Complex, Real, SlabFft};
use pm_mesh::{Lattice, Mesh};

use crate::lpt::{combine_fields, forward_vjp, lpt_fields, lpt_fields_vjp};
use crate::modes::ModeAmplitudes;
use crate::spectral::{SlabSpectral, Spectral};
use crate::{
    IntegrateError, LocalState, LptCotangent, LptOrder, ModeOptions, NoiseSource,
    read_white_noise_npy, white_noise_block,
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
        let (sp, mut delta) = noise_transform(comm, mesh, fft, noise)?;
        let amplitudes = ModeAmplitudes::new(mesh, power, modes)?;
        amplitudes.apply(power, &mut delta, sp.ky0())?;
        let shape = mesh.shape();
        let decomp = fft.decomposition();
        let xr = decomp.x_range(decomp.rank());
        let (psi1, psi2) = lpt_fields(&sp, &delta, order)?;
        let plane = (shape[1] * shape[2]) as u64;
        Ok(Self {
            lattice: Lattice::new(shape, mesh.box_size())?,
            ids: xr.start as u64 * plane..xr.end as u64 * plane,
            psi1,
            psi2,
        })
    }

    /// Vector-Jacobian product of [`DistributedLpt::new`] (same arguments) for the
    /// cotangents `cotangent` of this rank's fields: this rank's blocks of the gradients
    /// with respect to the linear modes and the white noise. The serial
    /// [`crate::Lpt::vjp`] and [`crate::linear_modes_vjp`], with the same per-mode and
    /// per-cell functions, through the slab FFT; the noise and modes are recomputed.
    /// Collective.
    ///
    /// Errors: as [`DistributedLpt::new`], and cotangents of the wrong length.
    #[allow(clippy::too_many_arguments)]
    pub fn noise_vjp(
        comm: &dyn Comm,
        mesh: &Mesh,
        fft: &SlabFft<T>,
        noise: &NoiseSource,
        power: &pm_cosmo::LinearPower<f64>,
        modes: ModeOptions,
        cotangent: &LptCotangent<T>,
    ) -> Result<NoiseCotangent<T>, IntegrateError> {
        let (sp, w) = noise_transform(comm, mesh, fft, noise)?;
        let ky0 = sp.ky0();
        let amplitudes = ModeAmplitudes::new(mesh, power, modes)?;
        let mut delta = w.clone();
        amplitudes.apply(power, &mut delta, ky0)?;
        let modes_bar = lpt_fields_vjp(&sp, &delta, cotangent)?;
        drop(delta);
        let mut w_bar = modes_bar.clone();
        amplitudes.vjp(power, &mut w_bar, Some(&w), ky0)?;
        drop(w);
        let noise_bar = forward_vjp(&sp, &w_bar)?;
        Ok(NoiseCotangent {
            modes: modes_bar,
            noise: noise_bar,
        })
    }
}

/// This rank's blocks of the gradients with respect to the linear modes and the white
/// noise, from [`DistributedLpt::noise_vjp`].
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseCotangent<T: Real> {
    /// `dL/d delta_L(k)` on this rank's ky-rows of the half-complex grid
    /// (`[nx][rows][nz/2 + 1]`), in the stored-element convention of [`crate::Lpt::vjp`].
    pub modes: Vec<Complex<T>>,
    /// `dL/d noise(x)` on this rank's x-planes of the particle grid, C order.
    pub noise: Vec<T>,
}

/// This rank's block of the forward FFT of the white noise, `W_k` on its ky-rows, with the
/// rank's slabs of the transform. Collective.
///
/// Errors: the FFT's shape is not the mesh's, a noise file that cannot be used, a
/// communicator that is not the FFT's.
fn noise_transform<'a, T: Real + CommData>(
    comm: &'a dyn Comm,
    mesh: &Mesh,
    fft: &'a SlabFft<T>,
    noise: &NoiseSource,
) -> Result<(SlabSpectral<'a, T>, Vec<Complex<T>>), IntegrateError> {
    let decomp = fft.decomposition();
    if decomp.shape() != mesh.shape() {
        return Err(pm_mesh::MeshError::MeshMismatch {
            what: format!(
                "slab FFT of shape {:?} for the particle grid {:?}",
                decomp.shape(),
                mesh.shape()
            ),
        }
        .into());
    }
    let mut w = vec![Complex::new(T::zero(), T::zero()); fft.complex_len()];
    let mut real = noise_block(decomp, noise)?;
    fft.forward(comm, &mut real, &mut w)?;
    let sp = SlabSpectral {
        mesh: *mesh,
        fft,
        comm,
    };
    Ok((sp, w))
}

/// This rank's block of the white noise (the x-planes of `decomp`, C order): drawn from
/// the seed for these planes only, or read whole from the file and cut.
pub(crate) fn noise_block<T: Real>(
    decomp: &SlabDecomposition,
    noise: &NoiseSource,
) -> Result<Vec<T>, IntegrateError> {
    let shape = decomp.shape();
    let xr = decomp.x_range(decomp.rank());
    let local_shape = [xr.len(), shape[1], shape[2]];
    let block = match noise {
        NoiseSource::Seed(seed) => {
            white_noise_block::<T>(shape, [xr.start, 0, 0], local_shape, *seed)
        }
        NoiseSource::File(path) => {
            let all = read_white_noise_npy::<T>(path, shape)?;
            all.slice(ndarray::s![xr, .., ..]).to_owned()
        }
    };
    // Logical (C) order whatever the array's layout.
    Ok(block.iter().copied().collect())
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
