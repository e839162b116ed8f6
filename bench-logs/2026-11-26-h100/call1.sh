#!/bin/bash
# Device run 1: quick checks, tune the bundled model, then draw default-PC groups from
# image 5120 on (chunks 4736..5119 are left to the CPU workers here) until the deadline.
set -u
T0=$(date +%s); END=$((T0 + ${1:-560}))
export CLSDE_BUNDLE_NATIVE=1 CLSDE_CACHE_DIR=$OUT/cache
B=$PWD/.dev/bundle; m=models/ddpmpp_s_mnist.safetensors
pc=quality-state/ddpmpp_s_mnist/pc
for f in 4736 4800 4864 4928 4992 5056; do
    [ -e $pc/chunk_00${f}_64.npz ] || : > $pc/chunk_00${f}_64.npz
done
touch /tmp/marker
{ timeout 60 $B/clsde devices; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; } > $OUT/devices.log 2>&1
echo "devices rc $? $(( $(date +%s) - T0 )) s"; head -5 $OUT/devices.log
timeout -k 5 90 $B/run checkkern > $OUT/checkkern.log 2>&1
echo "checkkern rc $? $(( $(date +%s) - T0 )) s"; tail -3 $OUT/checkkern.log
timeout -k 5 70 $B/clsde tune --model $m --batch 1024 --budget 30 > $OUT/tune.log 2>&1
echo "tune rc $? $(( $(date +%s) - T0 )) s"; tail -4 $OUT/tune.log
left=$((END - $(date +%s)))
timeout -k 5 $left python3 tools/quality.py --model $m --data mnist --n 10000 --rows pc \
    --draw-only --group 16 --clsde $B/clsde --workdir /tmp/q --deadline $((END - 5)) \
    > $OUT/quality.log 2>&1
echo "quality rc $? $(( $(date +%s) - T0 )) s"; tail -8 $OUT/quality.log
find $pc -size 0 -delete
find $pc -newer /tmp/marker -name '*.npz' | sort > /tmp/new.txt
wc -l < /tmp/new.txt
tar czf $OUT/pc.tgz -T /tmp/new.txt
echo "done $(( $(date +%s) - T0 )) s"
