//! Linear matter power spectrum (in progress).
