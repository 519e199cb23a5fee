#!/usr/bin/env bash
# Peak resident memory of every rank of `pm run --mpi` with and without the snapshot write:
# the same run (benchmarks/one-engine/run128.toml: 128^3 particles, 128^3 mesh, 10 steps,
# f32) once with the default outputs at a = 1 (positions, momenta, P(k), pictures; `density`
# too with DENSITY=1) and once with every output off, on NP MPI processes. Each rank's peak
# is reported by /usr/bin/time (`%M`, KB).
# Usage: snapshot_memory.sh PM_BINARY NP      (a `pm` built with `--features mpi`)
set -euo pipefail
pm=$1
np=$2
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpi=(mpirun --allow-run-as-root --oversubscribe -x RAYON_NUM_THREADS=1 -np "$np")
cp "$here/run128.toml" "$out/with.toml"
if [ "${DENSITY:-0}" = 1 ]; then
    printf '[output]\ndensity = true\n' >>"$out/with.toml"
fi
cp "$here/run128.toml" "$out/without.toml"
printf '[output]\nsnapshots = false\npower = false\nplots = false\n' >>"$out/without.toml"
for case in without with; do
    rm -rf "$out/run"
    "${mpi[@]}" /usr/bin/time -f "$case: rank peak %M KB" "$pm" run "$out/$case.toml" --mpi \
        --output "$out/run" --quiet 2>&1 | grep "rank peak" | sort
done
