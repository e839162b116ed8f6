#!/bin/bash
# The checks and measurements for a machine clsde is not built on (a lent GPU box), run from
# the source tree with a portable bundle (tools/portable_bundle.sh) and an OpenCL driver:
#
#   tools/bundle_checks.sh BUNDLE FIXTURES RESULTS [SECONDS] [QUALITY_ROWS]
#     BUNDLE    tools/portable_bundle.sh's folder, with BUNDLE/models/<fixture>.safetensors
#               (the fixtures' checkpoints converted here: the converter is host Python and
#               does not depend on the device; parity's convert step copies them)
#     FIXTURES  shared/fixtures or a copy holding config.json and io.safetensors of each
#     RESULTS   where the logs, summary.txt and the device's tune file go
#     SECONDS   time for everything (default 540); each step gets a limit inside it
#     QUALITY_ROWS  tools/quality.py rows drawn with what time is left (default ode,pc),
#               1,024 images per clsde run (--group 16), into quality-state/
#
# Steps, each logged to RESULTS/<step>.log with its status and seconds in summary.txt: the
# device list and a build of every kernel; the kernel checker against the C references;
# parity with the official fixtures; the samplers' analytic tests and the recorded official PC
# run; `clsde tune` for the bundled model; `clsde bench forward` on the bundled model and a
# full-size CIFAR-10 DDPM++ (random weights), with PyTorch on the same GPU for comparison
# (python3 with torch and CUDA, if there), then the full-size network tuned at batch 1,
# timed again and profiled per op; then
# quality rows until the time is up.
# CLSDE_CHECKS=PATTERN,...: run only the steps whose names match one of the shell patterns
# (e.g. 'checkkern,parity_*,bench_full,make_full'; the *_full steps need make_full); the
# others are listed as not selected. `devices` always runs.
# Exit status: 0 when every step run passed (a quality step stopped or not started for lack
# of time counts as passed: the chunks it finished are kept), 1 otherwise; 2 for bad
# arguments.
# The OpenCL driver: the machine's ICDs through the packed loader, else (no platform) through
# the machine's own C library and ICD loader (CLSDE_BUNDLE_NATIVE=1, portable_bundle.sh).
set -u
[ $# -ge 3 ] || { sed -n '5,13p' "$0" >&2; exit 2; }
bundle=$(cd "$1" && pwd) || exit 2
fixtures=$(cd "$2" && pwd) || exit 2
mkdir -p "$3" && res=$(cd "$3" && pwd) || exit 2
budget=${4:-540}
rows=${5:-ode,pc}
[ "$rows" = none ] && rows=
cd "$(dirname "$0")/.." || exit 2
export CLSDE_CACHE_DIR=$res/cache
export CLSDE_FIXTURES=$fixtures
summary=$res/summary.txt
if [ "${CLSDE_BUNDLE_NATIVE:-0}" != 1 ] &&
    ! timeout -k 5 60 "$bundle/clsde" devices > /dev/null 2>&1; then
    export CLSDE_BUNDLE_NATIVE=1
fi
echo "bundle_checks.sh $(date -u +%FT%TZ); CLSDE_BUNDLE_NATIVE=${CLSDE_BUNDLE_NATIVE:-0}" > "$summary"
run=$bundle/run
left() { echo $((budget - SECONDS)); }
failed=0
selected() {
    local IFS=, pat
    [ -z "${CLSDE_CHECKS:-}" ] || [ "$1" = devices ] && return 0
    for pat in $CLSDE_CHECKS; do
        # shellcheck disable=SC2254
        case $1 in $pat) return 0 ;; esac
    done
    return 1
}
# step NAME LIMIT CMD...: run CMD with min(LIMIT, time left - 20) seconds
step() {
    local name=$1 limit=$2 t0=$SECONDS rc
    shift 2
    if ! selected "$name"; then
        echo "$name: not selected (CLSDE_CHECKS)" >> "$summary"
        return 0
    fi
    [ $(($(left) - 20)) -lt "$limit" ] && limit=$(($(left) - 20))
    if [ "$limit" -le 0 ]; then
        echo "$name: not run (no time left)" | tee -a "$summary"
        case "$name" in quality_*) ;; *) failed=$((failed + 1)) ;; esac
        return 1
    fi
    # -k: a process stuck in the driver that ignores SIGTERM is killed 10 s later
    timeout -k 10 "$limit" "$@" > "$res/$name.log" 2>&1
    rc=$?
    case "$name:$rc" in
    *:0 | quality_*:124) ;;
    *) failed=$((failed + 1)) ;;
    esac
    echo "$name: rc $rc in $((SECONDS - t0)) s$([ $rc = 124 ] && echo ' (time limit)')" | tee -a "$summary"
    return $rc
}

step devices 120 "$bundle/clsde" devices --build || { cat "$res/devices.log"; exit 1; }
cat "$res/devices.log"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
        >> "$summary" 2>&1
fi
step checkkern 150 "$run" checkkern
# parity: the converter is replaced by a copy of the model converted on the build machine
shim=$res/convert_copy.sh
printf '#!/bin/sh\n# argv: convert.py CKPT --config CFG --force -o OUT\nfor a; do o=$a; done\ncp "%s/models/$(basename "$o")" "$o"\n' "$bundle" > "$shim"
chmod +x "$shim"
for f in ve_ncsnpp_skip ve_ncsnpp_cifar ve_ncsnpp_skip_cat ve_ncsnpp_resin_nofir vp_ddpmpp \
         vp_ddpmpp_ddpmblock vp_ddpm ve_ncsnpp_skip_mnist; do
    CLSDE_PYTHON=$shim step "parity_$f" 40 "$run" parity "$f" "$PWD" "$res/parity_models"
done
step sampler_fixture 60 "$run" test_sampler_fixture "$fixtures"
for t in ode pc mix likelihood; do
    step "sampler_$t" 90 "$run" "test_sampler_$t"
done
m=models/ddpmpp_s_mnist.safetensors
step tune 50 "$bundle/clsde" tune --model "$m" --batch 1024 --budget 30
step bench_bundled 60 "$bundle/clsde" bench forward --model "$m" --batch 1,64,1024 --json
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    step torch_bundled 60 python3 tools/bench_torch.py --weights "$m" --batch 1,64,1024 \
        --device cuda --repeat 20 --warmup 5
    full=$res/cifar10_ddpmpp_continuous.safetensors
    if step make_full 60 python3 tools/make_random_model.py cifar10_ddpmpp_continuous -o "$full"; then
        step bench_full 90 "$bundle/clsde" bench forward --model "$full" --batch 1,8,64 --json
        # batch 1 tuned (small tilings for its small layers), then timed again and profiled
        step tune_full 60 "$bundle/clsde" tune --shapes cifar10-ddpmpp --batch 1 --budget 40 \
            --no-clblast
        step bench_full_tuned 40 "$bundle/clsde" bench forward --model "$full" --batch 1 --json
        step profile_full 60 "$bundle/clsde" bench forward --model "$full" --batch 1 --profile
        step torch_full 60 python3 tools/bench_torch.py --weights "$full" --batch 1,8,64 \
            --device cuda --repeat 10 --warmup 3
        rm -f "$full"
    fi
fi
# --deadline: no clsde run is started that would outlast the step's time limit (and be
# killed with its 1,024 images); judged by the row's previous run
for r in ${rows//,/ }; do
    step "quality_$r" 100000 python3 tools/quality.py --model "$m" --data mnist --n 10000 \
        --rows "$r" --draw-only --group 16 --clsde "$bundle/clsde" --workdir "$res/quality" \
        --deadline $(($(date +%s) + $(left) - 25))
done
echo "done in $SECONDS s; $failed step(s) failed or not run" | tee -a "$summary"
[ "$failed" = 0 ]
