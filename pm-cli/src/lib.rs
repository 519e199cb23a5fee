//! The `pm` command: a default FastPM pipeline, its outputs and plots.
//!
//! Part of pmrs: `docs/ARCHITECTURE.md` in the workspace is the map of the crates, the one
//! engine every run goes through (the serial run is the one-rank case) and the conventions.
//!
//! The binary (`src/main.rs`) is a thin layer over this library:
//! * [`config`]: the TOML configuration, its defaults (`default.toml`) and its validation
//!   into a [`config::RunPlan`] before any work is done;
//! * [`estimate`]: the memory (and lightcone) estimate of a command, checked before any work;
//! * [`run`]: the forward run with snapshots, a progress bar and a summary;
//! * [`snapshot`]: snapshot directories (`.npy` arrays with a JSON side-car), P(k) as CSV;
//! * [`output`]: files and directories that appear whole or not at all;
//! * [`rundir`]: the run directory: what pm wrote there (its manifest), its lock;
//! * [`plot`]: PNG pictures of a density slice and of P(k);
//! * [`gradients`]: `pm grad-check` and `pm reconstruct`;
//! * [`terminal`]: what pm prints, where a closed pipe or a full disk is an error, not a panic.

pub mod config;
pub mod estimate;
pub mod gradients;
pub mod kernel;
pub mod lensing;
pub mod output;
pub mod plot;
pub mod progress;
pub mod run;
pub mod rundir;
pub mod snapshot;
pub mod terminal;

use std::path::PathBuf;

/// Everything `pm` can report as an error. Each message names the key, file or value at
/// fault and what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A configuration key with a bad value (or a TOML syntax or type error).
    #[error("invalid configuration: {key}: {reason}")]
    Config {
        /// The key (`simulation.box_size`) or, for parse errors, the file.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// The run directory holds entries that pm did not write.
    #[error(
        "output directory {} holds entries pm did not write ({}): choose another directory \
         (--output DIR), or pass --overwrite to write beside them (pm never replaces or \
         removes them)",
        directory.display(),
        list_names(entries)
    )]
    OutputExists {
        /// The run directory.
        directory: PathBuf,
        /// The entries pm did not write.
        entries: Vec<String>,
    },
    /// An entry pm did not write is in the way of one it writes (refused even with
    /// `--overwrite`: pm never replaces or removes a user's file).
    #[error(
        "{}: pm did not write it and will not replace it ({reason}): move it or choose \
         another directory (--output DIR)",
        path.display()
    )]
    NotWrittenByPm {
        /// The entry.
        path: PathBuf,
        /// Why the run would touch it.
        reason: String,
    },
    /// Another run holds the run directory's lock.
    #[error(
        "output directory {} is in use by another run ({holder}): wait for it to finish or \
         choose another directory (--output DIR)",
        path.display()
    )]
    Locked {
        /// The run directory.
        path: PathBuf,
        /// What the lock file says of its holder (process id and command).
        holder: String,
    },
    /// A snapshot that cannot be read.
    #[error("snapshot {}: {reason}", path.display())]
    Snapshot {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Standard output could not be written (a closed pipe, a full disk).
    #[error("could not write to standard output: {reason}")]
    Stdout {
        /// The reader went away (`EPIPE`): end quietly, as a process stopped by SIGPIPE.
        closed_pipe: bool,
        /// What the system said.
        reason: String,
    },
    /// The command's resource estimate exceeds the limit: refused before any work.
    #[error(
        "{command} refused before starting: it {what}. Change {keys} to make it smaller, or \
         {force}"
    )]
    TooLarge {
        /// The command (`pm run`).
        command: String,
        /// The estimate and the limit.
        what: String,
        /// The config keys or options that set the size.
        keys: String,
        /// How to run it anyway.
        force: String,
    },
    /// SIGINT, SIGTERM or SIGHUP stopped the run (exit status 128 + the signal).
    #[error(
        "interrupted by {}: {snapshots} complete snapshot(s) kept in {}, nothing partial",
        run::signal_name(*signal),
        directory.display()
    )]
    Interrupted {
        /// The signal (the first one received).
        signal: i32,
        /// The run directory.
        directory: PathBuf,
        /// Snapshots written before the interruption.
        snapshots: usize,
    },
    /// SIGINT, SIGTERM or SIGHUP stopped a command other than a run (exit status 128 + the
    /// signal).
    #[error("interrupted by {}: {what}", run::signal_name(*signal))]
    Stopped {
        /// The signal (the first one received).
        signal: i32,
        /// What was stopped and what was (not) written.
        what: String,
    },
    /// From the simulation.
    #[error(transparent)]
    Integrate(#[from] pm_integrate::IntegrateError),
    /// From the adjoint.
    #[error(transparent)]
    Adjoint(#[from] pm_adjoint::AdjointError),
    /// From mesh operations.
    #[error(transparent)]
    Mesh(#[from] pm_mesh::MeshError),
    /// From an FFT plan.
    #[error(transparent)]
    Fft(#[from] pm_fft::FftError),
    /// From the cosmology.
    #[error(transparent)]
    Cosmo(#[from] pm_cosmo::CosmoError),
    /// From the pictures.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

impl CliError {
    /// The process's exit status for this error: 128 + the signal for a stopped command
    /// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, as a shell reports a process the
    /// signal ended), 141 for a closed pipe on stdout (as SIGPIPE would), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Interrupted { signal, .. } | CliError::Stopped { signal, .. } => {
                u8::try_from(128 + signal).unwrap_or(1)
            }
            // The reader of the output went away: the status of a process stopped by SIGPIPE.
            CliError::Stdout {
                closed_pipe: true, ..
            } => 141,
            _ => 1,
        }
    }
}

/// Up to five names, comma separated, and how many more.
fn list_names(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    match names.len() {
        n if n > 5 => format!("{} and {} more", shown.join(", "), n - 5),
        _ => shown.join(", "),
    }
}
