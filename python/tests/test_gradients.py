"""Gradients through pmrs from Python and JAX against central finite differences (f64).

Tolerance 1e-6 relative, the Rust gradient tests' (pm-adjoint/tests): the map from the
noise to the final particles is smooth except where a particle crosses a CIC cell edge, so
the steps are small (1e-7 for the noise, 1e-6 for sigma8); truncation (~h^2) and rounding
(~1e-16 |L| / h) errors are then ~1e-9 to 1e-8 relative.
"""

import numpy as np
import pytest

import pmrs
from conftest import tiny

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import pmrs.jax as pj  # noqa: E402

TOL = 1e-6


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b))


def loss_of(simulate):
    """A scalar of the final positions and momenta that depends on every particle."""

    def loss(w, s8):
        x, p = simulate(w, {"sigma8": s8})
        return jnp.sum(jnp.sin(x / 7.0)) + 1e-3 * jnp.sum(p**2)

    return loss


@pytest.mark.parametrize("stepper", ["fastpm", "cola"])
def test_jax_grad_matches_finite_differences(stepper):
    simulate = pj.simulator(tiny("f64", stepper=stepper))
    w = jnp.asarray(simulate.simulation.white_noise())
    s8 = 0.81
    loss = loss_of(simulate)
    gw, gs = jax.grad(loss, argnums=(0, 1))(w, s8)
    assert gw.shape == w.shape and gw.dtype == w.dtype
    u = np.random.default_rng(1).standard_normal(w.shape)
    h = 1e-7
    fd = (loss(w + h * u, s8) - loss(w - h * u, s8)) / (2 * h)
    assert rel(float(jnp.sum(gw * u)), float(fd)) < TOL
    h = 1e-6
    fd = (loss(w, s8 + h) - loss(w, s8 - h)) / (2 * h)
    assert rel(float(gs), float(fd)) < TOL


def test_jit_and_value_and_grad_agree_with_eager():
    simulate = pj.simulator(tiny("f64"))
    w = jnp.asarray(simulate.simulation.white_noise())
    loss = loss_of(simulate)
    v0, g0 = jax.value_and_grad(loss)(w, 0.8)
    v1, g1 = jax.jit(jax.value_and_grad(loss))(w, 0.8)
    assert float(v0) == float(v1)
    # XLA fuses the loss's own derivative (sin, cos) differently under jit: the cotangents
    # handed to pmrs differ in the last bit, and so do the gradients.
    np.testing.assert_allclose(np.asarray(g0), np.asarray(g1), rtol=1e-12)


def test_gradient_of_several_cosmological_parameters():
    """Omega_m, Omega_b and h as well as sigma8 (each of Omega_m, Omega_b at fixed other)."""
    simulate = pj.simulator(tiny("f64"))
    w = jnp.asarray(simulate.simulation.white_noise())

    def loss(theta):
        x, p = simulate(w, theta)
        return jnp.sum(jnp.sin(x / 7.0)) + 1e-3 * jnp.sum(p**2)

    theta = {"Omega_m": 0.31, "Omega_b": 0.049, "h": 0.68, "sigma8": 0.8}
    g = jax.grad(loss)(theta)
    for k in theta:
        h = 1e-6 * theta[k]
        up = dict(theta, **{k: theta[k] + h})
        dn = dict(theta, **{k: theta[k] - h})
        fd = (loss(up) - loss(dn)) / (2 * h)
        assert rel(float(g[k]), float(fd)) < TOL, k


def test_vmap_loops_and_jvp_is_refused():
    simulate = pj.simulator(tiny("f64"))
    w = jnp.asarray(simulate.simulation.white_noise())
    ws = jnp.stack([w, 2 * w])
    xs, _ = jax.vmap(lambda w: simulate(w, {}))(ws)
    x1, _ = simulate(2 * w, {})
    np.testing.assert_array_equal(np.asarray(xs[1]), np.asarray(x1))
    with pytest.raises(TypeError):
        jax.jvp(lambda w: simulate(w, {})[0], (w,), (w,))


def test_value_and_grad_likelihood_matches_finite_differences():
    sim = pmrs.Simulation(tiny("f64"))
    w = sim.white_noise()
    data = np.random.default_rng(2).standard_normal((16, 16, 16))
    value, grad = sim.value_and_grad(w, "likelihood", data=data, sigma=0.5)
    u = np.random.default_rng(3).standard_normal(w.shape)
    h = 1e-7

    def at(x):
        return sim.value_and_grad(x, "likelihood", data=data, sigma=0.5, cosmology=False)[0]

    fd = (at(w + h * u) - at(w - h * u)) / (2 * h)
    assert rel(float(np.sum(grad["noise"] * u)), fd) < TOL
    # the prior is included: |w|^2 / 2 is part of the value
    no_prior = sim.value_and_grad(w, "likelihood", data=data, sigma=0.5, prior=False)[0]
    assert abs(value - no_prior - 0.5 * np.sum(w**2)) < 1e-9 * value
    assert set(grad["cosmology"]) == {"Omega_m", "Omega_b", "h", "n_s", "sigma8", "w0", "wa"}


def test_power_loss_gradient_matches_finite_differences():
    sim = pmrs.Simulation(tiny("f64"))
    w = sim.white_noise()
    target = np.full(8, 2000.0)  # 16^3 mesh: 8 bins of width k_f
    value, grad = sim.value_and_grad(w, "power", target=target, prior=False)
    u = np.random.default_rng(4).standard_normal(w.shape)
    h = 1e-7

    def at(x):
        return sim.value_and_grad(x, "power", target=target, prior=False, cosmology=False)[0]

    fd = (at(w + h * u) - at(w - h * u)) / (2 * h)
    assert rel(float(np.sum(grad["noise"] * u)), fd) < TOL


def test_vjp_without_and_with_the_final_state_agree():
    sim = pmrs.Simulation(tiny("f64"))
    w = sim.white_noise()
    state = sim.forward(w)
    ct = {"displacements": np.sin(state["displacements"]), "momenta": state["momenta"]}
    a = sim.vjp(w, ct)
    b = sim.vjp(w, ct, final_state=state)
    np.testing.assert_allclose(a["noise"], b["noise"], rtol=0, atol=1e-12 * np.abs(a["noise"]).max())
    for k in a["cosmology"]:
        assert abs(a["cosmology"][k] - b["cosmology"][k]) <= 1e-10 * max(1.0, abs(a["cosmology"][k]))
