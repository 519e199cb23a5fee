"""Compares two `pm run` directories of the same config: every snapshot's positions and
momenta (and density, when written) agree to TOL relative (max |a - b| / max |b|; positions
compared modulo the box), and so do the lensing maps (the flat map, and the HEALPix map when
healpy imports). Usage: python3 compare_runs.py RUN_A RUN_B [TOL] (run by .ci/run to check
`pm run --mpi` against `pm run`).
"""
import json
import pathlib
import sys

import numpy as np

a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-10


def check(label, x, y, box=None):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    assert x.shape == y.shape, (label, x.shape, y.shape)
    d = x - y
    if box is not None:
        d = (d + box / 2) % box - box / 2
    rel = np.abs(d).max() / np.abs(y).max()
    print(f"{label}: max|diff|/max|ref| = {rel:.2e}")
    assert rel <= tol, f"{label}: {rel:.2e} > {tol:.0e}"


snaps_a = sorted(p.name for p in a.glob("a_*"))
snaps_b = sorted(p.name for p in b.glob("a_*"))
assert snaps_a and snaps_a == snaps_b, (snaps_a, snaps_b)
for name in snaps_a:
    box = json.loads((b / name / "meta.json").read_text())["box_size"]
    for what in ["positions", "momenta", "density"]:
        fa, fb = a / name / f"{what}.npy", b / name / f"{what}.npy"
        assert fa.exists() == fb.exists(), (fa, fb)
        if fb.exists():
            check(f"{name}/{what}.npy", np.load(fa), np.load(fb),
                  box if what == "positions" else None)
if (b / "lensing").exists():
    check("lensing/kappa_flat.npy", np.load(a / "lensing/kappa_flat.npy"),
          np.load(b / "lensing/kappa_flat.npy"))
    try:
        import healpy
    except ImportError:
        print("healpy not installed: the HEALPix map not compared")
    else:
        check("lensing/kappa_healpix.fits",
              healpy.read_map(str(a / "lensing/kappa_healpix.fits")),
              healpy.read_map(str(b / "lensing/kappa_healpix.fits")))
print("runs agree")
