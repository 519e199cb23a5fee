//! The shape a `.npy` file declares, read from its header alone (NEP 1, the `.npy` format:
//! magic `\x93NUMPY`, a version byte pair, the header length as a little-endian `u16` for
//! version 1 or `u32` for versions 2 and 3, then a Python dict literal with `'descr'`,
//! `'fortran_order'` and `'shape'`).
//!
//! A reader that allocates from the header's shape (`ndarray_npy::ReadNpyExt`) lets a
//! corrupt or hostile file ask for any amount of memory; checking the declared shape
//! against the expected one first makes that an error.

use std::io::Read;

/// The `'shape'` of the `.npy` data in `reader` (its header only is read), or a reason it
/// cannot be found. Each dimension is parsed as a `usize`; their product is not checked.
///
/// ```
/// let path = std::env::temp_dir().join(format!("pm_npy_header_doc_{}.npy", std::process::id()));
/// ndarray_npy::write_npy(&path, &ndarray::Array2::<f32>::zeros((5, 3))).unwrap();
/// let shape = pm_integrate::npy_shape(std::fs::File::open(&path).unwrap()).unwrap();
/// assert_eq!(shape, vec![5, 3]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn npy_shape(mut reader: impl Read) -> Result<Vec<usize>, String> {
    let mut start = [0u8; 8];
    reader
        .read_exact(&mut start)
        .map_err(|_| "not a .npy file: it ends inside the header".to_string())?;
    if &start[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let len = match start[6] {
        1 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).map_err(|e| e.to_string())?;
            usize::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader.read_exact(&mut b).map_err(|e| e.to_string())?;
            u32::from_le_bytes(b) as usize
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    // numpy writes headers of a few hundred bytes; a larger one is not a header.
    if len > 1 << 16 {
        return Err(format!("not a .npy file (a {len}-byte header)"));
    }
    let mut header = vec![0u8; len];
    reader
        .read_exact(&mut header)
        .map_err(|_| "not a .npy file: it ends inside the header".to_string())?;
    let header = String::from_utf8_lossy(&header);
    let after = header
        .split_once("'shape'")
        .map(|(_, rest)| rest)
        .ok_or("the .npy header names no 'shape'")?;
    let open = after
        .find('(')
        .ok_or("the .npy header's 'shape' is not a tuple")?;
    let close = after[open..]
        .find(')')
        .ok_or("the .npy header's 'shape' is not a tuple")?;
    after[open + 1..open + close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("the .npy header's shape holds {s:?}, not a size"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::npy_shape;

    fn header(version: u8, dict: &str) -> Vec<u8> {
        let mut v = b"\x93NUMPY".to_vec();
        v.extend([version, 0]);
        if version == 1 {
            v.extend((dict.len() as u16).to_le_bytes());
        } else {
            v.extend((dict.len() as u32).to_le_bytes());
        }
        v.extend(dict.as_bytes());
        v
    }

    #[test]
    fn shapes_are_read_from_the_header_only() {
        let d = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000, 100000), }";
        assert_eq!(
            npy_shape(&header(1, d)[..]).unwrap(),
            vec![100000, 100000, 100000]
        );
        let d = "{'descr': '<f4', 'fortran_order': True, 'shape': (7,), }";
        assert_eq!(npy_shape(&header(2, d)[..]).unwrap(), vec![7]);
        let d = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
        assert_eq!(npy_shape(&header(3, d)[..]).unwrap(), Vec::<usize>::new());
        for bad in [
            b"NUMPY".to_vec(),
            header(1, "{'descr': '<f4'}"),
            header(1, "{'shape': (-1, 3)}"),
            header(1, "{'shape': (99999999999999999999999, 3)}"),
            header(9, "{'shape': (1,)}"),
        ] {
            assert!(npy_shape(&bad[..]).is_err());
        }
    }
}
