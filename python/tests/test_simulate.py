"""pmrs.simulate returns what `pm run` writes for the same config, byte for byte."""

import subprocess

import numpy as np
import pytest

import pmrs
from conftest import tiny


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def write_toml(path, config):
    lines = []
    for section, keys in config.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n")


def npy_bytes(path):
    """The data of a .npy file (after its header)."""
    a = np.load(path)
    return a, a.tobytes()


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_snapshots_equal_pm_run_byte_for_byte(tmp_path, pm_bin, precision):
    config = tiny(precision, steps=4, stepper="fastpm")
    config["output"] = {"a": [0.55, 1.0], "density": True, "plots": False}
    write_toml(tmp_path / "run.toml", config)
    subprocess.run(
        [pm_bin, "run", str(tmp_path / "run.toml"), "--output", str(tmp_path / "out"), "--quiet"],
        check=True,
    )
    out = pmrs.simulate(config)
    snaps = out["snapshots"]
    assert [s["a"] for s in snaps] == [0.55, 1.0]
    dtype = np.float32 if precision == "f32" else np.float64
    for s in snaps:
        d = tmp_path / "out" / f"a_{s['a']:.4f}"
        for name in ("positions", "momenta", "density"):
            file, data = npy_bytes(d / f"{name}.npy")
            assert s[name].dtype == dtype and s[name].shape == file.shape, name
            assert s[name].tobytes() == data, f"{name} at a = {s['a']} differs from pm run's"
        # power.csv is P(k) of the same density, printed with {:e} (Rust's shortest digits)
        csv = np.loadtxt(d / "power.csv", delimiter=",", skiprows=1, ndmin=2)
        p = s["power"]
        keep = p["modes"] > 0
        np.testing.assert_array_equal(csv[:, 2], p["modes"][keep])
        np.testing.assert_allclose(csv[:, 1], p["power"][keep], rtol=1e-15)
        assert s["meta"]["a"] == s["a"] and s["meta"]["precision"] == precision


def test_white_noise_argument_equals_the_config_file(tmp_path, pm_bin):
    """simulate(config, white_noise=w) is the run of `simulation.white_noise = "w.npy"`."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((8, 8, 8)).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    config = tiny("f32")
    config["output"] = {"plots": False, "power": False}
    from_array = pmrs.simulate(config, white_noise=w)["snapshots"][-1]
    config["simulation"]["white_noise"] = str(tmp_path / "w.npy")
    write_toml(tmp_path / "run.toml", config)
    subprocess.run(
        [pm_bin, "run", str(tmp_path / "run.toml"), "--output", str(tmp_path / "out"), "--quiet"],
        check=True,
    )
    file, data = npy_bytes(tmp_path / "out" / "a_1.0000" / "positions.npy")
    assert from_array["positions"].tobytes() == data
    # and not the seed's run
    seeded = pmrs.simulate(tiny("f32"))["snapshots"][-1]
    assert seeded["positions"].tobytes() != data


def test_threads_do_not_change_the_result():
    one = pmrs.simulate(tiny("f64", threads=1))["snapshots"][-1]
    two = pmrs.simulate(tiny("f64", threads=2))["snapshots"][-1]
    assert one["positions"].tobytes() == two["positions"].tobytes()
    assert one["momenta"].tobytes() == two["momenta"].tobytes()


def test_simulation_forward_equals_simulate():
    """Simulation.forward from the seed's noise ends where simulate does (positions =
    lattice + displacements, wrapped as the snapshot wraps them)."""
    config = tiny("f64")
    sim = pmrs.Simulation(config)
    state = sim.forward(sim.white_noise())
    snap = pmrs.simulate(config)["snapshots"][-1]
    x = (sim.lattice() + state["displacements"]) % sim.box_size
    np.testing.assert_allclose(x, snap["positions"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(state["momenta"], snap["momenta"])
    assert state["a"] == 1.0


def test_config_file_and_dict_agree(tmp_path):
    config = tiny("f32")
    write_toml(tmp_path / "c.toml", config)
    a = pmrs.simulate(str(tmp_path / "c.toml"))["snapshots"][-1]["positions"]
    b = pmrs.simulate(config)["snapshots"][-1]["positions"]
    assert a.tobytes() == b.tobytes()
    assert "particles = 8" in pmrs.validate(config)
