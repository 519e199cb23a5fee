"""Checks a `pm run` directory with numpy: every snapshot's arrays load with the shapes and
dtypes its meta.json documents, positions lie in the box, the density has zero mean and the
P(k) CSV parses. Usage: python3 check_outputs.py RUN_DIR (run by .ci/run when numpy is there).
"""
import json
import pathlib
import sys

import numpy as np

run = pathlib.Path(sys.argv[1])
snapshots = sorted(run.glob("a_*"))
assert snapshots, f"no snapshot in {run}"
for snap in snapshots:
    meta = json.loads((snap / "meta.json").read_text())
    n = meta["particles"] ** 3
    for role, entry in meta["files"].items():
        array = np.load(snap / entry["file"])
        assert list(array.shape) == entry["shape"], (role, array.shape, entry["shape"])
        assert array.dtype == np.dtype(entry["dtype"]), (role, array.dtype)
    x = np.load(snap / "positions.npy")
    assert x.shape == (n, 3)
    assert (x >= 0).all() and (x < meta["box_size"]).all()
    if "density" in meta["files"]:
        delta = np.load(snap / "density.npy")
        assert abs(delta.mean()) < 1e-5, delta.mean()
    k, pk, modes, lin = np.loadtxt(snap / "power.csv", delimiter=",", skiprows=1, unpack=True)
    assert (np.diff(k) > 0).all() and (pk > 0).all() and (modes > 0).all()
    print(f"{snap}: a = {meta['a']}, {n} particles, {len(k)} P(k) bins, "
          f"P/P_lin at k = {k[0]:.3f}: {pk[0] / lin[0]:.3f}: ok")

lensing = run / "lensing"
if lensing.is_dir():
    meta = json.loads((lensing / "lensing.json").read_text())
    if (lensing / "kappa_flat.npy").exists():
        kappa = np.load(lensing / "kappa_flat.npy")
        n = meta["section"]["pixels"]
        assert kappa.shape == (n, n) and kappa.dtype == np.float64, (kappa.shape, kappa.dtype)
        assert np.isfinite(kappa).all()
        print(f"{lensing}: flat map {kappa.shape}, rms {kappa.std():.3e}: ok")
    fits = lensing / "kappa_healpix.fits"
    if fits.exists():
        try:
            import healpy
        except ImportError:
            print("healpy not available: the FITS map is not opened here")
        else:
            m = healpy.read_map(str(fits), dtype=None)
            nside = meta["section"]["nside"]
            assert healpy.get_nside(m) == nside and len(m) == 12 * nside**2
            assert np.isfinite(m).all()
            print(f"{fits}: healpy {healpy.__version__} read_map: nside {nside}, "
                  f"mean {m.mean():.3e}, rms {m.std():.3e}: ok")
