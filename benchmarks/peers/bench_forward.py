"""Forward-run timing, pmrs against JaxPM on CPU, side by side and interleaved.

    python bench_forward.py [--n 128] [--box 256] [--steps 10] [--repeats 3] \
        [--jax-solvers lfm,fastpm] [--threads 2,1] [--workdir out/bench] [--no-build]

Setup (DESIGN.md, "forward speed, CPU"): n^3 particles on an n^3 mesh, box Mpc/h, 2LPT at
a = 0.1, `steps` steps to a = 1, f32, the same white noise file for both codes.

Each process runs under `/usr/bin/time -v` (wall time and peak RSS of the whole process,
imports and start-up included). Within a round the runs are interleaved: pmrs (rayon on
every thread count asked for), then JaxPM with each solver, and the rounds repeat; the
medians over rounds are reported. pmrs prints its own set-up, initial-condition and N-body
times; JaxPM's script prints the jitted forward's time with compilation (first call) and
without (second call), each up to `block_until_ready`. `uptime`'s load averages are logged
before every run. Writes WORKDIR/bench.md and WORKDIR/bench.json.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

from common import HERE, RUN_FORWARD, build_ours, log, white_noise

PY = sys.executable


def timed(cmd, env=None):
    load = open("/proc/loadavg").read().split()[:3]
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                       env=env, cwd=HERE)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{p.stdout}\n{p.stderr}")
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr)
    parts = [float(x) for x in m.group(1).split(":")]
    wall = sum(v * 60 ** (len(parts) - 1 - i) for i, v in enumerate(parts))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return dict(wall_s=wall, rss_mb=rss_kb / 1024, load=[float(x) for x in load],
                stdout=p.stdout)


def parse_ours(out):
    g = lambda pat: float(re.search(pat, out).group(1))  # noqa: E731
    return dict(setup_s=g(r"setup: ([\d.]+) s"), ic_s=g(r"initial conditions: ([\d.]+) s"),
                nbody_s=g(r"nbody: ([\d.]+) s"), steps=int(g(r"steps: (\d+)")))


def parse_jax(out):
    first = float(re.search(r"forward incl. jit compile: ([\d.]+) s", out).group(1))
    later = re.search(r"forward excl. compile: ([\d. ]+) s", out).group(1).split()
    imp = float(re.search(r"import: ([\d.]+) s", out).group(1))
    nsteps = int(re.search(r"num_steps=(\d+)", out).group(1))
    return dict(first_s=first, excl_s=min(float(x) for x in later), import_s=imp,
                num_steps=nsteps)


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--box", type=float, default=256.0)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jax-solvers", default="lfm,fastpm")
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=os.path.join(HERE, "out", "bench"))
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    wd = os.path.abspath(a.workdir)
    os.makedirs(wd, exist_ok=True)
    noise = os.path.join(wd, "noise.npy")
    white_noise(a.n, a.seed, noise)
    exe = RUN_FORWARD if a.no_build else build_ours()
    ours_cmd = [exe, "--box", str(a.box), "--particles", str(a.n), "--mesh", str(a.n),
                "--steps", str(a.steps), "--a-start", "0.1", "--a-end", "1",
                "--noise", noise, "--kernel", "fastpm", "--precision", "f32"]
    threads = [int(t) for t in a.threads.split(",") if t]
    solvers = [s for s in a.jax_solvers.split(",") if s]
    results = {f"pmrs-t{t}": [] for t in threads}
    results.update({f"jaxpm-{s}": [] for s in solvers})
    for rnd in range(a.repeats):
        for t in threads:
            env = dict(os.environ, RAYON_NUM_THREADS=str(t))
            r = timed(ours_cmd, env)
            r.update(parse_ours(r.pop("stdout")))
            log(f"round {rnd} pmrs t={t}: {r}")
            results[f"pmrs-t{t}"].append(r)
        for s in solvers:
            cmd = [PY, os.path.join(HERE, "jaxpm_forward.py"), "--noise", noise, "--n",
                   str(a.n), "--box", str(a.box), "--steps", str(a.steps), "--solver", s,
                   "--pk", "jaxcosmo", "--repeat", "1"]
            r = timed(cmd)
            r.update(parse_jax(r.pop("stdout")))
            log(f"round {rnd} jaxpm {s}: {r}")
            results[f"jaxpm-{s}"].append(r)
    with open(os.path.join(wd, "bench.json"), "w") as f:
        json.dump(results, f, indent=1)

    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True,
                         text=True).stdout.split(":")[-1].strip()
    nproc = os.cpu_count()
    loads = [r["load"][0] for rows in results.values() for r in rows]
    md = [f"Machine: {nproc} cores (`nproc`), {cpu}; load average (1 min) before the runs: "
          f"{min(loads):.2f} to {max(loads):.2f} (median {statistics.median(loads):.2f}). "
          f"{a.n}^3 particles, {a.n}^3 mesh, {a.box:g} Mpc/h, 2LPT at a = 0.1, {a.steps} "
          f"steps, f32. Median of {a.repeats} interleaved rounds.\n",
          "| run | process wall s | peak RSS MB | forward s (what) |", "|---|---|---|---|"]
    for name, rows in results.items():
        if name.startswith("pmrs"):
            what = (f"IC {med(rows, 'ic_s'):.2f} + N-body {med(rows, 'nbody_s'):.2f} "
                    f"({med(rows, 'nbody_s') / rows[0]['steps']:.3f}/step) = "
                    f"{med(rows, 'ic_s') + med(rows, 'nbody_s'):.2f}")
        else:
            what = (f"{med(rows, 'excl_s'):.2f} excl. compile, {med(rows, 'first_s'):.2f} incl. "
                    f"compile ({rows[0]['num_steps']} steps)")
        md.append(f"| {name} | {med(rows, 'wall_s'):.2f} | {med(rows, 'rss_mb'):.0f} | {what} |")
    text = "\n".join(md) + "\n"
    with open(os.path.join(wd, "bench.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
