//! Files that appear whole or not at all: [`write_atomic`] (a temporary name in the same
//! directory, synced, then renamed) and [`PartialDir`] (a hidden directory renamed into
//! place once every file in it is written), with the `.npy`, JSON and CSV writers on top.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ndarray::{ArrayViewD, IxDyn};
use ndarray_npy::{WritableElement, WriteNpyExt};
use serde::Serialize;

use crate::CliError;
use crate::rundir::RunDir;

fn io_error(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Writes `path` through `fill`: the bytes go to `.<name>.tmp` beside it, which is flushed,
/// synced and renamed over `path`. On any error the temporary file is removed and `path` is
/// untouched.
///
/// `path` is honoured as the user's path: a symbolic link is followed and its target
/// written (the link stays); a FIFO or a character device (`/dev/stdout`, `/dev/null`) is
/// written in place, without the rename; a directory, a socket or a block device is
/// refused.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let path = match output_target(path)? {
        OutputTarget::InPlace(device) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&device)
                .map_err(|e| io_error(&device, e))?;
            let mut w = BufWriter::new(file);
            fill(&mut w)?;
            return w
                .into_inner()
                .map(drop)
                .map_err(|e| io_error(&device, e.error()));
        }
        OutputTarget::Replace(p) => p,
    };
    let name = path
        .file_name()
        .ok_or_else(|| io_error(&path, "not a file path"))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| io_error(&tmp, e.error()))?;
        file.sync_all().map_err(|e| io_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where a write to a user's path goes.
enum OutputTarget {
    /// A regular file (or none yet): written beside and renamed over.
    Replace(PathBuf),
    /// A FIFO or character device: written in place.
    InPlace(PathBuf),
}

/// Follows symbolic links from `path` (at most 40) to the file a write should reach.
fn output_target(path: &Path) -> Result<OutputTarget, CliError> {
    use std::os::unix::fs::FileTypeExt;
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(OutputTarget::Replace(current));
            }
            Err(e) => return Err(io_error(&current, e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let link = std::fs::read_link(&current).map_err(|e| io_error(&current, e))?;
            current = match current.parent() {
                Some(parent) if link.is_relative() => parent.join(link),
                _ => link,
            };
            continue;
        }
        return if kind.is_file() {
            Ok(OutputTarget::Replace(current))
        } else if kind.is_fifo() || kind.is_char_device() {
            Ok(OutputTarget::InPlace(current))
        } else if kind.is_dir() {
            Err(io_error(path, "is a directory, not a file"))
        } else {
            Err(io_error(
                path,
                "is a socket or block device: pm writes only regular files, FIFOs and \
                 character devices",
            ))
        };
    }
    Err(io_error(path, "too many levels of symbolic links"))
}

/// A directory written under a hidden temporary name (`.<name>.partial`) and renamed to its
/// final name by [`PartialDir::commit`]; dropped uncommitted, it is removed with its files.
#[derive(Debug)]
pub struct PartialDir {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PartialDir {
    /// Starts `target` (which must not exist unless `replace`).
    pub fn create(target: &Path, replace: bool) -> Result<Self, CliError> {
        if target.exists() && !replace {
            return Err(io_error(target, "exists already"));
        }
        let tmp = Self::path_for(target)?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| io_error(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| io_error(&tmp, e))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// The hidden name `target` is written under (`.<name>.partial` beside it), as every
    /// rank of a run that writes into it computes it.
    pub fn path_for(target: &Path) -> Result<PathBuf, CliError> {
        let name = target
            .file_name()
            .ok_or_else(|| io_error(target, "not a directory path"))?
            .to_string_lossy();
        Ok(target.with_file_name(format!(".{name}.partial")))
    }

    /// Where a file named `name` goes while the directory is being written.
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Renames the directory into place (replacing an older one of the same name), after
    /// listing it and its files in `run`'s manifest when it is written into a run
    /// directory.
    ///
    /// An older directory is first renamed to `.<name>.old`, the new one renamed into place,
    /// then the old one removed: a process killed between the two renames leaves the old
    /// one complete under `.<name>.old`, which [`RunDir::open`] puts back.
    pub fn commit(mut self, run: Option<&RunDir>) -> Result<PathBuf, CliError> {
        let name = self
            .target
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some(run) = run {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(&self.tmp).map_err(|e| io_error(&self.tmp, e))? {
                let entry = entry.map_err(|e| io_error(&self.tmp, e))?;
                files.push(entry.file_name().to_string_lossy().into_owned());
            }
            run.record(&name, &files)?;
        }
        if self.target.exists() {
            let old = self.target.with_file_name(format!(".{name}.old"));
            std::fs::rename(&self.target, &old).map_err(|e| io_error(&self.target, e))?;
            std::fs::rename(&self.tmp, &self.target).map_err(|e| io_error(&self.target, e))?;
            std::fs::remove_dir_all(&old).map_err(|e| io_error(&old, e))?;
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| io_error(&self.target, e))?;
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for PartialDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes `data` (C order, `shape`) as a `.npy` file, atomically.
pub fn write_npy<T: WritableElement>(
    path: &Path,
    data: &[T],
    shape: &[usize],
) -> Result<(), CliError> {
    let view = ArrayViewD::from_shape(IxDyn(shape), data)
        .map_err(|e| io_error(path, format!("array of shape {shape:?}: {e}")))?;
    write_atomic(path, |w| view.write_npy(w).map_err(|e| io_error(path, e)))
}

/// Writes `value` as pretty JSON with a final newline, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CliError> {
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(|e| io_error(path, e))?;
        writeln!(w).map_err(|e| io_error(path, e))
    })
}

/// Writes `bytes`, atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_atomic(path, |w| w.write_all(bytes).map_err(|e| io_error(path, e)))
}

/// A `.npy` file (format 1.0, little-endian, C order) written in pieces, possibly by several
/// ranks at once: [`NpyFile::create`] (one rank) writes the header and sizes the file, then
/// every rank writes its elements at their offsets ([`NpyFile::write_rows`],
/// [`NpyFile::write_run`]) without touching the others'. numpy and ndarray-npy read it as
/// any `.npy`.
#[derive(Debug, Clone)]
pub struct NpyFile {
    path: PathBuf,
    header: Vec<u8>,
    elements: u64,
    element_bytes: u64,
}

impl NpyFile {
    /// The file at `path` for an array of `T` of `shape`.
    pub fn new<T: pm_fft::Real>(path: &Path, shape: &[usize]) -> Self {
        let descr = if T::NAME == "f32" { "<f4" } else { "<f8" };
        Self {
            path: path.to_path_buf(),
            header: npy_header(descr, shape),
            elements: shape.iter().map(|&n| n as u64).product(),
            element_bytes: std::mem::size_of::<T>() as u64,
        }
    }

    /// Creates the file with its header, sized for the whole array (the data reads as zero
    /// until written).
    pub fn create(&self) -> Result<(), CliError> {
        let mut file = File::create(&self.path).map_err(|e| io_error(&self.path, e))?;
        file.write_all(&self.header)
            .map_err(|e| io_error(&self.path, e))?;
        let len = self.header.len() as u64 + self.elements * self.element_bytes;
        file.set_len(len).map_err(|e| io_error(&self.path, e))
    }

    /// Writes `data` as the elements `first..first + data.len()` (C order), then syncs.
    pub fn write_run<T: pm_fft::Real>(&self, first: u64, data: &[T]) -> Result<(), CliError> {
        let file = self.open()?;
        self.write_at(&file, first, data)?;
        file.sync_data().map_err(|e| io_error(&self.path, e))
    }

    /// Writes rows of `R` elements: `rows[k]` is row `ids[k]` of an `(n, R)` array (row `k`
    /// when `ids` is `None`, the rows then being all of them in order, written as one run).
    /// Listed rows are sorted by index and runs of consecutive indices written at once. The
    /// file is synced.
    pub fn write_rows<T: pm_fft::Real, const R: usize>(
        &self,
        ids: Option<&[u64]>,
        rows: &[[T; R]],
    ) -> Result<(), CliError> {
        let Some(ids) = ids else {
            return self.write_run(0, rows.as_flattened());
        };
        if ids.len() != rows.len() {
            return Err(io_error(
                &self.path,
                format!("{} row indices for {} rows", ids.len(), rows.len()),
            ));
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_unstable_by_key(|&k| ids[k]);
        let file = self.open()?;
        let mut run: Vec<T> = Vec::new();
        let mut start = 0u64;
        let mut next = 0u64;
        for &k in &order {
            let id = ids[k];
            if run.is_empty() || id != next {
                if !run.is_empty() {
                    self.write_at(&file, start * R as u64, &run)?;
                    run.clear();
                }
                start = id;
            }
            run.extend_from_slice(&rows[k]);
            next = id + 1;
        }
        if !run.is_empty() {
            self.write_at(&file, start * R as u64, &run)?;
        }
        file.sync_data().map_err(|e| io_error(&self.path, e))
    }

    fn open(&self) -> Result<File, CliError> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|e| io_error(&self.path, e))
    }

    /// Writes `data` at element `first`, little-endian, through a buffer of at most
    /// [`WRITE_CHUNK`] elements (so a write costs no copy of the data).
    fn write_at<T: pm_fft::Real>(
        &self,
        file: &File,
        first: u64,
        data: &[T],
    ) -> Result<(), CliError> {
        use std::os::unix::fs::FileExt;
        let end = first + data.len() as u64;
        if end > self.elements {
            return Err(io_error(
                &self.path,
                format!(
                    "elements {first}..{end} beyond the array's {}",
                    self.elements
                ),
            ));
        }
        let mut bytes = Vec::new();
        let mut offset = self.header.len() as u64 + first * self.element_bytes;
        for chunk in data.chunks(WRITE_CHUNK) {
            bytes.clear();
            pm_decomp::encode_into(chunk, &mut bytes);
            file.write_all_at(&bytes, offset)
                .map_err(|e| io_error(&self.path, e))?;
            offset += bytes.len() as u64;
        }
        Ok(())
    }
}

/// Elements per write of an [`NpyFile`] (1 Mi: 4 or 8 MB of bytes at a time).
const WRITE_CHUNK: usize = 1 << 20;

/// The header of a `.npy` file, format 1.0: magic, version, header length, the dict
/// `{'descr': ..., 'fortran_order': False, 'shape': (...), }` padded with spaces and a
/// newline to a multiple of 64 bytes (numpy's alignment).
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let mut header = Vec::with_capacity(total);
    header.extend_from_slice(b"\x93NUMPY\x01\x00");
    header.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(total - 1, b' ');
    header.push(b'\n');
    header
}
