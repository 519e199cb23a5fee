#!/usr/bin/env python3
"""Field-level inference with pmrs gradients: sample the initial white noise and sigma8
from a noisy final density field with numpyro's NUTS, through ``pmrs.jax``.

What it does
------------
1. Truth. A pmrs run of 32^3 particles on a 32^3 force mesh in a 256 Mpc/h box, 5 FastPM
   steps (linear in a) from a = 0.1 (2LPT) to a = 1, float32, Planck 18 cosmology with
   sigma8 = 0.8102. The true white noise ``w_true`` is the config seed's (``--seed``). The
   data are the CIC density contrast of the final particles on a 32^3 mesh plus Gaussian
   noise of ``sigma_n`` per cell (``--sigma-n``, default 0.4).
2. Model. ``w ~ N(0, 1)`` in each of the 32^3 cells, ``sigma8 ~ Uniform(0.5, 1.1)``,
   ``d ~ N(paint(simulate(w, {"sigma8": sigma8})), sigma_n)`` with the very forward model
   that made the data (same steps, mesh and painting).
3. Sampling. numpyro NUTS, one chain, target acceptance 0.8, ``max_tree_depth``
   ``--max-tree-depth`` (default 5: at most 31 leapfrog steps per iteration, each one
   forward run plus one adjoint run of pmrs), diagonal mass matrix adapted in the warmup
   from an analytic start, in reparameterised coordinates (same target; see the comments at
   ``model``: the white noise's Hartley transform, partially centred on sigma8 mode by
   mode), started at the priors' medians (``init_to_value``: white noise 0, i.e. the
   unperturbed lattice, and ``sigma8 = 0.8``).
4. Report and check. sigma8's posterior (mean, std, 68% and 95% intervals, ESS) against
   the truth; the cross-correlation ``r(k) = P_tr / sqrt(P_t P_r)`` between ``w_true`` and
   the posterior-mean white noise in bins of width k_f = 2 pi / L centred on multiples of
   k_f, with the transfer ``T(k) = sqrt(P_r / P_t)`` and the data's signal-to-noise
   ``S/N = P_delta(k) / (sigma_n^2 V_cell)``; the wall time of one ``value_and_grad`` of the
   log density (mean of 10 calls after the first) and of the sampling. The script exits
   with status 1 if sigma8's 95% interval misses the truth or ``r(k) <= 0.8`` in any bin
   whose centre is below 0.2 h/Mpc (bins 1 to 8, the last reaching 0.209 h/Mpc).

Choices
-------
* Box 256 Mpc/h rather than 128: k_f = 0.0245 h/Mpc, so k < 0.2 h/Mpc holds 8 bins and
  about 1300 independent complex modes (at 128 Mpc/h: 4 bins, ~150 modes, and the first
  bin has 13 half-space modes, too few for r(k) to mean much). The 8 Mpc/h cells also keep
  the field mildly non-linear (rms delta 0.84 on the 32^3 mesh for seed 1; 1.67 at 128 Mpc/h
  with cells up to delta = 60), where a 5-step PM forward model is a fair description.
* Force mesh 32^3 (= particle grid): a value_and_grad cost ~0.16 s against ~0.3 s with a
  64^3 mesh on this 2-core machine (measured together, under the same load), and the inference is self-consistent (the model is the
  simulator that made the data), so force resolution does not bias it; it halves the
  number of NUTS iterations the time budget allows.
* sigma_n = 0.4 per cell, about 0.5 of the true field's rms. The noise power
  sigma_n^2 (L/32)^3 = 82 (Mpc/h)^3 equals the field's P(k) near k = 0.39 h/Mpc (the
  mesh's Nyquist frequency): the data are informative at large scales (S/N ~ 300 at k_f,
  ~15 at k = 0.2 h/Mpc) and barely at the grid scale, so the posterior of w is well
  constrained for k < 0.2 and prior-dominated near the corners of the k cube.
* ``jax_enable_x64`` is on, so numpyro's potential energy (a sum over 32768 cells, ~3e4
  at the typical set) and its Metropolis differences are float64; the noise is cast to
  float32 for the float32 simulation and the painted field back to float64. (It was also
  needed with the first pmrs.jax, whose backward pass declared the cosmology cotangent
  float64: "result_shape_dtypes cannot specify 64-bit types when `jax_enable_x64` is
  disabled"; 9386090 returns it in the parameters' dtype.)
* Sampling coordinates. In the plain coordinates (w itself, identity start metric) a
  short test (30 warmup iterations) ran at step size ~0.02 with every trajectory at the
  63-step cap and sigma8 drifting slowly along its degeneracy with the amplitude of w; in
  the Hartley, partially centred coordinates sigma8 moves freely (it settles near the
  truth within ~100 warmup iterations) and the final step size is ~0.04-0.05.

How to run
----------
    python -m venv venv && venv/bin/pip install pmrs jax numpyro   # (or the built wheel)
    venv/bin/python python/examples/field_level_inference.py \
        [--warmup 300] [--samples 150] [--seed 1] [--max-tree-depth 5] [--out res.json]

Options: ``--warmup``/``--samples`` NUTS iterations, ``--seed`` the truth's white noise
(pmrs seed), the data noise and the sampler's key, ``--sigma-n``, ``--max-tree-depth``,
``--centering {partial,none}`` (the sampling coordinates), ``--out`` a JSON file of the key
numbers (default: none), ``--plot`` a PNG of r(k) and the sigma8 trace (needs matplotlib;
default: none), ``--no-progress``.

What it prints
--------------
The setup, the per-gradient wall time, numpyro's progress bar, a coarse sigma8 trace of the
warmup, then sigma8's posterior against the truth, the sampler's statistics (divergences,
acceptance, leapfrog steps, step size), the r(k) table up to k = 0.3 h/Mpc, the wall times,
and PASS or FAIL (exit status 0 or 1).

Run time and results (seed 1, 2-core x86-64, pmrs threads = 0)
---------------------------------------------------------------
~0.08-0.10 s per value_and_grad of the log density on an idle machine (0.15 s with a
concurrent build), ~0.14-0.18 s per NUTS leapfrog step (numpyro's overhead included).
* Defaults (300 warmup + 150 samples, max_tree_depth 5, every trajectory at the 31-step
  cap, 13742 leapfrog steps): 40 min (a build shared the cores part of the time). sigma8
  0.8199 +- 0.0097, 95% [0.8039, 0.8394], ESS 9; r(k) 0.999 ... 0.934 for the 8 bins
  below 0.2 h/Mpc; 0 divergences after warmup; PASS.
* --warmup 200 --samples 100 --max-tree-depth 6 (63-step cap, 18497 steps; 67 min under
  heavy contention): sigma8 0.8242 +- 0.0065, 95% [0.8126, 0.8360], ESS 32; r(k) 0.999 ...
  0.941; FAIL (the truth 0.8102 is at -2.2 std).
The two chains agree with each other and with the oracle line (0.818 +- 0.004): seed 1's
white noise has ~3% more power than average in the well-measured modes (mean DHT(w)^2 =
1.030 for k <= 0.245 h/Mpc, a 1.5 sigma cosmic-variance excursion), which puts this
realisation's posterior near 0.82. The sigma8 check is therefore marginal for seed 1 and
its outcome depends on the width the (slowly mixing: ESS 9-32) sigma8 chain reports; r(k)
passes with a wide margin. More samples are the way to a trustworthy sigma8 interval.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)  # see "Choices" above

import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin  # noqa: E402
from numpyro.infer import MCMC, NUTS, init_to_value  # noqa: E402
from numpyro.infer.util import initialize_model  # noqa: E402

import pmrs  # noqa: E402
import pmrs.jax as pj  # noqa: E402

N = 32                # particles per side = data mesh per side
BOX = 256.0           # Mpc/h
SIGMA8_TRUE = 0.8102  # Planck 18 (the preset's value)
PRIOR = (0.5, 1.1)    # sigma8 ~ Uniform(PRIOR)
K_CHECK = 0.2         # h/Mpc: r(k) > R_MIN in every bin whose centre is below this
R_MIN = 0.8


def config(seed: int) -> dict:
    return {"simulation": {
        "particles": N, "mesh": N, "box_size": BOX, "steps": 5, "precision": "f32",
        "a_start": 0.1, "a_end": 1.0, "seed": seed, "threads": 0,
    }}


def binned_spectra(a: np.ndarray, b: np.ndarray, box: float):
    """Auto and cross power of two real (n, n, n) fields in bins of width k_f centred on
    i k_f (i = 1, 2, ...): (k centre, complex modes over the full k space, P_aa, P_bb,
    P_ab), the rfft's half space weighted so each mode counts once with its conjugate."""
    n = a.shape[0]
    kf = 2 * np.pi / box
    fa, fb = np.fft.rfftn(a), np.fft.rfftn(b)
    i1 = np.fft.fftfreq(n, 1.0 / n)
    iz = np.fft.rfftfreq(n, 1.0 / n)
    kk = np.sqrt(i1[:, None, None] ** 2 + i1[None, :, None] ** 2 + iz[None, None, :] ** 2)
    idx = np.floor(kk + 0.5).astype(int)
    wt = np.full(kk.shape, 2.0)
    wt[..., 0] = 1.0
    if n % 2 == 0:
        wt[..., -1] = 1.0
    nb = n // 2 + 1
    norm = box**3 / n**6  # P = V |delta_k|^2 with delta_k = FFT / n^3
    def bsum(x):
        return np.bincount(idx.ravel(), (wt * x).ravel(), minlength=nb + n)[1:nb]
    cnt = bsum(np.ones_like(kk))
    paa = bsum(np.abs(fa) ** 2) / cnt * norm
    pbb = bsum(np.abs(fb) ** 2) / cnt * norm
    pab = bsum((fa * np.conj(fb)).real) / cnt * norm
    return np.arange(1, nb) * kf, cnt, paa, pbb, pab


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--samples", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sigma-n", type=float, default=0.4)
    ap.add_argument("--max-tree-depth", type=int, default=5)
    ap.add_argument("--centering", choices=["partial", "none"], default="partial",
                    help="sampling coordinates of the white noise (see the model's comments)")
    ap.add_argument("--out", default=None, help="write the key numbers as JSON here")
    ap.add_argument("--plot", default=None, help="save a PNG of r(k) and the sigma8 trace")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    t_script = time.perf_counter()

    # ---- truth and data ------------------------------------------------------------------
    cfg = config(args.seed)
    sim = pmrs.Simulation(cfg)
    simulate = pj.simulator(cfg)
    w_true = np.asarray(sim.white_noise(), dtype=np.float32)
    x_true, _ = simulate(w_true, {"sigma8": jnp.float32(SIGMA8_TRUE)})
    delta_true = np.asarray(pj.paint(x_true, N, BOX), dtype=np.float64)
    rng = np.random.default_rng(args.seed)
    sigma_n = args.sigma_n
    data = delta_true + sigma_n * rng.standard_normal(delta_true.shape)
    print(f"pmrs field-level inference: {N}^3 particles, {sim.mesh}^3 force mesh, "
          f"L = {BOX:g} Mpc/h, 5 steps a = 0.1 -> 1, f32; seed {args.seed}")
    print(f"truth: sigma8 = {SIGMA8_TRUE}, rms delta = {delta_true.std():.3f}; "
          f"data noise sigma_n = {sigma_n} per cell ({sigma_n / delta_true.std():.2f} of rms)")

    # ---- model ---------------------------------------------------------------------------
    # Sampling coordinates (the target, the joint law of sigma8, w and d above, is the same
    # whatever they are; only the sampler's geometry changes):
    # * The white noise's orthonormal discrete Hartley transform (real, orthogonal, its own
    #   inverse): w ~ N(0, 1) per cell is exactly DHT(w) ~ N(0, 1) per cell, and in this basis
    #   the posterior is close to diagonal (the data constrain each k mode, both members of
    #   whose Hartley pair have one |k|), so a diagonal mass matrix can whiten it.
    # * Partial centring (Papaspiliopoulos, Roberts & Skold 2007) against the sigma8 -
    #   amplitude degeneracy: mode k of the latent u is u_k = DHT(w)_k (sigma8 / S_REF)^c_k,
    #   so that u_k | sigma8 ~ N(0, (sigma8 / S_REF)^(2 c_k)) and DHT(w)_k = u_k (S_REF /
    #   sigma8)^c_k, with c_k = S/(S+N) = 1 - N/P_data(|k|) clipped to [0, 1]: the modes the
    #   data pin down are sampled as the amplitude they fix (centred), the prior-dominated
    #   ones as white noise (not centred). With c = 0 (--centering none) u is DHT(w) and
    #   sigma8 can only move with all the well-measured modes of w moving against it, which
    #   makes its chain crawl (see the report).
    S_REF = 0.8

    def dht(h):
        f = jnp.fft.fftn(h, norm="ortho")
        return f.real - f.imag

    # the data's binned power against the noise power N = sigma_n^2 V_cell, mode by mode
    _, _, p_data, _, _ = binned_spectra(data, data, BOX)
    i1 = np.fft.fftfreq(N, 1.0 / N)
    ibin = np.floor(np.sqrt(i1[:, None, None] ** 2 + i1[None, :, None] ** 2
                            + i1[None, None, :] ** 2) + 0.5).astype(int)
    noise_frac = np.ones((N, N, N))  # N / P_data, 1 outside the binned sphere
    inside = (ibin >= 1) & (ibin <= len(p_data))
    noise_frac[inside] = (sigma_n**2 * (BOX / N) ** 3 / p_data)[ibin[inside] - 1]
    c_data = np.clip(1.0 - noise_frac, 0.0, 1.0)  # S / (S + N), mode by mode
    c = c_data if args.centering == "partial" else np.zeros((N, N, N))
    c_j = jnp.asarray(c)

    def white_noise(u, s8):
        """w from the latent u at sigma8 (works on a batch of u and s8 too)."""
        s8 = jnp.reshape(s8, jnp.shape(s8) + (1, 1, 1))
        return dht(u * (S_REF / s8) ** c_j)

    def model(data):
        s8 = numpyro.sample("sigma8", dist.Uniform(*PRIOR))
        u = numpyro.sample("u", dist.Normal(0.0, (s8 / S_REF) ** c_j).to_event(3))
        x, _ = simulate(white_noise(u, s8).astype(jnp.float32), {"sigma8": s8})
        delta = pj.paint(x, N, BOX).astype(jnp.float64)
        numpyro.sample("obs", dist.Normal(delta, sigma_n).to_event(3), obs=data)

    data_j = jnp.asarray(data)
    init = init_to_value(values={"u": jnp.zeros((N, N, N)), "sigma8": 0.8})
    # Initial inverse mass matrix: the linear (Wiener) posterior variance of each mode,
    # N / P_data clipped to [1e-3, 1]; sigma8's logit-space entry ~ (0.03)^2 (a relative
    # width of ~0.5%). numpyro adapts both (diagonal) in the warmup.
    var_u = np.clip(noise_frac, 1e-3, 1.0)
    inv_mass = {("u",): jnp.asarray(var_u.ravel()), ("sigma8",): jnp.asarray([1e-3])}

    # ---- one gradient of the log density, timed -----------------------------------------
    info = initialize_model(jax.random.PRNGKey(args.seed), model, model_args=(data_j,),
                            init_strategy=init)
    s8_u = dist.biject_to(dist.constraints.interval(*PRIOR)).inv(SIGMA8_TRUE)
    u_true = dht(jnp.asarray(w_true, dtype=jnp.float64)) * (SIGMA8_TRUE / S_REF) ** c_j
    at_truth = {"u": u_true, "sigma8": jnp.asarray(s8_u)}
    vg = jax.jit(jax.value_and_grad(info.potential_fn))
    v, g = vg(at_truth)
    jax.block_until_ready(g)
    times = []
    for _ in range(10):
        t = time.perf_counter()
        v, g = vg(at_truth)
        jax.block_until_ready(g)
        times.append(time.perf_counter() - t)
    t_grad = float(np.mean(times))
    fwd = jax.jit(info.potential_fn)
    jax.block_until_ready(fwd(at_truth))
    t = time.perf_counter()
    for _ in range(10):
        jax.block_until_ready(fwd(at_truth))
    t_fwd = (time.perf_counter() - t) / 10
    print(f"value_and_grad of the log density: {t_grad:.3f} s (mean of 10, min "
          f"{min(times):.3f}, max {max(times):.3f}); log density alone {t_fwd:.3f} s")

    # ---- NUTS ----------------------------------------------------------------------------
    kernel = NUTS(model, init_strategy=init, max_tree_depth=args.max_tree_depth,
                  target_accept_prob=0.8, inverse_mass_matrix=inv_mass)
    mcmc = MCMC(kernel, num_warmup=args.warmup, num_samples=args.samples, num_chains=1,
                progress_bar=not args.no_progress)
    extra = ("diverging", "accept_prob", "num_steps", "adapt_state.step_size")
    key = jax.random.PRNGKey(args.seed + 1000)
    t = time.perf_counter()
    mcmc.warmup(key, data_j, extra_fields=extra, collect_warmup=True)
    wx = mcmc.get_extra_fields()
    t_warm = time.perf_counter() - t
    s8_warm = np.asarray(mcmc.get_samples()["sigma8"])
    every = max(1, args.warmup // 10)
    print("warmup sigma8 trace (every %d): " % every
          + " ".join(f"{v:.4f}" for v in s8_warm[::every]) + f" | last {s8_warm[-1]:.4f}")
    print(f"warmup: {t_warm:.0f} s, {int(np.sum(wx['num_steps']))} leapfrog steps, "
          f"{int(np.sum(wx['diverging']))} divergent", flush=True)
    t = time.perf_counter()
    mcmc.run(mcmc.post_warmup_state.rng_key, data_j, extra_fields=extra)
    t_samp = time.perf_counter() - t
    sx = mcmc.get_extra_fields()
    post = mcmc.get_samples()
    s8 = np.asarray(post["sigma8"], dtype=np.float64)
    w_mean = np.asarray(jnp.mean(jax.lax.map(lambda a: white_noise(a[0], a[1]),
                                             (post["u"], post["sigma8"])), axis=0),
                        dtype=np.float64)

    # ---- sigma8 --------------------------------------------------------------------------
    q = np.percentile(s8, [2.5, 16, 50, 84, 97.5])
    cov68 = bool(q[1] <= SIGMA8_TRUE <= q[3])
    cov95 = bool(q[0] <= SIGMA8_TRUE <= q[4])
    ess = float(effective_sample_size(s8[None, :]))
    rhat = float(split_gelman_rubin(s8[None, :])) if len(s8) >= 4 else float("nan")
    nsteps_w, nsteps_s = np.asarray(wx["num_steps"]), np.asarray(sx["num_steps"])
    div_w, div_s = int(np.sum(wx["diverging"])), int(np.sum(sx["diverging"]))
    step = float(np.asarray(sx["adapt_state.step_size"])[-1])
    acc = float(np.mean(sx["accept_prob"]))
    z = (s8.mean() - SIGMA8_TRUE) / s8.std()

    # ---- r(k) ----------------------------------------------------------------------------
    k, cnt, p_t, p_r, p_tr = binned_spectra(w_true.astype(np.float64), w_mean, BOX)
    r = p_tr / np.sqrt(p_t * p_r)
    tk = np.sqrt(p_r / p_t)
    _, _, p_d, _, _ = binned_spectra(delta_true, delta_true, BOX)
    snr = p_d / (sigma_n**2 * (BOX / N) ** 3)
    # Oracle (a diagnostic, not part of the check): the sigma8 that the realised amplitude
    # of w_true in the modes the data measure implies, in the linear Gaussian picture
    # (|s8 w|^2 is what the data fix, |w|^2 / M ~ 1 is the prior): sigma8_true times the
    # sqrt of the c-weighted mean of DHT(w_true)^2, with std ~ sigma8 / sqrt(2 M_eff). It is
    # where a sampler should put the posterior for this realisation, to within the
    # non-linear information loss; it differs from the truth by cosmic variance.
    h_t = np.asarray(dht(jnp.asarray(w_true, dtype=jnp.float64)))
    oracle = float(SIGMA8_TRUE * np.sqrt(np.sum(c_data * h_t**2) / np.sum(c_data)))
    oracle_sd = float(SIGMA8_TRUE / np.sqrt(2 * np.sum(c_data) ** 2 / np.sum(c_data**2)))
    check = k < K_CHECK
    r_ok = bool(np.all(r[check] > R_MIN))
    ok = cov95 and r_ok

    # ---- report --------------------------------------------------------------------------
    print()
    print(f"sigma8 posterior ({args.samples} samples after {args.warmup} warmup, "
          f"max_tree_depth {args.max_tree_depth}, centering {args.centering})")
    print(f"  truth            {SIGMA8_TRUE:.4f}")
    print(f"  mean +- std      {s8.mean():.4f} +- {s8.std():.4f}   (truth at {z:+.2f} std)")
    print(f"  median           {q[2]:.4f}")
    print(f"  68% interval     [{q[1]:.4f}, {q[3]:.4f}]   covers truth: {cov68}")
    print(f"  95% interval     [{q[0]:.4f}, {q[4]:.4f}]   covers truth: {cov95}")
    print(f"  ESS, split R-hat {ess:.0f}, {rhat:.3f}")
    print(f"  oracle           {oracle:.4f} +- {oracle_sd:.4f}   (linear estimate from the "
          f"realised amplitude of w_true; diagnostic only)")
    print(f"sampler: divergences {div_s} (warmup {div_w}); mean acceptance {acc:.3f}; "
          f"step size {step:.3g}; leapfrog steps/iteration mean {nsteps_s.mean():.1f} "
          f"(warmup {nsteps_w.mean():.1f}), max {int(nsteps_s.max())}")
    print()
    print("cross-correlation of w_true and the posterior-mean w (bins of width k_f)")
    print(f"  {'k [h/Mpc]':>9} {'modes':>6} {'r(k)':>7} {'T(k)':>6} {'S/N':>7}")
    for i in range(len(k)):
        if k[i] > 0.3:
            break
        mark = ("ok" if r[i] > R_MIN else "LOW") if check[i] else ""
        print(f"  {k[i]:9.3f} {int(cnt[i]):6d} {r[i]:7.3f} {tk[i]:6.3f} {snr[i]:7.1f}  {mark}")
    print()
    n_grad = int(nsteps_w.sum() + nsteps_s.sum())
    t_total = time.perf_counter() - t_script
    print(f"wall time: value_and_grad {t_grad:.3f} s; warmup {t_warm:.0f} s; sampling "
          f"{t_samp:.0f} s; {n_grad} leapfrog steps in all, "
          f"{(t_warm + t_samp) / n_grad:.3f} s each; script {t_total:.0f} s")
    print(f"check: sigma8 95% interval covers truth: {cov95}; r(k) > {R_MIN} for "
          f"k < {K_CHECK} h/Mpc: {r_ok}  ->  {'PASS' if ok else 'FAIL'}")

    result = {
        "config": cfg, "sigma_n": sigma_n, "sigma8_true": SIGMA8_TRUE, "prior": PRIOR,
        "warmup": args.warmup, "samples": args.samples, "seed": args.seed,
        "max_tree_depth": args.max_tree_depth, "centering": args.centering,
        "sigma8": {"mean": float(s8.mean()), "std": float(s8.std()), "median": float(q[2]),
                   "ci68": [float(q[1]), float(q[3])], "ci95": [float(q[0]), float(q[4])],
                   "covers68": cov68, "covers95": cov95, "ess": ess, "split_rhat": rhat,
                   "oracle": oracle, "oracle_std": oracle_sd},
        "rk": {"k": k.tolist(), "modes": cnt.astype(int).tolist(), "r": r.tolist(),
               "T": tk.tolist(), "snr": snr.tolist()},
        "sampler": {"divergences": div_s, "divergences_warmup": div_w, "accept_prob": acc,
                    "step_size": step, "num_steps_mean": float(nsteps_s.mean()),
                    "num_steps_mean_warmup": float(nsteps_w.mean()),
                    "leapfrog_steps_total": n_grad},
        "time_s": {"value_and_grad": t_grad, "log_density": t_fwd, "warmup": t_warm,
                   "sampling": t_samp, "per_leapfrog": (t_warm + t_samp) / n_grad,
                   "script": t_total},
        "pass": ok,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        ax[0].plot(k, r, "o-", label="r(k)")
        ax[0].plot(k, tk, "s--", label="T(k)")
        ax[0].axhline(R_MIN, color="k", lw=0.5)
        ax[0].axvline(K_CHECK, color="k", lw=0.5)
        ax[0].set_xlabel("k [h/Mpc]")
        ax[0].legend()
        ax[1].plot(s8, lw=0.7)
        ax[1].axhline(SIGMA8_TRUE, color="r")
        ax[1].set_xlabel("sample")
        ax[1].set_ylabel("sigma8")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
