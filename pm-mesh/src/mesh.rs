//! Mesh geometry: cells per side, box size, cell size and the wavenumbers of the Fourier grid.

use std::f64::consts::PI;

use crate::MeshError;

/// A periodic cuboid mesh of `shape = [nx, ny, nz]` cells covering a box of `box_size`
/// Mpc/h per side. Grids on it are C order `[x][y][z]`; Fourier grids are `[nx][ny][nz/2+1]`.
///
/// ```
/// use pm_mesh::Mesh;
/// let mesh = Mesh::cubic(64, 128.0).unwrap();
/// assert_eq!(mesh.cell_size(), [2.0; 3]);
/// // Fundamental and Nyquist wavenumbers in h/Mpc.
/// assert!((mesh.fundamental()[0] - 2.0 * std::f64::consts::PI / 128.0).abs() < 1e-15);
/// assert!((mesh.nyquist()[0] - std::f64::consts::PI / 2.0).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mesh {
    shape: [usize; 3],
    box_size: [f64; 3],
}

impl Mesh {
    /// A mesh of `shape` cells over a box of `box_size` Mpc/h. Every dimension must be at
    /// least 1, `nz` even (the real-to-complex axis), the arrays addressable
    /// ([`pm_fft::addressable_bytes`]), and every side finite and positive.
    pub fn new(shape: [usize; 3], box_size: [f64; 3]) -> Result<Self, MeshError> {
        if shape.contains(&0) {
            return Err(MeshError::Shape {
                shape,
                reason: "every dimension must be at least 1",
            });
        }
        if !shape[2].is_multiple_of(2) {
            return Err(MeshError::Shape {
                shape,
                reason: "nz (the real-to-complex axis) must be even",
            });
        }
        if pm_fft::addressable_bytes(shape).is_none() {
            return Err(MeshError::Shape {
                shape,
                reason: "its arrays overflow the address space",
            });
        }
        if box_size.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
            return Err(MeshError::BoxSize { box_size });
        }
        Ok(Self { shape, box_size })
    }

    /// A cubic mesh of `n^3` cells over a box of side `box_size` Mpc/h.
    pub fn cubic(n: usize, box_size: f64) -> Result<Self, MeshError> {
        Self::new([n; 3], [box_size; 3])
    }

    /// Cells per side `[nx, ny, nz]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Fourier grid shape `[nx, ny, nz/2+1]`.
    pub fn complex_shape(&self) -> [usize; 3] {
        pm_fft::complex_shape(self.shape)
    }

    /// Box side lengths in Mpc/h.
    pub fn box_size(&self) -> [f64; 3] {
        self.box_size
    }

    /// Cell side lengths in Mpc/h.
    pub fn cell_size(&self) -> [f64; 3] {
        std::array::from_fn(|i| self.box_size[i] / self.shape[i] as f64)
    }

    /// Number of cells `nx*ny*nz`.
    pub fn n_cells(&self) -> usize {
        self.shape.iter().product()
    }

    /// Box volume in (Mpc/h)^3.
    pub fn volume(&self) -> f64 {
        self.box_size.iter().product()
    }

    /// Fundamental wavenumbers `2 pi / L` in h/Mpc.
    pub fn fundamental(&self) -> [f64; 3] {
        std::array::from_fn(|i| 2.0 * PI / self.box_size[i])
    }

    /// Nyquist wavenumbers `pi / cell` in h/Mpc.
    pub fn nyquist(&self) -> [f64; 3] {
        std::array::from_fn(|i| PI * self.shape[i] as f64 / self.box_size[i])
    }

    /// Signed integer frequency of Fourier index `j` along an axis of `n` cells
    /// (numpy's `fftfreq(n) * n`): `j` if `2j < n`, else `j - n`; the Nyquist bin of an even
    /// axis is therefore `-n/2`. Along the half-complex
    /// z axis, `j` runs over `0..=nz/2` and the frequency is `j`.
    pub fn frequency(n: usize, j: usize) -> i64 {
        if 2 * j < n {
            j as i64
        } else {
            j as i64 - n as i64
        }
    }

    /// Wavenumbers in h/Mpc along `axis` for every Fourier index: length `nx` / `ny` for
    /// axes 0 / 1 (`fftfreq` order) and `nz/2+1` for axis 2 (non-negative).
    pub fn wavenumbers(&self, axis: usize) -> Vec<f64> {
        let n = self.shape[axis];
        let kf = self.fundamental()[axis];
        if axis == 2 {
            (0..=n / 2).map(|j| kf * j as f64).collect()
        } else {
            (0..n).map(|j| kf * Self::frequency(n, j) as f64).collect()
        }
    }

    /// Number of times a half-complex mode with z index `jz` stands for itself in the full
    /// spectrum: 1 on the `kz = 0` and `kz = nz/2` planes, 2 elsewhere (its Hermitian
    /// partner is implicit). Sums over all modes of `|X_k|^2` are
    /// `sum hermitian_weight(jz) |X[jx][jy][jz]|^2`.
    pub fn hermitian_weight(&self, jz: usize) -> f64 {
        if jz == 0 || 2 * jz == self.shape[2] {
            1.0
        } else {
            2.0
        }
    }
}
