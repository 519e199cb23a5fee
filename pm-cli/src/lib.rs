//! The `pm` command: a default FastPM pipeline, its outputs and plots.
