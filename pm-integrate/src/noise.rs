//! Counter-based Gaussian white noise, and white noise read from numpy `.npy` files.
//!
//! # Generator
//!
//! Every cell's value is a pure function of `(seed, global cell index)`: the Philox4x32-10
//! counter-based generator (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers: as
//! easy as 1, 2, 3", SC11; the Random123 library) is evaluated with the cell's global C-order
//! index as the counter and the seed as the key. There is no generator state, so the same seed
//! gives bitwise the same field on any number of threads and for any domain decomposition
//! (see `docs/ARCHITECTURE.md`, "Determinism").
//!
//! For cell `(ix, iy, iz)` of a global grid `[nx, ny, nz]`:
//!
//! ```text
//! i       = (ix * ny + iy) * nz + iz                       (u64)
//! counter = [i mod 2^32, i >> 32, 0, 0]
//! key     = [seed mod 2^32, seed >> 32]
//! [w0, w1, w2, w3] = philox4x32_10(counter, key)
//! u1 = ((((w1 << 32) | w0) >> 11) + 0.5) * 2^-53           in (0, 1)
//! u2 = ((((w3 << 32) | w2) >> 11) + 0.5) * 2^-53           in (0, 1)
//! x  = sqrt(-2 ln u1) cos(2 pi u2)                          (Box-Muller, cos branch)
//! ```
//!
//! computed in f64 and rounded once to the grid's type. Counter words 2 and 3 are zero; they
//! are left free for other streams drawn from the same seed.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ndarray::{Array3, ArrayD, Axis};
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use pm_fft::Real;
use rayon::prelude::*;

use crate::IntegrateError;

/// Philox4x32 multiplier of counter word 0.
const PHILOX_M0: u32 = 0xD251_1F53;
/// Philox4x32 multiplier of counter word 2.
const PHILOX_M1: u32 = 0xCD9E_8D57;
/// Weyl increment of key word 0 (golden ratio).
const PHILOX_W0: u32 = 0x9E37_79B9;
/// Weyl increment of key word 1 (sqrt(3) - 1).
const PHILOX_W1: u32 = 0xBB67_AE85;

/// High and low 32-bit halves of the 64-bit product `a * b`.
#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// One Philox4x32 round (S-box of two multiplications, then the P-box permutation).
#[inline(always)]
fn philox_round(c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let (hi0, lo0) = mulhilo(PHILOX_M0, c[0]);
    let (hi1, lo1) = mulhilo(PHILOX_M1, c[2]);
    [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0]
}

/// The Philox4x32-10 counter-based random number generator: four 32-bit output words from
/// a 128-bit counter and a 64-bit key (Salmon, Moraes, Dror & Shaw 2011, "Parallel random
/// numbers: as easy as 1, 2, 3", SC11; Random123's `philox4x32_R` with R = 10).
///
/// Each of the 10 rounds computes, with multipliers `M0 = 0xD2511F53`, `M1 = 0xCD9E8D57`,
/// `(hi0, lo0) = M0 * c0` and `(hi1, lo1) = M1 * c2` (64-bit products split in halves) and
/// `c <- [hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0]`; between rounds the key is bumped by the
/// Weyl increments `k0 += 0x9E3779B9`, `k1 += 0xBB67AE85` (mod 2^32).
///
/// ```
/// use pm_integrate::philox4x32_10;
/// // Random123's known-answer test (kat_vectors), counter 0 and key 0.
/// assert_eq!(
///     philox4x32_10([0; 4], [0; 2]),
///     [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
/// );
/// ```
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    c = philox_round(c, k);
    for _ in 1..10 {
        k = [k[0].wrapping_add(PHILOX_W0), k[1].wrapping_add(PHILOX_W1)];
        c = philox_round(c, k);
    }
    c
}

/// 2^-53.
const TWO_POW_M53: f64 = 1.0 / 9_007_199_254_740_992.0;

/// A uniform deviate in the open interval (0, 1) from the top 53 bits of `bits`:
/// `((bits >> 11) + 0.5) 2^-53`.
#[inline(always)]
fn open_uniform(bits: u64) -> f64 {
    ((bits >> 11) as f64 + 0.5) * TWO_POW_M53
}

/// The standard normal deviate of the cell with global C-order index `index` (see the module
/// documentation for the formula).
#[inline]
fn gaussian(index: u64, key: [u32; 2]) -> f64 {
    let w = philox4x32_10([index as u32, (index >> 32) as u32, 0, 0], key);
    let u1 = open_uniform((u64::from(w[1]) << 32) | u64::from(w[0]));
    let u2 = open_uniform((u64::from(w[3]) << 32) | u64::from(w[2]));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Unit-variance Gaussian white noise on a grid of `shape = [nx, ny, nz]` cells, C order
/// `[x][y][z]`: each cell independent, mean 0, variance 1.
///
/// Cell `(ix, iy, iz)` is drawn from Philox4x32-10 with counter the global index
/// `i = (ix ny + iy) nz + iz` (as `[i mod 2^32, i >> 32, 0, 0]`) and key the seed (as
/// `[seed mod 2^32, seed >> 32]`), turned into two 53-bit uniforms in (0, 1) and one normal
/// deviate by the Box-Muller cos branch, in f64 then rounded to `T` (see the module
/// documentation). Computed in parallel over x planes with rayon; since a cell's value depends
/// only on `(seed, i)`, the field is bitwise identical for any thread count, and equal to the
/// union of the blocks of `white_noise_block`.
///
/// ```
/// use pm_integrate::white_noise;
/// let w = white_noise::<f64>([8, 8, 8], 42);
/// assert_eq!(w.shape(), &[8, 8, 8]);
/// // Deterministic: the same seed gives the same field, bit for bit.
/// assert_eq!(w, white_noise::<f64>([8, 8, 8], 42));
/// // f32 is the f64 field rounded once.
/// assert_eq!(white_noise::<f32>([8, 8, 8], 42), w.mapv(|v| v as f32));
/// ```
pub fn white_noise<T: Real>(shape: [usize; 3], seed: u64) -> Array3<T> {
    white_noise_block(shape, [0; 3], shape, seed)
}

/// The block `[start, start + local_shape)` of the global white-noise field of
/// [`white_noise`]`(global_shape, seed)`, C order, for a domain decomposition: each rank draws
/// only its own cells, and the union of the blocks is bitwise the global field.
///
/// The local cell `(jx, jy, jz)` is the global cell `(ix, iy, iz) = start + (jx, jy, jz)`, and
/// its value is keyed by the **global** linear index `i = (ix ny + iy) nz + iz` (with
/// `[nx, ny, nz] = global_shape`) and the seed, exactly as in [`white_noise`]; nothing
/// depends on the block's position in a traversal order, on the block size or on the thread
/// count. Parallel over the block's x planes with rayon.
///
/// # Panics
///
/// If the block does not lie inside the global grid (`start[a] + local_shape[a] >
/// global_shape[a]` on some axis), or the global grid has more than 2^64 cells: that is a
/// broken decomposition, not user input.
///
/// For example, `white_noise_block::<f64>([6, 4, 8], [2, 1, 0], [3, 2, 8], 7)` equals
/// `white_noise::<f64>([6, 4, 8], 7).slice(s![2..5, 1..3, ..])` bit for bit.
pub fn white_noise_block<T: Real>(
    global_shape: [usize; 3],
    start: [usize; 3],
    local_shape: [usize; 3],
    seed: u64,
) -> Array3<T> {
    for a in 0..3 {
        assert!(
            start[a]
                .checked_add(local_shape[a])
                .is_some_and(|end| end <= global_shape[a]),
            "white-noise block {start:?} + {local_shape:?} is outside the global grid \
             {global_shape:?} on axis {a}"
        );
    }
    let [_, ny, nz] = global_shape.map(|n| n as u64);
    assert!(
        global_shape
            .iter()
            .try_fold(1u64, |acc, &n| acc.checked_mul(n as u64))
            .is_some(),
        "white-noise grid {global_shape:?} has more than 2^64 cells"
    );
    let key = [seed as u32, (seed >> 32) as u32];
    let mut out = Array3::from_elem(local_shape, T::zero());
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(jx, mut plane)| {
            let ix = (start[0] + jx) as u64;
            for (jy, mut row) in plane.axis_iter_mut(Axis(0)).enumerate() {
                let iy = (start[1] + jy) as u64;
                let row_start = (ix * ny + iy) * nz + start[2] as u64;
                for (jz, v) in row.iter_mut().enumerate() {
                    *v = T::lit(gaussian(row_start + jz as u64, key));
                }
            }
        });
    out
}

/// The error of a white-noise file.
fn noise_error(path: &Path, reason: impl Into<String>) -> IntegrateError {
    IntegrateError::Noise {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads a `.npy` array of element type `A` (any number of dimensions); `Ok(None)` when the
/// file holds another dtype.
fn read_npy_as<A: ndarray_npy::ReadableElement>(
    path: &Path,
) -> Result<Option<ArrayD<A>>, IntegrateError> {
    let file = File::open(path).map_err(|e| noise_error(path, format!("cannot open: {e}")))?;
    match ArrayD::<A>::read_npy(BufReader::new(file)) {
        Ok(a) => Ok(Some(a)),
        Err(ReadNpyError::WrongDescriptor(_)) => Ok(None),
        Err(e) => Err(noise_error(path, describe_npy_error(e))),
    }
}

/// A clear reason for a `.npy` read error.
fn describe_npy_error(e: ReadNpyError) -> String {
    match e {
        ReadNpyError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "not a .npy file: it ends inside the header".into()
        }
        ReadNpyError::Io(e) => format!("cannot read: {e}"),
        ReadNpyError::ParseHeader(e) => format!("not a .npy file (invalid header: {e})"),
        ReadNpyError::MissingData => {
            "truncated .npy file: it holds fewer values than its header's shape needs".into()
        }
        ReadNpyError::ExtraBytes(n) => {
            format!("corrupt .npy file: {n} bytes after the data its header describes")
        }
        ReadNpyError::LengthOverflow => "corrupt .npy file: its shape overflows".into(),
        other => format!("cannot read .npy data: {other}"),
    }
}

/// Reads unit-variance white noise saved by numpy (`np.save`) so that a run can use the same
/// noise as another code (JaxPM's `jax.random.normal(seed, mesh_shape)` or pmwd's real white
/// noise, saved as `.npy`), then checks and converts it.
///
/// The file must hold a 3D array of `float64` or `float32` (either byte order; converted to
/// `T`, so an f32 file read as f64 is exact and an f64 file read as f32 is rounded once) of
/// exactly `shape = [nx, ny, nz]`, indexed `[x][y][z]` like every grid here. A C-order file is
/// used as is; a **Fortran-order** file (`fortran_order: True`) is accepted and converted,
/// keeping numpy's logical indexing (element `a[ix, iy, iz]` lands in cell `(ix, iy, iz)`),
/// so it gives the same field as the C-order file of the same numpy array.
///
/// Errors, all [`IntegrateError::Noise`] with the path and a reason naming the problem: a
/// missing or unreadable file ("cannot open"), a file that is not `.npy` ("not a .npy
/// file"), a truncated or corrupt one ("truncated" / "corrupt"), another dtype ("unsupported
/// dtype"), another number of dimensions or shape ("shape"), and any NaN or infinite value
/// ("non-finite", with its index).
///
/// ```
/// use pm_integrate::{read_white_noise_npy, white_noise};
/// let path = std::env::temp_dir().join(format!("pm_noise_doc_{}.npy", std::process::id()));
/// let w = white_noise::<f64>([4, 4, 4], 1);
/// ndarray_npy::write_npy(&path, &w).unwrap();
/// assert_eq!(read_white_noise_npy::<f64>(&path, [4, 4, 4]).unwrap(), w);
/// assert!(read_white_noise_npy::<f64>(&path, [4, 4, 8]).is_err());
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_white_noise_npy<T: Real>(
    path: &Path,
    shape: [usize; 3],
) -> Result<Array3<T>, IntegrateError> {
    // The declared shape first, so that a header asking for more than `shape` is an error
    // before the reader allocates from it.
    let file = File::open(path).map_err(|e| noise_error(path, format!("cannot open: {e}")))?;
    let declared = crate::npy_shape(BufReader::new(file)).map_err(|e| noise_error(path, e))?;
    if declared != shape {
        return Err(noise_error(
            path,
            format!(
                "shape {declared:?} ({} dimensions) does not match the mesh's {shape:?}",
                declared.len()
            ),
        ));
    }
    match read_npy_as::<f64>(path)? {
        Some(a) => finish_noise(path, a, shape),
        None => match read_npy_as::<f32>(path)? {
            Some(a) => finish_noise(path, a, shape),
            None => Err(noise_error(
                path,
                format!(
                    "unsupported dtype {}: white noise must be float64 or float32",
                    npy_descr(path)
                ),
            )),
        },
    }
}

/// The `descr` of a `.npy` file, for the unsupported-dtype message (best effort).
fn npy_descr(path: &Path) -> String {
    let Ok(file) = File::open(path) else {
        return "(unknown)".into();
    };
    // The descriptor is reported by a read attempt of a type nobody stores white noise as.
    match ArrayD::<bool>::read_npy(BufReader::new(file)) {
        Err(ReadNpyError::WrongDescriptor(d)) => d.to_string(),
        Ok(_) => "'|b1' (bool)".into(),
        Err(_) => "(unknown)".into(),
    }
}

/// Checks the shape and values of a read array and converts it to a C-order `Array3<T>`.
fn finish_noise<A: Copy + Into<f64>, T: Real>(
    path: &Path,
    a: ArrayD<A>,
    shape: [usize; 3],
) -> Result<Array3<T>, IntegrateError> {
    if a.shape() != shape {
        return Err(noise_error(
            path,
            format!(
                "shape {:?} ({} dimensions) does not match the mesh's {shape:?}",
                a.shape(),
                a.ndim()
            ),
        ));
    }
    // `iter` walks in logical (C) order whatever the file's layout, so Fortran-order files
    // are converted here.
    let mut values = Vec::with_capacity(a.len());
    for (i, &v) in a.iter().enumerate() {
        let v: f64 = v.into();
        if !v.is_finite() {
            let iz = i % shape[2];
            let iy = (i / shape[2]) % shape[1];
            let ix = i / (shape[2] * shape[1]);
            return Err(noise_error(
                path,
                format!("non-finite value {v} at index [{ix}, {iy}, {iz}]"),
            ));
        }
        values.push(T::lit(v));
    }
    Ok(Array3::from_shape_vec(shape, values).expect("length checked against the shape"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    #[test]
    fn blocks_tile_the_global_field() {
        let g = [7, 5, 6];
        let full = white_noise::<f64>(g, 99);
        for (start, local) in [
            ([0, 0, 0], [7, 5, 6]),
            ([3, 1, 2], [4, 3, 4]),
            ([6, 4, 5], [1, 1, 1]),
            ([2, 0, 0], [0, 5, 6]),
        ] {
            let b = white_noise_block::<f64>(g, start, local, 99);
            let want = full.slice(s![
                start[0]..start[0] + local[0],
                start[1]..start[1] + local[1],
                start[2]..start[2] + local[2]
            ]);
            assert_eq!(b, want);
        }
    }

    #[test]
    #[should_panic(expected = "outside the global grid")]
    fn a_block_outside_the_grid_panics() {
        let _ = white_noise_block::<f64>([4, 4, 4], [2, 0, 0], [3, 4, 4], 0);
    }
}
