//! Mesh geometry, fields, mass assignment (paint/readout) with their adjoints, and power spectra.
