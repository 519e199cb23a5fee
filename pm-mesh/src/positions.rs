//! Particle positions: absolute, or a displacement from a Lagrangian lattice point.

use pm_fft::Real;

use crate::{Mesh, MeshError};

/// A uniform Lagrangian lattice of `shape` points over a periodic box of `box_size` Mpc/h:
/// point `i = (ix, iy, iz)` (C order, `iz` fastest) sits at
/// `q = (i + offset) * box_size / shape`, with `offset` in lattice spacings.
///
/// ```
/// use pm_mesh::Lattice;
/// let lat = Lattice::cubic(4, 100.0).unwrap();
/// assert_eq!(lat.len(), 64);
/// assert_eq!(lat.q(5), [0.0, 25.0, 25.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lattice {
    shape: [usize; 3],
    box_size: [f64; 3],
    offset: [f64; 3],
}

impl Lattice {
    /// A lattice of `shape` points over `box_size` Mpc/h, no offset.
    pub fn new(shape: [usize; 3], box_size: [f64; 3]) -> Result<Self, MeshError> {
        if shape.contains(&0) {
            return Err(MeshError::Shape {
                shape,
                reason: "every lattice dimension must be at least 1",
            });
        }
        if box_size.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
            return Err(MeshError::BoxSize { box_size });
        }
        Ok(Self {
            shape,
            box_size,
            offset: [0.0; 3],
        })
    }

    /// A cubic lattice of `n^3` points over a box of side `box_size` Mpc/h.
    pub fn cubic(n: usize, box_size: f64) -> Result<Self, MeshError> {
        Self::new([n; 3], [box_size; 3])
    }

    /// The same lattice shifted by `offset` lattice spacings (e.g. `[0.5; 3]` for points at
    /// cell centres).
    pub fn with_offset(mut self, offset: [f64; 3]) -> Self {
        self.offset = offset;
        self
    }

    /// Points per side.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Box side lengths in Mpc/h.
    pub fn box_size(&self) -> [f64; 3] {
        self.box_size
    }

    /// Offset in lattice spacings.
    pub fn offset(&self) -> [f64; 3] {
        self.offset
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Never true (a lattice has at least one point); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lagrangian position of point `i` in Mpc/h.
    #[inline]
    pub fn q(&self, i: usize) -> [f64; 3] {
        let [_, ny, nz] = self.shape;
        let idx = [i / (ny * nz), (i / nz) % ny, i % nz];
        std::array::from_fn(|a| {
            (idx[a] as f64 + self.offset[a]) * self.box_size[a] / self.shape[a] as f64
        })
    }
}

/// Where the particles are, in Mpc/h, as `(n, 3)` row-major arrays (the bytes of numpy's
/// `(n, 3)`).
///
/// Positions are evaluated in f64 and wrapped into the periodic box of the mesh, so f32
/// displacements keep their precision in large boxes. Derivatives with respect to the
/// position equal derivatives with respect to the displacement, so every `*_vjp` returns
/// one `[T; 3]` per particle for either variant.
#[derive(Debug, Clone, Copy)]
pub enum Positions<'a, T: Real> {
    /// Absolute positions.
    Absolute(&'a [[T; 3]]),
    /// Lattice point plus displacement: `x_i = q_i + disp_i`.
    Displaced {
        /// The Lagrangian lattice (its box must be the mesh's box).
        lattice: Lattice,
        /// One displacement per lattice point, Mpc/h.
        disp: &'a [[T; 3]],
    },
    /// Some lattice points, named by index, plus their displacements:
    /// `x_i = q_{ids_i} + disp_i` (one rank's particles in a distributed run, in any order).
    Indexed {
        /// The Lagrangian lattice (its box must be the mesh's box).
        lattice: Lattice,
        /// Lattice index (C order) of each particle.
        ids: &'a [u64],
        /// One displacement per particle, Mpc/h.
        disp: &'a [[T; 3]],
    },
}

impl<T: Real> Positions<'_, T> {
    /// Number of particles.
    pub fn len(&self) -> usize {
        match self {
            Positions::Absolute(x) => x.len(),
            Positions::Displaced { disp, .. } | Positions::Indexed { disp, .. } => disp.len(),
        }
    }

    /// True when there are no particles.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Lagrangian lattice the particles belong to (all ranks' particles), if any.
    pub fn lattice(&self) -> Option<Lattice> {
        match self {
            Positions::Absolute(_) => None,
            Positions::Displaced { lattice, .. } | Positions::Indexed { lattice, .. } => {
                Some(*lattice)
            }
        }
    }

    /// Position of particle `i` in Mpc/h (not wrapped).
    #[inline]
    pub fn position(&self, i: usize) -> [f64; 3] {
        match self {
            Positions::Absolute(x) => x[i].map(|v| v.as_f64()),
            Positions::Displaced { lattice, disp } => {
                let q = lattice.q(i);
                std::array::from_fn(|a| q[a] + disp[i][a].as_f64())
            }
            Positions::Indexed { lattice, ids, disp } => {
                let q = lattice.q(ids[i] as usize);
                std::array::from_fn(|a| q[a] + disp[i][a].as_f64())
            }
        }
    }

    /// Position of particle `i` in cells of `mesh`, wrapped into `[0, n)` per axis.
    #[inline]
    pub fn mesh_coords(&self, i: usize, mesh: &Mesh) -> [f64; 3] {
        let x = self.position(i);
        let shape = mesh.shape();
        let cell = mesh.cell_size();
        std::array::from_fn(|a| {
            let n = shape[a] as f64;
            let mut u = (x[a] / cell[a]).rem_euclid(n);
            if u >= n {
                // rem_euclid of a tiny negative number rounds up to n.
                u -= n;
            }
            u
        })
    }

    /// Checks the particles against `mesh`: every coordinate finite, a lattice of the
    /// right length (or indices inside it) whose box is the mesh's box.
    pub fn validate(&self, mesh: &Mesh) -> Result<(), MeshError> {
        let lattice = match self {
            Positions::Absolute(_) => None,
            Positions::Displaced { lattice, disp } => {
                if lattice.len() != disp.len() {
                    return Err(MeshError::Length {
                        what: "displacements",
                        expected: lattice.len(),
                        got: disp.len(),
                    });
                }
                Some(lattice)
            }
            Positions::Indexed { lattice, ids, disp } => {
                if ids.len() != disp.len() {
                    return Err(MeshError::Length {
                        what: "displacements",
                        expected: ids.len(),
                        got: disp.len(),
                    });
                }
                if let Some(bad) = ids.iter().find(|&&i| i >= lattice.len() as u64) {
                    return Err(MeshError::MeshMismatch {
                        what: format!(
                            "particle index {bad} outside the lattice of {} points",
                            lattice.len()
                        ),
                    });
                }
                Some(lattice)
            }
        };
        if let Some(lattice) = lattice.filter(|l| l.box_size() != mesh.box_size()) {
            return Err(MeshError::MeshMismatch {
                what: format!(
                    "lattice box {:?} Mpc/h, mesh box {:?} Mpc/h",
                    lattice.box_size(),
                    mesh.box_size()
                ),
            });
        }
        let rows = match self {
            Positions::Absolute(x) => x,
            Positions::Displaced { disp, .. } | Positions::Indexed { disp, .. } => disp,
        };
        for (index, row) in rows.iter().enumerate() {
            for v in row {
                if !v.is_finite() {
                    return Err(MeshError::NonFinite {
                        index,
                        value: v.as_f64(),
                    });
                }
            }
        }
        Ok(())
    }
}
