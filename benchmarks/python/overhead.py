"""The cost of reaching pmrs from Python and JAX: one gradient evaluation at 128^3
particles, 128^3 mesh, 256 Mpc/h, 10 FastPM steps from a = 0.1, f32, through

* Rust alone: `gradient_cost gradient 128 10 REPEAT` (pm-adjoint's measurement example:
  `value_and_gradient` evaluated REPEAT times in one process, setup excluded), run as a
  subprocess; the first evaluation is cold (FFT plans, first touch of the buffers) and is
  left out, as the Python paths' warm-up is;
* Rust inside the Python module: `Simulation.value_and_grad` (one call into Rust's
  `value_and_gradient`, likelihood of the painted density: the same compiled engine as the
  two paths below, so the comparison that isolates the bridge's cost);
* pmrs from Python: `Simulation.forward` then `Simulation.vjp(..., final_state=...)`;
* pmrs.jax: `jax.jit(jax.value_and_grad(loss))` with pure_callback and custom_vjp.

The objective is `L = |disp|^2 / 2 + |noise|^2 / 2` (in JAX, `disp` is `positions -
lattice`) except in the module's `value_and_grad` (see above). Each timing is the best of `--repeat` runs after one warm-up.

    cargo build --release -p pm-adjoint --features tools --example gradient_cost
    pip install ./python jax          # or maturin develop --release
    python benchmarks/python/overhead.py [--repeat 3] [--n 128] [--steps 10] [--threads 0]
"""

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def best(f, repeat):
    f()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="worker threads, 0: all cores")
    ap.add_argument(
        "--rust-bin",
        default=os.path.join(ROOT, "target", "release", "examples", "gradient_cost"),
    )
    args = ap.parse_args()
    n, steps = args.n, args.steps

    # Rust: one process, the gradient evaluated repeat + 1 times (the first is cold).
    env = dict(os.environ)
    if args.threads:
        env["RAYON_NUM_THREADS"] = str(args.threads)
    out = subprocess.run(
        [args.rust_bin, "gradient", str(n), str(steps), str(args.repeat + 1)],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    rust = [float(t) for t in re.findall(r"gradient ([0-9.]+) s", out)]
    rust_cold, rust = rust[0], rust[1:]

    import jax
    import jax.numpy as jnp

    import pmrs
    import pmrs.jax as pj

    config = {"simulation": {"particles": n, "mesh": n, "box_size": 2.0 * n, "steps": steps,
                             "a_start": 0.1, "a_end": 1.0, "seed": 1, "precision": "f32",
                             "threads": args.threads}}
    sim = pmrs.Simulation(config)
    w = sim.white_noise()

    def direct():
        state = sim.forward(w)
        g = sim.vjp(w, {"displacements": state["displacements"]}, final_state=state,
                    cosmology=False)
        return 0.5 * (np.sum(state["displacements"].astype(np.float64) ** 2)
                      + np.sum(w.astype(np.float64) ** 2)), g["noise"] + w

    simulate = pj.simulator(config)
    q = jnp.asarray(simulate.lattice)

    def loss(w):
        x, _ = simulate(w, {})
        d = x - q
        return 0.5 * (jnp.sum(d**2) + jnp.sum(w**2))

    grad = jax.jit(jax.value_and_grad(loss))
    wj = jnp.asarray(w)

    def through_jax():
        v, g = grad(wj)
        g.block_until_ready()
        return v, g

    # Rust's value_and_gradient inside the module (the same compiled engine as the two
    # paths below): one call, the Gaussian likelihood of the painted final density on the
    # force mesh (plus the prior), whose extra cost over L above is one CIC paint and its VJP.
    data = np.zeros((n, n, n), dtype=w.dtype)

    def in_module():
        return sim.value_and_grad(w, "likelihood", data=data, sigma=1.0, cosmology=False)

    t_module, all_module = best(in_module, args.repeat)
    t_direct, all_direct = best(direct, args.repeat)
    t_jax, all_jax = best(through_jax, args.repeat)
    t_rust = min(rust)
    threads = args.threads or os.cpu_count()
    print(f"{n}^3 particles, {n}^3 mesh, {steps} steps, f32, {threads} threads")
    print(f"{'path':<34}{'best s':>9}  all runs")
    print(f"{'Rust value_and_gradient':<34}{t_rust:9.3f}  {rust} (first, cold: {rust_cold})")
    print(f"{'Rust value_and_gradient, in module':<34}{t_module:9.3f}  "
          f"{[round(t, 3) for t in all_module]}  ({100 * (t_module / t_rust - 1):+.1f}%)")
    print(f"{'Python forward + vjp':<34}{t_direct:9.3f}  {[round(t, 3) for t in all_direct]}"
          f"  ({100 * (t_direct / t_rust - 1):+.1f}%)")
    print(f"{'pmrs.jax jit(value_and_grad)':<34}{t_jax:9.3f}  {[round(t, 3) for t in all_jax]}"
          f"  ({100 * (t_jax / t_rust - 1):+.1f}%)")
    # the three compute the same gradient (f32: to rounding)
    _, g_direct = direct()
    _, g_jax = through_jax()
    err = np.max(np.abs(np.asarray(g_jax) - g_direct)) / np.max(np.abs(g_direct))
    print(f"max |g_jax - g_direct| / max |g| = {err:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
