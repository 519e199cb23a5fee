"""Shared pieces of the JaxPM comparison: the cosmology, white noise, a numpy CIC paint and
the power / cross spectra (numpy only, so that both codes' particles are measured the same
way).

Conventions are pmrs's (DESIGN.md): Mpc/h, forward FFT unnormalised, P(k) = V |delta_k|^2 / N^2
binned by |k| and weighted by mode count (the half-complex grid counted with its Hermitian
weights).
"""

import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# pm-cosmo's Cosmology::planck18() (pm-cosmo/src/params.rs): Planck 2018 TT,TE,EE+lowE+
# lensing+BAO, flat, w = -1. sigma8 normalises the Eisenstein-Hu linear power at a = 1.
H = 0.6766
PLANCK18 = dict(
    Omega_c=0.11933 / H**2,
    Omega_b=0.02242 / H**2,
    h=H,
    n_s=0.9665,
    sigma8=0.8102,
    Omega_k=0.0,
    w0=-1.0,
    wa=0.0,
)

TARGET = os.environ.get("CARGO_TARGET_DIR", "/tmp/target-peers")
RUN_FORWARD = os.path.join(TARGET, "release", "examples", "run_forward")


def build_ours():
    """cargo build --release -p pm-integrate --features tools --example run_forward (into CARGO_TARGET_DIR)."""
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    subprocess.run(
        ["cargo", "build", "--release", "-p", "pm-integrate", "--features", "tools", "--example", "run_forward"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return RUN_FORWARD


def white_noise(n, seed, path):
    """Unit-variance Gaussian white noise on the n^3 particle grid, C order, float64 .npy."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, n, n))
    np.save(path, noise)
    return noise


def cic_paint(pos, n, box):
    """CIC density contrast of particles at `pos` ((N, 3), Mpc/h) on an n^3 mesh over `box`:
    mesh point j sits at x = j * box / n (JaxPM's and pmrs's convention), mean density 1."""
    u = np.asarray(pos, dtype=np.float64) * (n / box)
    u = np.mod(u, n)
    i0 = np.floor(u).astype(np.int64)
    f = u - i0
    i0 %= n
    i1 = (i0 + 1) % n
    rho = np.zeros(n**3, dtype=np.float64)
    for dx in (0, 1):
        ix = i1[:, 0] if dx else i0[:, 0]
        wx = f[:, 0] if dx else 1.0 - f[:, 0]
        for dy in (0, 1):
            iy = i1[:, 1] if dy else i0[:, 1]
            wy = f[:, 1] if dy else 1.0 - f[:, 1]
            for dz in (0, 1):
                iz = i1[:, 2] if dz else i0[:, 2]
                wz = f[:, 2] if dz else 1.0 - f[:, 2]
                idx = (ix * n + iy) * n + iz
                rho += np.bincount(idx, weights=wx * wy * wz, minlength=n**3)
    rho *= n**3 / len(pos)
    return rho.reshape(n, n, n) - 1.0


def kgrid(n, box):
    """|k| (h/Mpc) and Hermitian weights on the rfftn grid of an n^3 mesh."""
    kf = 2 * np.pi / box
    k1 = np.fft.fftfreq(n, 1.0 / n) * kf
    kz = np.arange(n // 2 + 1) * kf
    kk = np.sqrt(k1[:, None, None] ** 2 + k1[None, :, None] ** 2 + kz[None, None, :] ** 2)
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return kk, np.broadcast_to(w[None, None, :], kk.shape)


def default_edges(n, box):
    """Bin edges (h/Mpc): the first fundamentals one by one, then fractions of k_Nyquist."""
    kf = 2 * np.pi / box
    half = n // 2
    in_kf = {0.5, 1.5, 2.5, 4.5}
    for frac in (1 / 16, 1 / 8, 3 / 16, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1):
        in_kf.add(round(half * frac) + 0.5)
    return kf * np.array(sorted(e for e in in_kf if e <= half + 0.5))


def spectra(d1, d2, box, edges):
    """Per bin: mean k, mode count, P11, P22, P12 (real part), pmrs's estimator."""
    n = d1.shape[0]
    N = n**3
    V = box**3
    f1 = np.fft.rfftn(d1)
    f2 = np.fft.rfftn(d2)
    kk, w = kgrid(n, box)
    kk, w = kk.ravel(), w.ravel()
    idx = np.digitize(kk, edges) - 1
    nb = len(edges) - 1
    ok = (idx >= 0) & (idx < nb) & (kk > 0)
    idx, wk = idx[ok], w[ok]

    def binned(v):
        return np.bincount(idx, weights=wk * v.ravel()[ok], minlength=nb)

    cnt = np.bincount(idx, weights=wk, minlength=nb)
    ksum = np.bincount(idx, weights=wk * kk[ok], minlength=nb)
    norm = V / N**2
    p11 = binned(np.abs(f1) ** 2) / cnt * norm
    p22 = binned(np.abs(f2) ** 2) / cnt * norm
    p12 = binned((f1 * np.conj(f2)).real) / cnt * norm
    return dict(k=ksum / cnt, modes=cnt, p11=p11, p22=p22, p12=p12)


def linear_realisation(noise, box, pk_table, edges):
    """The binned power of the linear field delta_L(k) = FFT(noise) sqrt(P N / V) at a = 1
    from this noise (the same modes both codes start from), with P from a (k, P) table."""
    n = noise.shape[0]
    kk, _ = kgrid(n, box)
    f = np.fft.rfftn(noise)
    p = np.interp(np.log(np.maximum(kk, 1e-30)), np.log(pk_table[:, 0]), pk_table[:, 1])
    f *= np.sqrt(p * n**3 / box**3)
    f[0, 0, 0] = 0
    d = np.fft.irfftn(f, s=noise.shape)
    return spectra(d, d, box, edges)


def log(*a):
    print(*a, file=sys.stderr, flush=True)
