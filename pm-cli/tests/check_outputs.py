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
