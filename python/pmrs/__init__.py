"""pmrs: fast, differentiable particle-mesh N-body simulations (Rust) for numpy and JAX.

>>> import pmrs
>>> out = pmrs.simulate({"simulation": {"particles": 16, "mesh": 32, "steps": 3}})
>>> out["snapshots"][-1]["positions"].shape
(4096, 3)

* ``pmrs.simulate(config, white_noise=None)``: the run ``pm run`` makes of ``config``, its
  snapshots as numpy arrays (byte for byte the files ``pm run`` writes).
* ``pmrs.Simulation(config)``: forward runs from any white noise, their vector-Jacobian
  product and the gradients of the stock objectives, with respect to the white noise and
  the cosmological parameters.
* ``pmrs.jax``: the simulation as a JAX function with a custom VJP (``import pmrs.jax``;
  needs ``jax``).

``config`` is a dict with the keys of the TOML config (``pmrs.default_config()`` prints them
with their defaults), a path to a TOML file, or None for the defaults. See python/README.md.
"""

from ._pmrs import Simulation, __version__, default_config, simulate, validate

__all__ = ["Simulation", "simulate", "validate", "default_config", "__version__"]
