"""P(k) of a pmrs snapshot computed by Pylians, against the power.csv that pm wrote for it.

    python -m venv /tmp/pyl && /tmp/pyl/bin/pip install numpy Pylians
    cargo run --release -p pm-cli -- run --output /tmp/pm-interop
    /tmp/pyl/bin/python benchmarks/interop/pylians_power.py /tmp/pm-interop/a_1.0000

Both paint the snapshot's particles with CIC on the force mesh, deconvolve the CIC window
and keep the shot noise; both bin |k| in shells of width k_f. Exits 1 when a bin below half
the Nyquist frequency differs by more than 1%.
"""
import json
import sys

import numpy as np
import MAS_library as MASL  # Pylians
import Pk_library as PKL  # Pylians

snap = sys.argv[1]
meta = json.load(open(f"{snap}/meta.json"))
pos = np.load(f"{snap}/positions.npy", mmap_mode="r")  # Mpc/h
grid, box = meta["mesh"], meta["box_size"]
delta = np.zeros((grid,) * 3, dtype=np.float32)
MASL.MA(np.array(pos, dtype=np.float32), delta, box, "CIC", verbose=False)  # a writable copy
delta /= delta.mean()
delta -= 1.0
pk = PKL.Pk(delta, box, axis=0, MAS="CIC", threads=2, verbose=False)

ours = np.genfromtxt(f"{snap}/power.csv", delimiter=",", names=True)
k_nyquist = np.pi * grid / box
ratios = []
print(f"{'k [h/Mpc]':>10} {'pm':>12} {'Pylians':>12} {'ratio':>8}")
for k, p in zip(ours["k"], ours["power"]):
    if k > 0.5 * k_nyquist:
        break
    i = np.argmin(np.abs(pk.k3D - k))
    ratio = p / pk.Pk[i, 0]
    ratios.append(ratio)
    print(f"{k:10.4f} {p:12.5e} {pk.Pk[i, 0]:12.5e} {ratio:8.5f}")
worst = np.max(np.abs(np.array(ratios) - 1.0))  # NaN if any ratio is
print(f"largest |ratio - 1| below k_Nyquist / 2: {worst:.2e}")
sys.exit(0 if worst < 0.01 else 1)  # a NaN fails
