"""Bad input raises the right Python exception with a message naming the problem; none
crashes the interpreter (a crash would end this pytest process)."""

import numpy as np
import pytest

import pmrs
from conftest import tiny


@pytest.fixture(scope="module")
def sim():
    return pmrs.Simulation(tiny("f64"))


def noise(dtype=np.float64, shape=(8, 8, 8)):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


CASES = [
    # (name, call, exception, words the message must contain)
    ("wrong dtype", lambda s: s.forward(noise(np.float32)), TypeError, ["noise", "float32", "float64"]),
    ("wrong shape", lambda s: s.forward(noise(shape=(8, 8, 4))), ValueError, ["noise", "(8, 8, 4)", "(8, 8, 8)"]),
    ("Fortran order", lambda s: s.forward(np.asfortranarray(noise())), ValueError, ["noise", "Fortran"]),
    ("strided view", lambda s: s.forward(noise(shape=(8, 8, 16))[:, :, ::2]), ValueError, ["noise", "contiguous"]),
    ("NaN noise", lambda s: s.forward(np.where(noise() > 2, np.nan, noise())), ValueError, ["noise", "not finite"]),
    ("a list, not an array", lambda s: s.forward(noise().tolist()), TypeError, ["noise", "numpy.ndarray", "list"]),
    ("cotangent shape", lambda s: s.vjp(noise(), {"displacements": np.zeros((7, 3))}), ValueError, ['cotangent["displacements"]', "(7, 3)"]),
    ("cotangent key", lambda s: s.vjp(noise(), {"positions": np.zeros((512, 3))}), KeyError, ["cotangent", "positions"]),
    ("unknown objective", lambda s: s.value_and_grad(noise(), "chi2"), ValueError, ["objective", "chi2"]),
    ("likelihood without data", lambda s: s.value_and_grad(noise(), "likelihood"), ValueError, ["data"]),
    ("negative sigma", lambda s: s.value_and_grad(noise(), data=np.zeros((4, 4, 4)), sigma=-1.0), ValueError, ["sigma"]),
    ("power target length", lambda s: s.value_and_grad(noise(), "power", target=np.ones(3)), ValueError, ["target", "(8,)"]),
    ("unknown parameter", lambda s: s.with_cosmology({"Omega_x": 0.3}), KeyError, ["cosmology.Omega_x"]),
    ("NaN sigma8", lambda s: s.with_cosmology({"sigma8": float("nan")}), ValueError, ["cosmology.sigma8"]),
    ("Omega_m below Omega_b", lambda s: s.with_cosmology({"Omega_m": 0.01}), ValueError, ["cosmology.Omega_m"]),
]


@pytest.mark.parametrize("name,call,exc,words", CASES, ids=[c[0] for c in CASES])
def test_bad_arrays_and_arguments(sim, name, call, exc, words):
    with pytest.raises(exc) as e:
        call(sim)
    for w in words:
        assert w in str(e.value), f"{name}: {e.value!r} does not mention {w!r}"


CONFIGS = [
    ("negative box", {"simulation": {"box_size": -1.0}}, ValueError, ["simulation.box_size"]),
    ("unknown key", {"simulation": {"partcles": 8}}, ValueError, ["partcles"]),
    ("unknown section", {"simulatoin": {}}, ValueError, ["simulatoin"]),
    ("wrong type", {"simulation": {"steps": "ten"}}, ValueError, ["simulation.steps"]),
    ("odd particles", {"simulation": {"particles": 7}}, ValueError, ["simulation.particles", "even"]),
    ("bad precision", {"simulation": {"precision": "f16"}}, ValueError, ["simulation.precision"]),
    ("unknown cosmology", {"cosmology": {"preset": "nope"}}, ValueError, ["cosmology.preset"]),
    ("object value", {"simulation": {"box_size": object()}}, TypeError, ["simulation.box_size", "object"]),
    ("not a config", 42, TypeError, ["config", "int"]),
    ("missing file", "/nonexistent/pm.toml", OSError, ["/nonexistent/pm.toml"]),
    ("lensing", {"lensing": {"enabled": True}}, ValueError, ["lensing.enabled"]),
]


@pytest.mark.parametrize("name,config,exc,words", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_bad_configs(name, config, exc, words):
    with pytest.raises(exc) as e:
        pmrs.simulate(config)
    for w in words:
        assert w in str(e.value), f"{name}: {e.value!r} does not mention {w!r}"


def test_white_noise_of_the_wrong_precision():
    with pytest.raises(TypeError, match="white_noise: dtype float64"):
        pmrs.simulate(tiny("f32"), white_noise=noise())


def test_a_job_too_big_is_refused_before_it_allocates():
    """4096^3 particles need terabytes: MemoryError naming the keys, nothing allocated (the
    interpreter would be killed otherwise)."""
    big = {"simulation": {"particles": 4096, "mesh": 4096}}
    for call in (lambda: pmrs.simulate(big), lambda: pmrs.Simulation(big)):
        with pytest.raises(MemoryError) as e:
            call()
        assert "simulation.particles" in str(e.value) and "max_memory" in str(e.value)
    with pytest.raises(MemoryError, match="1.0 MB|1 MB|1.0 MiB|1 MiB|allowed"):
        pmrs.simulate(tiny("f64", particles=32, mesh=64), max_memory="1M")
    with pytest.raises(ValueError, match="max_memory"):
        pmrs.simulate(tiny(), max_memory="lots")
