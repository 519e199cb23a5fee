//! Real and Fourier fields: an ndarray grid tied to its [`Mesh`], the whole grid or one
//! rank's block of it (see [`crate::MeshBlock`]).

use std::ops::Range;

use ndarray::Array3;
use pm_fft::{Complex, Fft3d, Real};

use crate::{Mesh, MeshError};

/// A real scalar field on a mesh, C order `[x][y][z]`: the whole grid, or the x-planes
/// [`RealField::planes`] of it held by one rank (`[nx_l][ny][nz]`).
///
/// ```
/// use pm_mesh::{Mesh, RealField};
/// let mesh = Mesh::cubic(8, 100.0).unwrap();
/// let f = RealField::<f32>::zeros(mesh);
/// assert_eq!(f.data().shape(), &[8, 8, 8]);
/// assert_eq!(f.planes(), 0..8);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RealField<T: Real> {
    mesh: Mesh,
    x0: usize,
    data: Array3<T>,
}

/// A half-complex Fourier field on a mesh, `[nx][ny][nz/2+1]`, unnormalised forward
/// transform of a [`RealField`] (see pm-fft for the conventions): the whole grid, or the
/// ky-rows [`FourierField::rows`] of it held by one rank (`[nx][ny_l][nz/2+1]`).
#[derive(Debug, Clone, PartialEq)]
pub struct FourierField<T: Real> {
    mesh: Mesh,
    ky0: usize,
    data: Array3<Complex<T>>,
}

/// Checks that `range` (of x-planes or ky-rows) lies in `0..n`.
fn check_range(what: &str, range: &Range<usize>, n: usize) -> Result<(), MeshError> {
    if range.start > range.end || range.end > n {
        return Err(MeshError::MeshMismatch {
            what: format!("{what} {range:?} of a mesh with {n}"),
        });
    }
    Ok(())
}

/// `Err` unless a field holds the whole grid (whole-grid transforms and spectra).
fn check_whole(whole: bool, what: &str) -> Result<(), MeshError> {
    if whole {
        Ok(())
    } else {
        Err(MeshError::MeshMismatch {
            what: format!("{what} needs the whole grid, not one rank's block of it"),
        })
    }
}

fn check_shape(what: &str, expected: [usize; 3], got: &[usize]) -> Result<(), MeshError> {
    if got != expected {
        return Err(MeshError::MeshMismatch {
            what: format!("{what} has shape {got:?}, the mesh needs {expected:?}"),
        });
    }
    Ok(())
}

fn check_plan<T: Real>(mesh: &Mesh, plan: &dyn Fft3d<T>) -> Result<(), MeshError> {
    if plan.shape() != mesh.shape() {
        return Err(MeshError::MeshMismatch {
            what: format!(
                "FFT plan of shape {:?} for a mesh of shape {:?}",
                plan.shape(),
                mesh.shape()
            ),
        });
    }
    Ok(())
}

impl<T: Real> RealField<T> {
    /// A zero field.
    pub fn zeros(mesh: Mesh) -> Self {
        Self {
            data: Array3::from_elem(mesh.shape(), T::zero()),
            x0: 0,
            mesh,
        }
    }

    /// Wraps an array of the mesh's shape (standard C layout required).
    pub fn from_array(mesh: Mesh, data: Array3<T>) -> Result<Self, MeshError> {
        check_shape("real array", mesh.shape(), data.shape())?;
        let data = data.as_standard_layout().into_owned();
        Ok(Self { mesh, x0: 0, data })
    }

    /// The field whose cells (C order) are `data`, of length `mesh.n_cells()`.
    pub fn from_vec(mesh: Mesh, data: Vec<T>) -> Result<Self, MeshError> {
        let nx = mesh.shape()[0];
        Self::from_block(mesh, 0..nx, data)
    }

    /// One rank's block of a field: the x-planes `planes` of the mesh, whose cells (C order,
    /// `[nx_l][ny][nz]`) are `data`.
    pub fn from_block(mesh: Mesh, planes: Range<usize>, data: Vec<T>) -> Result<Self, MeshError> {
        let [nx, ny, nz] = mesh.shape();
        check_range("x-planes", &planes, nx)?;
        let got = data.len();
        let shape = [planes.len(), ny, nz];
        let data = Array3::from_shape_vec(shape, data).map_err(|_| MeshError::Length {
            what: "real field values",
            expected: shape.iter().product(),
            got,
        })?;
        Ok(Self {
            mesh,
            x0: planes.start,
            data,
        })
    }

    /// The mesh.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// The x-planes of the mesh this field holds (`0..nx` for the whole grid).
    pub fn planes(&self) -> Range<usize> {
        self.x0..self.x0 + self.data.shape()[0]
    }

    /// Whether the field holds the whole grid.
    pub fn is_whole(&self) -> bool {
        self.data.shape()[0] == self.mesh.shape()[0]
    }

    /// The grid values.
    pub fn data(&self) -> &Array3<T> {
        &self.data
    }

    /// The grid values, mutable.
    pub fn data_mut(&mut self) -> &mut Array3<T> {
        &mut self.data
    }

    /// The grid as a flat C-order slice.
    pub fn as_slice(&self) -> &[T] {
        self.data
            .as_slice()
            .expect("fields are always in standard layout")
    }

    /// The grid as a flat, mutable C-order slice.
    pub fn as_slice_mut(&mut self) -> &mut [T] {
        self.data
            .as_slice_mut()
            .expect("fields are always in standard layout")
    }

    /// Gives back the array.
    pub fn into_array(self) -> Array3<T> {
        self.data
    }

    /// Sum of all cells, accumulated in f64.
    pub fn sum(&self) -> f64 {
        self.as_slice().iter().map(|v| v.as_f64()).sum()
    }

    /// Forward FFT (the field is copied first; `plan` must have the mesh's shape).
    pub fn forward(&self, plan: &dyn Fft3d<T>) -> Result<FourierField<T>, MeshError> {
        let mut scratch = self.clone();
        scratch.forward_in_place(plan)
    }

    /// Forward FFT that uses this field's storage as scratch (its values are lost). Needs
    /// the whole grid (a block is transformed by [`crate::MeshBlock::forward`]).
    pub fn forward_in_place(&mut self, plan: &dyn Fft3d<T>) -> Result<FourierField<T>, MeshError> {
        check_whole(self.is_whole(), "a forward FFT with a serial plan")?;
        check_plan(&self.mesh, plan)?;
        let mut out = FourierField::zeros(self.mesh);
        plan.forward(self.as_slice_mut(), out.as_slice_mut())?;
        Ok(out)
    }
}

impl<T: Real> FourierField<T> {
    /// A zero field.
    pub fn zeros(mesh: Mesh) -> Self {
        Self {
            data: Array3::from_elem(mesh.complex_shape(), Complex::new(T::zero(), T::zero())),
            ky0: 0,
            mesh,
        }
    }

    /// Wraps an array of the mesh's Fourier shape `[nx, ny, nz/2+1]`.
    pub fn from_array(mesh: Mesh, data: Array3<Complex<T>>) -> Result<Self, MeshError> {
        check_shape("Fourier array", mesh.complex_shape(), data.shape())?;
        let data = data.as_standard_layout().into_owned();
        Ok(Self { mesh, ky0: 0, data })
    }

    /// The field whose modes (C order, `[nx, ny, nz/2+1]`) are `data`.
    pub fn from_vec(mesh: Mesh, data: Vec<Complex<T>>) -> Result<Self, MeshError> {
        let ny = mesh.shape()[1];
        Self::from_block(mesh, 0..ny, data)
    }

    /// One rank's block of a Fourier field: the ky-rows `rows` of the mesh, whose modes (C
    /// order, `[nx][ny_l][nz/2+1]`) are `data`.
    pub fn from_block(
        mesh: Mesh,
        rows: Range<usize>,
        data: Vec<Complex<T>>,
    ) -> Result<Self, MeshError> {
        let [nx, ny, nzc] = mesh.complex_shape();
        check_range("ky-rows", &rows, ny)?;
        let shape = [nx, rows.len(), nzc];
        let got = data.len();
        let data = Array3::from_shape_vec(shape, data).map_err(|_| MeshError::Length {
            what: "Fourier field modes",
            expected: shape.iter().product(),
            got,
        })?;
        Ok(Self {
            mesh,
            ky0: rows.start,
            data,
        })
    }

    /// The mesh.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// The ky-rows of the mesh this field holds (`0..ny` for the whole grid).
    pub fn rows(&self) -> Range<usize> {
        self.ky0..self.ky0 + self.data.shape()[1]
    }

    /// Whether the field holds the whole grid.
    pub fn is_whole(&self) -> bool {
        self.data.shape()[1] == self.mesh.shape()[1]
    }

    /// The Fourier modes.
    pub fn data(&self) -> &Array3<Complex<T>> {
        &self.data
    }

    /// The Fourier modes, mutable.
    pub fn data_mut(&mut self) -> &mut Array3<Complex<T>> {
        &mut self.data
    }

    /// The modes as a flat C-order slice.
    pub fn as_slice(&self) -> &[Complex<T>] {
        self.data
            .as_slice()
            .expect("fields are always in standard layout")
    }

    /// The modes as a flat, mutable C-order slice.
    pub fn as_slice_mut(&mut self) -> &mut [Complex<T>] {
        self.data
            .as_slice_mut()
            .expect("fields are always in standard layout")
    }

    /// Gives back the array.
    pub fn into_array(self) -> Array3<Complex<T>> {
        self.data
    }

    /// Inverse FFT (the modes are copied first; `plan` must have the mesh's shape).
    pub fn inverse(&self, plan: &dyn Fft3d<T>) -> Result<RealField<T>, MeshError> {
        let mut scratch = self.clone();
        scratch.inverse_in_place(plan)
    }

    /// Inverse FFT that uses this field's storage as scratch (its values are lost). Needs
    /// the whole grid (a block is transformed by [`crate::MeshBlock::inverse`]).
    pub fn inverse_in_place(&mut self, plan: &dyn Fft3d<T>) -> Result<RealField<T>, MeshError> {
        check_whole(self.is_whole(), "an inverse FFT with a serial plan")?;
        check_plan(&self.mesh, plan)?;
        let mut out = RealField::zeros(self.mesh);
        plan.inverse(self.as_slice_mut(), out.as_slice_mut())?;
        Ok(out)
    }
}
