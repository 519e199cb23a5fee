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

fn io_error(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Writes `path` through `fill`: the bytes go to `.<name>.tmp` beside it, which is flushed,
/// synced and renamed over `path`. On any error the temporary file is removed and `path` is
/// untouched.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let name = path
        .file_name()
        .ok_or_else(|| io_error(path, "not a file path"))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| io_error(&tmp, e.error()))?;
        file.sync_all().map_err(|e| io_error(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
        let name = target
            .file_name()
            .ok_or_else(|| io_error(target, "not a directory path"))?
            .to_string_lossy();
        let tmp = target.with_file_name(format!(".{name}.partial"));
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

    /// Where a file named `name` goes while the directory is being written.
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Renames the directory into place (replacing an older one of the same name).
    pub fn commit(mut self) -> Result<PathBuf, CliError> {
        if self.target.exists() {
            let old = self.target.with_file_name(format!(
                ".{}.old",
                self.target
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
            ));
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
