#!/usr/bin/env bash
# Side-by-side timing of two builds of pmrs (e.g. the commit before a change and after it),
# interleaved so that both see the same machine load:
#   `pm run benchmarks/one-engine/run128.toml` (128^3 particles, 128^3 mesh, 10 steps, f32)
#   `gradient_cost gradient 128 10` (pm-adjoint example: forward run + reverse adjoint)
# Usage: before_after.sh BEFORE_TARGET_DIR AFTER_TARGET_DIR [REPEATS]
# (each a cargo target dir holding release/pm and release/examples/gradient_cost).
# Prints one line per run: which build, what, wall seconds, peak RSS in MB.
set -euo pipefail
before=$1
after=$2
repeats=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
measure() { # label, command...
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$out/time" "$@" >/dev/null 2>&1
    read -r wall kb <"$out/time"
    printf '%-28s wall %6.2f s  peak %6.0f MB\n' "$label" "$wall" "$(echo "$kb / 1024" | bc -l)"
}
for i in $(seq 1 "$repeats"); do
    for which in before after; do
        dir=$before
        [ "$which" = after ] && dir=$after
        rm -rf "$out/run"
        measure "$which pm run" "$dir/release/pm" run "$here/run128.toml" --output "$out/run" --quiet
    done
    for which in before after; do
        dir=$before
        [ "$which" = after ] && dir=$after
        measure "$which gradient_cost" "$dir/release/examples/gradient_cost" gradient 128 10
    done
done
