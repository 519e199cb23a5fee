"""Compares two `pm run` directories of the same config: every snapshot's positions and
momenta agree to TOL relative (max |a - b| / max |b|; positions compared modulo the box).
Usage: python3 compare_runs.py RUN_A RUN_B [TOL] (run by .ci/run to check `pm run --mpi`
against `pm run`).
"""
import json
import pathlib
import sys

import numpy as np

a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-10
snaps_a = sorted(p.name for p in a.glob("a_*"))
snaps_b = sorted(p.name for p in b.glob("a_*"))
assert snaps_a and snaps_a == snaps_b, (snaps_a, snaps_b)
for name in snaps_a:
    box = json.loads((b / name / "meta.json").read_text())["box_size"]
    for what in ["positions", "momenta"]:
        x = np.load(a / name / f"{what}.npy").astype(np.float64)
        y = np.load(b / name / f"{what}.npy").astype(np.float64)
        assert x.shape == y.shape, (what, x.shape, y.shape)
        d = x - y
        if what == "positions":
            d = (d + box / 2) % box - box / 2
        rel = np.abs(d).max() / np.abs(y).max()
        print(f"{name}/{what}.npy: max|diff|/max|ref| = {rel:.2e}")
        assert rel <= tol, f"{name}/{what}: {rel:.2e} > {tol:.0e}"
print("runs agree")
