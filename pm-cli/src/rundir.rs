//! A directory that `pm` writes a run into, and owns only in part: [`RunDir`].
//!
//! Guarantees (docs/RELIABILITY.md lists the tests behind each):
//! * **Only what `pm` wrote is ever replaced or removed.** The manifest
//!   ([`MANIFEST`], hidden, JSON) lists every file and directory `pm` wrote there, as paths
//!   relative to the directory. It is written before an entry appears, so a run killed
//!   outright leaves nothing unlisted. An entry it does not list is the user's: a run
//!   refuses to start beside one unless `--overwrite` is given, and never replaces or
//!   removes one, `--overwrite` or not (an entry of the user's in the way of one the run
//!   writes is an error before any work).
//! * **A rerun is atomic entry by entry.** Nothing of an earlier run is removed when a rerun
//!   starts. Each snapshot directory replaces its namesake whole when it is complete
//!   ([`crate::output::PartialDir`]); `config.toml` and `summary.json` are replaced when the
//!   run completes, and only then are the earlier run's entries that the new run did not
//!   write removed. A rerun that is interrupted, killed or fails leaves every complete
//!   snapshot of either run readable.
//! * **One run per directory.** The run holds an advisory lock ([`LOCK`], `flock`) for its
//!   whole life; a second run into the same directory is refused with the holder's process
//!   id. The lock is released by the system when the process ends, however it ends.
//! * **Leftovers of a killed run are recovered.** A `.X.partial` or `.X.tmp` of a listed `X`
//!   is removed when the next run starts; a `.X.old` (a snapshot killed between the two
//!   renames that replace it) is renamed back to `X` when `X` is missing.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::CliError;
use crate::output::write_json;

/// The manifest's file name in a run directory.
pub const MANIFEST: &str = ".pm-manifest.json";
/// The lock file's name in a run directory.
pub const LOCK: &str = ".pm-lock";
/// The `format` field of a manifest.
const FORMAT: &str = "pmrs-run-manifest";
/// Suffixes of the temporary names `.X<suffix>` that pm's writers use beside `X`.
const TEMPORARY: [&str; 3] = [".partial", ".tmp", ".old"];

/// What [`MANIFEST`] holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Manifest {
    /// Always [`FORMAT`].
    format: String,
    /// Every file and directory pm wrote, relative to the run directory, `/`-separated.
    entries: BTreeSet<String>,
}

/// A run directory opened for one run: locked, checked and listed in its manifest. Created
/// by [`RunDir::open`] before any work; [`RunDir::complete`] when the run succeeds.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    /// Holds the advisory lock while the run lives.
    _lock: File,
    /// Whether [`RunDir::open`] created the directory.
    created: bool,
    /// The entries of the earlier runs (from the manifest found).
    previous: BTreeSet<String>,
    /// The top-level names this run writes.
    planned: BTreeSet<String>,
    /// The entries this run has written (or is about to).
    written: Mutex<BTreeSet<String>>,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl RunDir {
    /// Opens `path` for a run that writes the top-level entries `planned` (e.g.
    /// `config.toml`, `a_1.0000`): creates the directory if it is missing, takes its lock,
    /// recovers what a killed run left, and checks every entry against the manifest.
    ///
    /// Errors, before anything is written: the path is not a directory; another run holds
    /// the lock ([`CliError::Locked`]); an entry pm did not write is in the way of one in
    /// `planned`, or lies inside a directory the run replaces ([`CliError::NotWrittenByPm`],
    /// `--overwrite` or not); other entries pm did not write and `overwrite` is false
    /// ([`CliError::OutputExists`]).
    pub fn open(path: &Path, planned: &[String], overwrite: bool) -> Result<Self, CliError> {
        let created = match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => false,
            Ok(_) => return Err(io_error(path, "exists and is not a directory")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(path).map_err(|e| io_error(path, e))?;
                true
            }
            Err(e) => return Err(io_error(path, e)),
        };
        let opened = Self::lock(path).and_then(|lock| {
            let previous = read_manifest(path)?.entries;
            let dir = Self {
                path: path.to_path_buf(),
                _lock: lock,
                created,
                previous,
                planned: planned.iter().cloned().collect(),
                written: Mutex::new(BTreeSet::new()),
            };
            dir.recover()?;
            dir.check(overwrite)?;
            dir.save(&dir.listed())?;
            Ok(dir)
        });
        if opened.is_err() {
            if created {
                remove_if_only_ours(path);
            } else if !path.join(MANIFEST).exists() {
                // A refused directory that holds no run keeps no trace of pm.
                let _ = std::fs::remove_file(path.join(LOCK));
            }
        }
        opened
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether an earlier run wrote the top-level entry `name`.
    pub fn had(&self, name: &str) -> bool {
        self.previous.contains(name)
    }

    /// Records, before it appears, that the run writes the top-level entry `name` and, when
    /// it is a directory, the files `files` in it (names relative to it). The manifest is
    /// rewritten (atomically).
    pub fn record(&self, name: &str, files: &[String]) -> Result<(), CliError> {
        let mut written = self
            .written
            .lock()
            .map_err(|_| io_error(&self.path, "the manifest's lock is poisoned"))?;
        written.insert(name.to_string());
        for f in files {
            written.insert(format!("{name}/{f}"));
        }
        drop(written);
        self.save(&self.listed())
    }

    /// The run completed: removes the earlier runs' entries this run did not write (their
    /// files, then their directories when empty: a directory that still holds a file pm
    /// did not write is kept), then lists only this run's entries in the manifest.
    pub fn complete(self) -> Result<(), CliError> {
        let mut current: BTreeSet<String> = self.planned.clone();
        current.extend(
            self.written
                .lock()
                .map_err(|_| io_error(&self.path, "the manifest's lock is poisoned"))?
                .iter()
                .cloned(),
        );
        // Deepest first, so a directory's files go before the directory.
        let mut stale: Vec<&String> = self.previous.difference(&current).collect();
        stale.sort_by_key(|e| std::cmp::Reverse(e.matches('/').count()));
        for entry in stale {
            let path = self.path.join(entry);
            let removed = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => std::fs::remove_dir(&path),
                Ok(_) => std::fs::remove_file(&path),
                Err(_) => Ok(()),
            };
            if let Err(e) = removed
                && e.kind() != std::io::ErrorKind::DirectoryNotEmpty
            {
                return Err(io_error(&path, e));
            }
        }
        self.save(&current)
    }

    /// Removes the directory again when [`RunDir::open`] created it and the run wrote
    /// nothing into it but the manifest and the lock (a run that failed before its first
    /// output).
    pub fn abandon(self) {
        if self.created {
            remove_if_only_ours(&self.path);
        }
    }

    /// Every entry the manifest must list while the run lives.
    fn listed(&self) -> BTreeSet<String> {
        let mut all = self.previous.clone();
        all.extend(self.planned.iter().cloned());
        if let Ok(w) = self.written.lock() {
            all.extend(w.iter().cloned());
        }
        all
    }

    fn save(&self, entries: &BTreeSet<String>) -> Result<(), CliError> {
        let manifest = Manifest {
            format: FORMAT.into(),
            entries: entries.clone(),
        };
        write_json(&self.path.join(MANIFEST), &manifest)
    }

    /// Takes the advisory lock on `dir/.pm-lock` and writes this process's id into it.
    fn lock(dir: &Path) -> Result<File, CliError> {
        let path = dir.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(CliError::Locked {
                    path: dir.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&path, e)),
        }
        let who = format!(
            "pid {} ({})\n",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0).map_err(|e| io_error(&path, e))?;
        file.write_all(who.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| io_error(&path, e))?;
        Ok(file)
    }

    /// Removes what a killed run left under temporary names of listed entries, and puts
    /// back a listed entry that a kill between two renames left as `.X.old`.
    fn recover(&self) -> Result<(), CliError> {
        let listed = self.listed();
        for (name, path) in entries(&self.path)? {
            let Some((base, suffix)) = temporary_of(&name) else {
                continue;
            };
            if !listed.contains(base) && base != MANIFEST {
                continue;
            }
            let original = self.path.join(base);
            if suffix == ".old" && std::fs::symlink_metadata(&original).is_err() {
                std::fs::rename(&path, &original).map_err(|e| io_error(&path, e))?;
            } else {
                remove_any(&path)?;
            }
        }
        Ok(())
    }

    /// Sorts the directory's entries into pm's and the user's; see [`RunDir::open`].
    /// Without `overwrite` every entry of the user's is reported at once; with it, the
    /// first one in the run's way.
    fn check(&self, overwrite: bool) -> Result<(), CliError> {
        let listed = self.listed();
        let mut foreign = Vec::new();
        let mut in_the_way = Vec::new();
        for (name, path) in entries(&self.path)? {
            if name == MANIFEST || name == LOCK {
                continue;
            }
            if !self.previous.contains(&name) {
                if self.planned.contains(&name) {
                    in_the_way.push((path, "the run writes an entry of this name"));
                }
                foreign.push(name);
            } else if self.planned.contains(&name) && path.is_dir() {
                // The run replaces this directory whole: all of it must be pm's.
                let mut inside = Vec::new();
                walk(&path, &name, &mut inside)?;
                in_the_way.extend(
                    inside
                        .into_iter()
                        .filter(|(rel, _)| !listed.contains(rel))
                        .map(|(_, p)| (p, "it lies in a directory the run replaces")),
                );
            }
        }
        if !foreign.is_empty() && !overwrite {
            return Err(CliError::OutputExists {
                directory: self.path.clone(),
                entries: foreign,
            });
        }
        match in_the_way.into_iter().next() {
            Some((path, reason)) => Err(CliError::NotWrittenByPm {
                path,
                reason: reason.into(),
            }),
            None => Ok(()),
        }
    }
}

/// The manifest in `dir` (empty when there is none).
fn read_manifest(dir: &Path) -> Result<Manifest, CliError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => return Err(io_error(&path, e)),
    };
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| io_error(&path, format!("not a pm run manifest ({e})")))?;
    if manifest.format != FORMAT {
        return Err(io_error(
            &path,
            format!("not a pm run manifest (format \"{}\")", manifest.format),
        ));
    }
    if let Some(bad) = manifest
        .entries
        .iter()
        .find(|e| e.is_empty() || e.starts_with('/') || e.split('/').any(|c| c == ".." || c == "."))
    {
        return Err(io_error(
            &path,
            format!("entry \"{bad}\" leaves the run directory"),
        ));
    }
    Ok(manifest)
}

/// `(name, path)` of each entry of `dir`.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, CliError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    out.sort();
    Ok(out)
}

/// Every file and directory under `path` (not following links), as (`prefix/...`, path).
fn walk(path: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), CliError> {
    for (name, p) in entries(path)? {
        let rel = format!("{prefix}/{name}");
        let is_dir = std::fs::symlink_metadata(&p)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        out.push((rel.clone(), p.clone()));
        if is_dir {
            walk(&p, &rel, out)?;
        }
    }
    Ok(())
}

/// `Some(("X", suffix))` when `name` is `.X` followed by a temporary suffix.
fn temporary_of(name: &str) -> Option<(&str, &'static str)> {
    let rest = name.strip_prefix('.')?;
    TEMPORARY
        .iter()
        .find_map(|&s| rest.strip_suffix(s).map(|base| (base, s)))
        .filter(|(base, _)| !base.is_empty())
}

fn remove_any(path: &Path) -> Result<(), CliError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_error(path, e))?;
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
    .map_err(|e| io_error(path, e))
}

/// Removes `dir` when it holds only the manifest and the lock (best effort).
fn remove_if_only_ours(dir: &Path) {
    let Ok(list) = entries(dir) else { return };
    if list.iter().all(|(n, _)| {
        n == MANIFEST || n == LOCK || temporary_of(n).is_some_and(|(b, _)| b == MANIFEST)
    }) {
        for (_, p) in list {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_dir(dir);
    }
}
