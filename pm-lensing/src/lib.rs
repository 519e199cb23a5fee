//! Lightcone observer, Born-approximation convergence maps (flat and HEALPix) and angular spectra.
