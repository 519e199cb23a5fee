"""The pmrs simulation as a JAX-differentiable function.

``simulator(config)`` returns ``simulate(noise, cosmo_params)``, a JAX function of the
white noise (shape ``(n, n, n)``) and a dict of cosmological parameters (any of
``Omega_m``, ``Omega_b``, ``h``, ``n_s``, ``sigma8``, ``w0``, ``wa``; the others keep the
config's values) that returns the final particles ``(positions, momenta)``, each
``(n**3, 3)``: positions unwrapped (lattice + displacement, Mpc/h), row ``i`` lattice point
``i`` in C order. pmrs runs on the host through ``jax.pure_callback``; the derivative is
``jax.custom_vjp`` whose backward pass is pmrs's reverse-time adjoint (the forward run's
final state is kept as the residual, so the backward pass does not run the simulation
again).

What works: ``jax.grad``, ``jax.value_and_grad``, ``jax.vjp`` and ``jax.jit`` around it.
What does not: ``jax.jvp`` / ``jax.jacfwd`` (forward mode) raise JAX's TypeError for a
``custom_vjp`` function; ``jax.vmap`` runs the batch as a loop, one simulation after the
other (``vmap_method="sequential"``), and ``jax.hessian`` is not available (it needs forward
mode). Arrays have the config's precision: float32 needs nothing, float64 needs
``jax.config.update("jax_enable_x64", True)``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._pmrs import Simulation

__all__ = ["simulator", "simulate", "paint"]


class _Cache:
    """The last few ``Simulation`` objects by cosmological parameters (building one solves
    the growth ODE and normalises P(k), a few ms; an HMC trajectory reuses one)."""

    def __init__(self, base: Simulation, size: int = 4):
        self.base = base
        self.size = size
        self.items: dict = {}

    def get(self, params: dict) -> Simulation:
        key = tuple(sorted((k, float(v)) for k, v in params.items()))
        if not key:
            return self.base
        sim = self.items.pop(key, None)
        if sim is None:
            sim = self.base.with_cosmology(dict(key))
            if len(self.items) >= self.size:
                self.items.pop(next(iter(self.items)))
        self.items[key] = sim
        return sim


def simulator(config=None):
    """``simulate(noise, cosmo_params)`` for the run ``config`` describes (a dict with the
    TOML config's keys, a path to a TOML file, or None for the defaults).
    """
    base = Simulation(config)
    cache = _Cache(base)
    n = base.particles_per_side
    dtype = np.dtype(base.dtype)
    rows = jax.ShapeDtypeStruct((n**3, 3), dtype)
    lattice = base.lattice()

    def _names(params: dict) -> list:
        return sorted(params)

    def _host_forward(noise, values, names):
        sim = cache.get(dict(zip(names, np.asarray(values, dtype=np.float64))))
        state = sim.forward(np.ascontiguousarray(noise, dtype=dtype))
        return state["displacements"], state["momenta"]

    def _host_vjp(noise, values, disp, mom, disp_bar, mom_bar, names):
        values = np.asarray(values)
        sim = cache.get(dict(zip(names, values.astype(np.float64))))
        grad = sim.vjp(
            np.ascontiguousarray(noise, dtype=dtype),
            {"displacements": np.ascontiguousarray(disp_bar, dtype=dtype),
             "momenta": np.ascontiguousarray(mom_bar, dtype=dtype)},
            final_state={"displacements": np.ascontiguousarray(disp, dtype=dtype),
                         "momenta": np.ascontiguousarray(mom, dtype=dtype)},
            cosmology=bool(names),
        )
        cosmo = np.array([grad["cosmology"][k] for k in names], dtype=values.dtype)
        return grad["noise"], cosmo

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
    def _run(noise, values, names):
        return _forward(noise, values, names)

    def _forward(noise, values, names):
        return jax.pure_callback(
            functools.partial(_host_forward, names=names),
            (rows, rows),
            noise,
            values,
            vmap_method="sequential",
        )

    def _fwd(noise, values, names):
        disp, mom = _forward(noise, values, names)
        return (disp, mom), (noise, values, disp, mom)

    def _bwd(names, residuals, cotangents):
        noise, values, disp, mom = residuals
        disp_bar, mom_bar = cotangents
        noise_bar, cosmo_bar = jax.pure_callback(
            functools.partial(_host_vjp, names=names),
            (jax.ShapeDtypeStruct(noise.shape, dtype),
             jax.ShapeDtypeStruct((len(names),), values.dtype)),
            noise, values, disp, mom, disp_bar, mom_bar,
            vmap_method="sequential",
        )
        return noise_bar, cosmo_bar

    _run.defvjp(_fwd, _bwd)

    def simulate(noise, cosmo_params=None):
        """The final ``(positions, momenta)`` of a run from ``noise`` with
        ``cosmo_params`` (a dict; empty or None for the config's cosmology)."""
        params = dict(cosmo_params or {})
        names = tuple(_names(params))
        values = jnp.stack([jnp.asarray(params[k]) for k in names]) if names else jnp.zeros((0,))
        disp, mom = _run(jnp.asarray(noise, dtype=dtype), values, names)
        return jnp.asarray(lattice) + disp, mom

    simulate.simulation = base
    simulate.lattice = lattice
    return simulate


def simulate(noise, cosmo_params=None, config=None):
    """One call of ``simulator(config)(noise, cosmo_params)`` (builds the simulator each
    time: keep ``simulator(config)`` for repeated calls)."""
    return simulator(config)(noise, cosmo_params)


def paint(positions, mesh: int, box_size: float):
    """The CIC density contrast ``delta`` of ``positions`` (``(N, 3)``, Mpc/h, any values:
    wrapped periodically) on a ``mesh**3`` grid, in JAX (differentiable): the convention
    of pmrs's ``density.npy`` (``1 + delta = (N_cells / N) sum_i W(x_i - c)``)."""
    x = jnp.asarray(positions) * (mesh / box_size)
    base = jnp.floor(x)
    frac = x - base
    base = base.astype(jnp.int32)
    rho = jnp.zeros((mesh, mesh, mesh), dtype=x.dtype)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (
                    (frac[:, 0] if dx else 1 - frac[:, 0])
                    * (frac[:, 1] if dy else 1 - frac[:, 1])
                    * (frac[:, 2] if dz else 1 - frac[:, 2])
                )
                i = (base[:, 0] + dx) % mesh
                j = (base[:, 1] + dy) % mesh
                k = (base[:, 2] + dz) % mesh
                rho = rho.at[i, j, k].add(w)
    n = positions.shape[0]
    return rho * (mesh**3 / n) - 1.0
