//! [`CommData`]: plain-old-data element types that travel through a communicator as bytes.
//!
//! The workspace denies `unsafe`, so slices of numbers cannot be reinterpreted as bytes in
//! place. Instead every element type says how to write itself into, and read itself from, a
//! fixed number of **little-endian** bytes. On little-endian machines (x86-64, aarch64) the
//! encoding is the in-memory representation and the compiler turns the loops below into
//! plain copies; the explicit byte order also keeps messages meaningful between machines
//! of different endianness.
//!
//! Encodings:
//!
//! | type | bytes |
//! |---|---|
//! | `u8`, `i8` | 1 |
//! | `u16`, `i16` | 2 |
//! | `u32`, `i32`, `f32` | 4 |
//! | `u64`, `i64`, `f64`, `usize`, `isize` | 8 (`usize`/`isize` always as 64-bit) |
//! | `Complex<T>` | `re` then `im`, `2 * T::BYTES` |
//! | `[T; N]` | the elements in order, `N * T::BYTES` |
//! | `(A, B)` | `A` then `B` |

use num_complex::Complex;

use crate::DecompError;

/// An element type with a fixed-size little-endian byte encoding (see the module docs).
///
/// Implemented for the primitive integers and floats, `Complex<T>`, arrays `[T; N]` and pairs
/// `(A, B)` of implementing types, so particle rows (`[f32; 3]`), Fourier modes
/// (`Complex<f64>`) and (index, value) pairs all travel without any `unsafe`.
pub trait CommData: Copy + Send + Sync + 'static {
    /// Bytes per element.
    const BYTES: usize;
    /// Writes the element into `out`, which has exactly [`Self::BYTES`] bytes.
    fn write_le(&self, out: &mut [u8]);
    /// Reads an element from `bytes`, which has exactly [`Self::BYTES`] bytes.
    fn read_le(bytes: &[u8]) -> Self;
}

macro_rules! prim {
    ($($t:ty),*) => {$(
        impl CommData for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn write_le(&self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn read_le(bytes: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(bytes);
                <$t>::from_le_bytes(b)
            }
        }
    )*};
}

prim!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

impl CommData for usize {
    const BYTES: usize = 8;
    #[inline(always)]
    fn write_le(&self, out: &mut [u8]) {
        (*self as u64).write_le(out);
    }
    #[inline(always)]
    fn read_le(bytes: &[u8]) -> Self {
        u64::read_le(bytes) as usize
    }
}

impl CommData for isize {
    const BYTES: usize = 8;
    #[inline(always)]
    fn write_le(&self, out: &mut [u8]) {
        (*self as i64).write_le(out);
    }
    #[inline(always)]
    fn read_le(bytes: &[u8]) -> Self {
        i64::read_le(bytes) as isize
    }
}

impl<T: CommData> CommData for Complex<T> {
    const BYTES: usize = 2 * T::BYTES;
    #[inline(always)]
    fn write_le(&self, out: &mut [u8]) {
        let (a, b) = out.split_at_mut(T::BYTES);
        self.re.write_le(a);
        self.im.write_le(b);
    }
    #[inline(always)]
    fn read_le(bytes: &[u8]) -> Self {
        let (a, b) = bytes.split_at(T::BYTES);
        Complex::new(T::read_le(a), T::read_le(b))
    }
}

impl<T: CommData, const N: usize> CommData for [T; N] {
    const BYTES: usize = N * T::BYTES;
    #[inline(always)]
    fn write_le(&self, out: &mut [u8]) {
        for (v, o) in self.iter().zip(out.chunks_exact_mut(T::BYTES)) {
            v.write_le(o);
        }
    }
    #[inline(always)]
    fn read_le(bytes: &[u8]) -> Self {
        std::array::from_fn(|i| T::read_le(&bytes[i * T::BYTES..(i + 1) * T::BYTES]))
    }
}

impl<A: CommData, B: CommData> CommData for (A, B) {
    const BYTES: usize = A::BYTES + B::BYTES;
    #[inline(always)]
    fn write_le(&self, out: &mut [u8]) {
        let (a, b) = out.split_at_mut(A::BYTES);
        self.0.write_le(a);
        self.1.write_le(b);
    }
    #[inline(always)]
    fn read_le(bytes: &[u8]) -> Self {
        let (a, b) = bytes.split_at(A::BYTES);
        (A::read_le(a), B::read_le(b))
    }
}

/// Appends the encoding of `data` to `out` (`data.len() * T::BYTES` bytes).
pub fn encode_into<T: CommData>(data: &[T], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + data.len() * T::BYTES, 0);
    if T::BYTES == 0 {
        return;
    }
    for (v, o) in data.iter().zip(out[start..].chunks_exact_mut(T::BYTES)) {
        v.write_le(o);
    }
}

/// The encoding of `data` as a new byte vector.
pub fn encode<T: CommData>(data: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * T::BYTES);
    encode_into(data, &mut out);
    out
}

/// Number of elements of `T` in `bytes`, or [`DecompError::Decode`] if it is not a whole number.
pub fn element_count<T: CommData>(bytes: &[u8]) -> Result<usize, DecompError> {
    if T::BYTES == 0 {
        return if bytes.is_empty() {
            Ok(0)
        } else {
            Err(DecompError::Decode {
                bytes: bytes.len(),
                elem: 0,
            })
        };
    }
    if !bytes.len().is_multiple_of(T::BYTES) {
        return Err(DecompError::Decode {
            bytes: bytes.len(),
            elem: T::BYTES,
        });
    }
    Ok(bytes.len() / T::BYTES)
}

/// Decodes `bytes` into a new vector.
///
/// Returns [`DecompError::Decode`] if the length is not a multiple of `T::BYTES`.
pub fn decode<T: CommData>(bytes: &[u8]) -> Result<Vec<T>, DecompError> {
    element_count::<T>(bytes)?;
    if T::BYTES == 0 {
        return Ok(Vec::new());
    }
    Ok(bytes.chunks_exact(T::BYTES).map(T::read_le).collect())
}

/// Decodes `bytes` into `out`, which must hold exactly as many elements as `bytes` encodes.
///
/// Returns [`DecompError::Decode`] for a length that is not a whole number of elements and
/// [`DecompError::BufferSize`] when `out` has a different number of elements.
pub fn decode_into<T: CommData>(bytes: &[u8], out: &mut [T]) -> Result<(), DecompError> {
    let n = element_count::<T>(bytes)?;
    if n != out.len() {
        return Err(DecompError::BufferSize {
            what: "decode target",
            expected: n,
            got: out.len(),
        });
    }
    if T::BYTES == 0 {
        return Ok(());
    }
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(T::BYTES)) {
        *o = T::read_le(b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let v = vec![[1.5f32, -2.0, 3.25], [0.0, f32::MAX, f32::MIN_POSITIVE]];
        assert_eq!(decode::<[f32; 3]>(&encode(&v)).unwrap(), v);
        let c = vec![Complex::new(1.0f64, -1e-300), Complex::new(f64::NAN, 2.0)];
        let back = decode::<Complex<f64>>(&encode(&c)).unwrap();
        assert_eq!(back[0], c[0]);
        assert!(back[1].re.is_nan() && back[1].im == 2.0);
        let p = vec![(7usize, -3i32), (usize::MAX, i32::MIN)];
        assert_eq!(decode::<(usize, i32)>(&encode(&p)).unwrap(), p);
        assert_eq!(encode(&[1u32]), vec![1, 0, 0, 0]);
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert_eq!(
            decode::<f64>(&[0u8; 9]),
            Err(DecompError::Decode { bytes: 9, elem: 8 })
        );
        let mut out = [0f32; 2];
        assert!(matches!(
            decode_into(&[0u8; 4], &mut out),
            Err(DecompError::BufferSize { .. })
        ));
    }
}
