#!/bin/sh
# tools/bench_startup.sh [RUNS] — cold vs warm start-up of `clsde devices --build` (every
# kernel program of the library), through the program-binary cache. Cold: an empty cache
# directory each run; warm: the cache filled by the previous run. Prints the median of RUNS
# (default 5) wall times and the ratio; the figures go into BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
clsde=build/src/clsde
dir=$(mktemp -d /tmp/clsde-startup-XXXXXX)
trap 'rm -rf "$dir"' EXIT

t() { # wall seconds of one command
    s=$(date +%s%N)
    "$@" >/dev/null
    e=$(date +%s%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f\n", (e - s) / 1e9 }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cold=""
warm=""
for i in $(seq "$runs"); do
    rm -rf "$dir/cache"
    cold="$cold $(CLSDE_CACHE_DIR=$dir/cache t $clsde devices --build)"
    warm="$warm $(CLSDE_CACHE_DIR=$dir/cache t $clsde devices --build)"
done
c=$(echo $cold | tr ' ' '\n' | median)
w=$(echo $warm | tr ' ' '\n' | median)
programs=$(CLSDE_CACHE_DIR=$dir/cache $clsde devices --build | sed -n 's/^built \([0-9]*\) programs.*/\1/p')
echo "programs: $programs"
echo "cold (median of $runs): $c s"
echo "warm (median of $runs): $w s"
awk -v c="$c" -v w="$w" 'BEGIN { printf "speed-up: %.2fx\n", c / w }'
