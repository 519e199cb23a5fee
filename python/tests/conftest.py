"""Shared pieces of pmrs's Python tests: small configs (the tests run in CI on 2 cores,
often on an unoptimised build) and the `pm` binary the snapshots are compared with."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tiny(precision="f64", **simulation):
    """8^3 particles on a 16^3 mesh, 64 Mpc/h, 3 FastPM steps: a run of a few ms."""
    s = dict(particles=8, mesh=16, box_size=64.0, steps=3, precision=precision, seed=3)
    s.update(simulation)
    return {"simulation": s}


@pytest.fixture(scope="session")
def pm_bin():
    """The `pm` command: $PM_BIN, else the workspace's release or debug build, else PATH."""
    candidates = [os.environ.get("PM_BIN")]
    candidates += [ROOT / "target" / p / "pm" for p in ("release", "debug")]
    candidates.append(shutil.which("pm"))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return str(c)
    pytest.fail(
        "no pm binary: build it (cargo build --release -p pm-cli) or set PM_BIN; the "
        "snapshot test compares pmrs.simulate with what pm run writes"
    )
