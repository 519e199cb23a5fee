#!/usr/bin/env python3
"""Check that FITS maps written by the Rust `fits` module open in healpy.

Usage (from the crate root):
    cargo run --example write_map -- /tmp/fitscheck
    venv/bin/python tests/check_fits.py /tmp/fitscheck
(or set FITS_CHECK_DIR instead of passing the directory).
"""
import os
import sys

import healpy as hp
import numpy as np
from astropy.io import fits

d = sys.argv[1] if len(sys.argv) > 1 else os.environ["FITS_CHECK_DIR"]

# f64 map: pixel-centre colatitudes at nside 64.
m, h = hp.read_map(os.path.join(d, "theta_f64.fits"), h=True, dtype=None)
h = dict(h)
theta, _ = hp.pix2ang(64, np.arange(hp.nside2npix(64)))
assert m.dtype.kind == "f" and m.dtype.itemsize == 8, m.dtype
assert hp.get_nside(m) == 64 and h["NSIDE"] == 64
assert h["ORDERING"] == "RING" and h["PIXTYPE"] == "HEALPIX"
assert h["ZSOURCE"] == 1.25 and h["NSTEP"] == 7 and h["CODE"] == "pmrs", h
assert h["TTYPE1"] == "KAPPA"
err64 = np.max(np.abs(m - theta))
assert err64 < 1e-14, err64

# f32 map: pixel-centre longitudes at nside 8.
m, h = hp.read_map(os.path.join(d, "phi_f32.fits"), h=True, dtype=None)
h = dict(h)
_, phi = hp.pix2ang(8, np.arange(hp.nside2npix(8)))
assert m.dtype.kind == "f" and m.dtype.itemsize == 4, m.dtype
assert hp.get_nside(m) == 8 and h["TFORM1"] == "1E" and h["TTYPE1"] == "TEMPERATURE"
assert np.array_equal(m, phi.astype(np.float32))

# Strict FITS verification by astropy.
for f in ["theta_f64.fits", "phi_f32.fits"]:
    with fits.open(os.path.join(d, f)) as hdul:
        hdul.verify("exception")
        assert len(hdul) == 2 and hdul[0].header["NAXIS"] == 0

print(f"OK healpy {hp.__version__}: nside 64 f64 map max|diff| = {err64:.3g}, "
      f"nside 8 f32 map exact, headers ok, astropy verify ok")
