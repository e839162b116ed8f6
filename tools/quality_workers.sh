#!/bin/sh
# Start the background workers that draw the bundled model's 10,000-image quality rows
# (tools/quality.py --draw-only; tools/README.md "The quality table over several
# sessions"): one single-thread worker per core, detached (setsid, nohup, nice 10), logging
# to build/quality/worker<k>.log. They run a private copy of build/src/clsde, so rebuilding
# meanwhile does not take the executable from under them. Commit quality-state/ now and
# then; `tools/quality.py ... --score-only` prints the table from what is there.
# Usage: tools/quality_workers.sh [WORKERS (default: the number of cores)]
set -eu
cd "$(dirname "$0")/.."
n=${1:-$(nproc)}
[ -x build/src/clsde ] || { echo "quality_workers.sh: build first (build/src/clsde)" >&2; exit 1; }
if pgrep -f "tools/quality.py .*--draw-only" >/dev/null; then
    echo "quality_workers.sh: workers are already running:" >&2
    pgrep -af "tools/quality.py .*--draw-only" >&2
    exit 1
fi
mkdir -p build/quality build/quality-bin
cp build/src/clsde build/quality-bin/clsde
k=1
while [ "$k" -le "$n" ]; do
    POCL_MAX_PTHREAD_COUNT=1 setsid nohup nice -n 10 /usr/bin/python3 tools/quality.py \
        --model models/ddpmpp_s_mnist.safetensors --data mnist --n 10000 \
        --rows pc_n4,pc,ode,untrained,nll --draw-only --clsde build/quality-bin/clsde \
        >> "build/quality/worker$k.log" 2>&1 < /dev/null &
    k=$((k + 1))
    sleep 2 # let the previous one claim its first chunk
done
echo "quality_workers.sh: $n workers started (logs: build/quality/worker*.log)"
