"""JaxPM forward run from a given white noise (CPU jax, float32).

    python jaxpm_forward.py --noise noise.npy --box 256 --n 128 --steps 10 \
        --solver lfm|fastpm|dopri5 [--pk jaxcosmo|TABLE.npy] [--out DIR] [--repeat R]

The pipeline is JaxPM's (jaxpm 0.1.6, as its examples and benchmarks/bench_pm.py use it):

* the linear field: `jaxpm.pm.linear_field` with the given noise in place of its
  `normal_field(seed)` draw (the same code otherwise: `rfftn(noise) * sqrt(P(k) N / V)`,
  then `irfftn`);
* P(k): `jax_cosmo.power.linear_matter_power` (Eisenstein & Hu with wiggles, sigma8 at a=1)
  on `logspace(-4, 1, 128)`, linearly interpolated (`--pk jaxcosmo`, JaxPM's examples), or a
  (k, P) table from pmrs's run (`--pk linear_power.npy`) to give both codes the same spectrum;
* `jaxpm.pm.lpt(cosmo, ic, a=a_start, order=2)` (relative displacements, one particle per
  cell);
* the N-body integration, one of
  - `lfm`: diffrax `LeapfrogMidpoint` with `ConstantStepSize`, dt = (a_end - a_start)/steps,
    on `jaxpm.pm.make_diffrax_ode` (JaxPM's own fixed-step choice in benchmarks/bench_pm.py:
    one force evaluation per step; not a symplectic kick-drift-kick, it is the 2-step
    "leapfrog/midpoint" multistep method started by an Euler step);
  - `fastpm`: FastPM kick-drift-kick (Feng et al. 2016) written here with JaxPM's
    `pm_forces` and JaxPM's own FastPM growth functions (`jaxpm.growth.Gf`, `dGfa`,
    `growth_factor`): the same scheme as pmrs, to isolate everything but the stepper
    (JaxPM 0.1.6 on PyPI has no FastPM/KDK solver of its own);
  - `dopri5`: diffrax `Dopri5` with a `PIDController(rtol, atol)` (JaxPM's tests): an
    adaptive, converged reference.

The whole forward (P(k), linear field, LPT, integration) is one `jax.jit`; the first call
includes compilation, the later ones (`--repeat`) do not; every time is measured up to
`block_until_ready`. Writes DIR/positions.npy (float32 (n^3, 3), Mpc/h, wrapped into [0, L))
and DIR/info.json.
"""

import argparse
import json
import os
import time

import numpy as np

t_import = time.perf_counter()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax_cosmo as jc  # noqa: E402
import jaxpm  # noqa: E402
from jaxpm.distributed import fft3d, ifft3d  # noqa: E402
from jaxpm.growth import Gf, dGfa, growth_factor, growth_factor_second  # noqa: E402
from jaxpm.kernels import fftk  # noqa: E402
from jaxpm.pm import lpt, make_diffrax_ode, pm_forces  # noqa: E402

from common import PLANCK18  # noqa: E402

t_import = time.perf_counter() - t_import


def linear_field_from_noise(noise, box_size, pk):
    """jaxpm.pm.linear_field with `noise` in place of its normal_field(seed) draw."""
    mesh_shape = noise.shape
    field = fft3d(noise)
    kvec = fftk(field)
    kmesh = sum((kk / box_size[i] * mesh_shape[i]) ** 2 for i, kk in enumerate(kvec)) ** 0.5
    pkmesh = pk(kmesh) * (mesh_shape[0] * mesh_shape[1] * mesh_shape[2]) / (
        box_size[0] * box_size[1] * box_size[2]
    )
    field = field * jnp.sqrt(pkmesh)
    return ifft3d(field)


def make_forward(n, box, steps, a0, a1, solver, pk_table=None, rtol=1e-5):
    mesh_shape = (n, n, n)
    box_size = (box, box, box)

    def forward(noise):
        # Two cosmology objects, as JaxPM's benchmarks/bench_pm.py does: jax_cosmo and jaxpm
        # cache their (different) growth tables under the same key of `cosmo._workspace`.
        cosmo = jc.Cosmology(**PLANCK18)
        if pk_table is None:
            k = jnp.logspace(-4, 1, 128)
            pk = jc.power.linear_matter_power(jc.Cosmology(**PLANCK18), k)
            pk_fn = lambda x: jnp.interp(x.reshape([-1]), k, pk).reshape(x.shape)  # noqa: E731
        else:
            lk = jnp.log(jnp.asarray(pk_table[:, 0], dtype=jnp.float32))
            pt = jnp.asarray(pk_table[:, 1], dtype=jnp.float32)
            pk_fn = lambda x: jnp.interp(  # noqa: E731
                jnp.log(jnp.maximum(x.reshape([-1]), 1e-8)), lk, pt
            ).reshape(x.shape)
        ic = linear_field_from_noise(noise, box_size, pk_fn)
        dx, p, _ = lpt(cosmo, ic, a=a0, order=2)
        if solver == "fastpm":
            return fastpm_kdk(cosmo, mesh_shape, dx, p, a0, a1, steps), jnp.int32(steps)
        import diffrax

        term = diffrax.ODETerm(make_diffrax_ode(mesh_shape, paint_absolute_pos=False))
        y0 = jnp.stack([dx, p])
        if solver == "lfm":
            res = diffrax.diffeqsolve(
                term,
                diffrax.LeapfrogMidpoint(),
                t0=a0,
                t1=a1,
                dt0=(a1 - a0) / steps,
                y0=y0,
                args=cosmo,
                stepsize_controller=diffrax.ConstantStepSize(),
                saveat=diffrax.SaveAt(t1=True),
            )
        elif solver == "dopri5":
            res = diffrax.diffeqsolve(
                term,
                diffrax.Dopri5(),
                t0=a0,
                t1=a1,
                dt0=None,
                y0=y0,
                args=cosmo,
                stepsize_controller=diffrax.PIDController(rtol=rtol, atol=rtol),
                saveat=diffrax.SaveAt(t1=True),
                max_steps=10000,
            )
        else:
            raise ValueError(solver)
        return res.ys[-1, 0], res.stats["num_steps"]

    return jax.jit(forward)


def fastpm_kdk(cosmo, mesh_shape, x, p, a0, a1, steps):
    """FastPM kick-drift-kick with JaxPM's forces and growth functions, a linear in a:
    kick  p += F(a_f) [Gf(a_1) - Gf(a_0)] / gf(a_f),   gf = a^2 E dGf/da,
    drift x += p(a_m) [D(a_1) - D(a_0)] / Gf(a_m),
    F = 3/2 Omega_m pm_forces(x) (JaxPM's ODE right-hand side). As pmrs: half kick with the
    force at a_0, drift with the momentum at the midpoint a_h, force at a_1, half kick."""
    om = cosmo.Omega_m

    def force(x):
        return pm_forces(x, mesh_shape=mesh_shape, paint_absolute_pos=False) * 1.5 * om

    def gf(a):
        return a**2 * jnp.sqrt(jc.background.Esqr(cosmo, a)) * dGfa(cosmo, a)

    def kick(a_0, a_1, a_f):
        return (Gf(cosmo, a_1) - Gf(cosmo, a_0)) / gf(a_f)

    def drift(a_0, a_1, a_m):
        return (growth_factor(cosmo, a_1) - growth_factor(cosmo, a_0)) / Gf(cosmo, a_m)

    edges = jnp.linspace(a0, a1, steps + 1)

    def body(carry, ab):
        x, p, f = carry
        a_0, a_1 = ab[0], ab[1]
        ah = 0.5 * (a_0 + a_1)
        p = p + f * kick(a_0, ah, a_0)
        x = x + p * drift(a_0, a_1, ah)
        f = force(x)
        p = p + f * kick(ah, a_1, a_1)
        return (x, p, f), None

    ab = jnp.stack([edges[:-1], edges[1:]], axis=1)
    (x, p, _), _ = jax.lax.scan(body, (x, p, force(x)), ab)
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--noise", required=True)
    ap.add_argument("--box", type=float, default=256.0)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--a-start", type=float, default=0.1)
    ap.add_argument("--a-end", type=float, default=1.0)
    ap.add_argument("--solver", choices=["lfm", "fastpm", "dopri5"], default="lfm")
    ap.add_argument("--pk", default="jaxcosmo")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--repeat", type=int, default=0, help="timed runs after the first")
    ap.add_argument("--out")
    a = ap.parse_args()

    t0 = time.perf_counter()
    noise = np.load(a.noise)
    assert noise.shape == (a.n,) * 3, noise.shape
    noise = jnp.asarray(noise, dtype=jnp.float32)
    pk_table = None if a.pk == "jaxcosmo" else np.load(a.pk)
    fwd = make_forward(a.n, a.box, a.steps, a.a_start, a.a_end, a.solver, pk_table, a.rtol)
    t_load = time.perf_counter() - t0

    t0 = time.perf_counter()
    x, nsteps = fwd(noise)
    x.block_until_ready()
    t_first = time.perf_counter() - t0
    runs = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        y, _ = fwd(noise)
        y.block_until_ready()
        runs.append(time.perf_counter() - t0)
        del y

    cosmo = jc.Cosmology(**PLANCK18)
    d1 = [float(growth_factor(cosmo, jnp.atleast_1d(v))[0]) for v in (a.a_start, a.a_end)]
    cosmo_jc = jc.Cosmology(**PLANCK18)
    d1_jc = [
        float(jc.background.growth_factor(cosmo_jc, jnp.atleast_1d(v))[0])
        for v in (a.a_start, a.a_end)
    ]
    g2 = float(growth_factor_second(cosmo, jnp.atleast_1d(a.a_start))[0])
    info = dict(
        code=f"jaxpm {getattr(jaxpm, '__version__', '?')} / jax {jax.__version__}",
        devices=str(jax.devices()),
        solver=a.solver,
        pk=a.pk,
        n=a.n,
        box=a.box,
        steps=a.steps,
        num_steps=int(nsteps),
        a_start=a.a_start,
        a_end=a.a_end,
        d1_start=d1[0],
        d1_end=d1[1],
        d1_start_jax_cosmo=d1_jc[0],
        d1_end_jax_cosmo=d1_jc[1],
        # jaxpm.pm.lpt's 2LPT factor: 3/7 * growth_factor_second (D2 normalised to 1 at a = 1)
        d2_start_used=-3.0 / 7.0 * g2,
        t_import_s=t_import,
        t_load_s=t_load,
        t_first_s=t_first,
        t_runs_s=runs,
    )
    print(
        f"jaxpm solver={a.solver} pk={a.pk} n={a.n}^3 box={a.box} steps={a.steps} "
        f"(num_steps={int(nsteps)}) D1(a_start)={d1[0]:.8f} D1(a_end)={d1[1]:.8f}"
    )
    print(f"import: {t_import:.3f} s  load+trace setup: {t_load:.3f} s")
    print(f"forward incl. jit compile: {t_first:.3f} s")
    if runs:
        print("forward excl. compile: " + " ".join(f"{t:.3f}" for t in runs) + " s")
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        disp = np.asarray(x, dtype=np.float64).reshape(-1, 3)
        grid = np.indices((a.n,) * 3).reshape(3, -1).T
        pos = np.mod((grid + disp) * (a.box / a.n), a.box).astype(np.float32)
        pos[pos >= a.box] = 0.0
        np.save(os.path.join(a.out, "positions.npy"), pos)
        with open(os.path.join(a.out, "info.json"), "w") as f:
            json.dump(info, f, indent=2)
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
