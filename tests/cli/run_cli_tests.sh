#!/bin/sh
# CLI expectations (zstd's tests/cli-tests in miniature): exit code and a stderr substring
# per case. Usage: run_cli_tests.sh PATH/TO/clsde
clsde=$1
tmp=$(mktemp -d /tmp/clsde-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CLSDE_CACHE_DIR="$tmp/cache"

# expect CODE SUBSTRING -- ARGS...   (SUBSTRING is searched in stdout+stderr), and the
# pass/fail counters: tests/cli/cli_expect.sh
. "$(dirname "$0")/cli_expect.sh"

expect 0 "clsde " -- version
expect 0 "usage: clsde" -- --help
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "usage: clsde" --
expect 0 "OpenCL C" -- devices
expect 0 "(* = selected" -- devices --device 0
expect 1 "--device 99: no device with that index" -- devices --device 99
expect 1 "'nosuchdevice' matches no device name" -- devices --device nosuchdevice
expect 2 "--device needs a value" -- devices --device
expect 2 "unknown option '--bogus'" -- devices --bogus
expect 0 "0 from cache" -- devices --build
expect 0 "compiled, 0 cache entries rejected" -- devices --build
expect 0 "0 compiled" -- devices --build
expect 0 "(cache: off)" -- devices --build --no-cache
CLSDE_DEVICE=77 expect 1 "CLSDE_DEVICE 77: no device with that index" -- devices

expect 2 "clsde info: which model?" -- info
expect 2 "clsde info: unknown option '--frob'" -- info --frob
expect 2 "--batch '0' is not a number in 1..65536" -- info m.safetensors --batch 0
expect 1 "no-such-model.safetensors" -- info "$tmp/no-such-model.safetensors"
expect 2 "--model, --input and --output are required" -- forward --model m.safetensors
expect 2 "--score needs times t, not --label" -- forward --model m --input i --output o --score --label
expect 2 "clsde forward: --batch needs a value" -- forward --batch
expect 1 "no-such-input.safetensors" -- forward --model m --input "$tmp/no-such-input.safetensors" --output "$tmp/o.safetensors"

# clsde sample: argument errors (no model needed; end to end in sample_cli.sh)
mkdir -p "$tmp/empty-models"
expect 0 "usage: clsde sample" -- sample --help
expect 2 "clsde sample: unknown option '--bogus'" -- sample --bogus
expect 2 "clsde sample: -n needs a value" -- sample -n
expect 2 "-n '0' must be an integer in 1..2147483647" -- sample -n 0
expect 2 "--steps '0' must be an integer in 2..16777216" -- sample --steps 0
expect 2 "--snr '-0.1' must be a number > 0" -- sample --snr -0.1
expect 2 "--rtol 'abc' must be a number > 0" -- sample --rtol abc
expect 2 "--batch '0' must be an integer in 1..65536" -- sample --batch 0
expect 2 "--seed '-3' must be an integer in 0..2^64-1" -- sample --seed -3
expect 2 "-o and --out-dir exclude each other" -- sample -o a.png --out-dir d
expect 2 "the image index must stay below 2^32" -- sample --first 4294967295 -n 2
expect 1 "no-such-model.safetensors" -- sample --model "$tmp/no-such-model.safetensors" -o "$tmp/s.png"
CLSDE_MODELS_DIR="$tmp/empty-models" expect 1 "no --model given and no bundled model found" -- sample -o "$tmp/s.png"
# the bundled model's lookup, on a copy of clsde in $tmp/b/src: $tmp/b/models (as build/models
# for build/src/clsde) holds another model, not the bundled file, and must not shadow it;
# CLSDE_MODELS_DIR still comes first (the stray file then fails to load)
if [ -f "$(dirname "$clsde")/../../models/ddpmpp_s_mnist.safetensors" ]; then
    mkdir -p "$tmp/b/src" "$tmp/b/models"
    cp "$clsde" "$tmp/b/src/clsde"
    printf 'stray' > "$tmp/b/models/stray.safetensors"
    build_clsde=$clsde
    clsde="$tmp/b/src/clsde"
    expect 2 "unknown predictor 'leapfrog'" -- sample --predictor leapfrog -o "$tmp/s.png"
    CLSDE_MODELS_DIR="$tmp/b/models" expect 1 "stray.safetensors: file is 5 bytes" -- \
        sample --predictor leapfrog -o "$tmp/s.png"
    clsde=$build_clsde
fi
# clsde tune: argument errors, a budget-bound run (one class, the rest skipped), a second
# run that keeps it, the tune file shown by devices, a damaged tune file ignored.
expect 2 "--batch wants 1..4096" -- tune --batch 0
expect 2 "give --shapes or --model, not both" -- tune --shapes cifar10-ddpm --model x.safetensors
expect 2 "--try wants a parameter string" -- tune --try "implicit tm=8"
expect 2 "unknown option or missing value '--frob'" -- tune --frob
expect 1 "unknown shape preset 'nope'" -- tune --shapes nope
expect 1 "nonexistent.safetensors: cannot open" -- tune --model /nonexistent.safetensors
expect 0 "skipped, the budget is spent" -- tune --shapes cifar10-ddpm --batch 1 --budget 1 --no-clblast
expect 0 "): cached, implicit" -- tune --shapes cifar10-ddpm --batch 1 --budget 1 --no-clblast
expect 0 " from $CLSDE_CACHE_DIR/tune-" -- devices --device 0
for f in "$CLSDE_CACHE_DIR"/tune-*.json; do printf '{"clsde_tune_format": 1, "rows": [' > "$f"; done
expect 0 "none usable (the tune file was rejected)" -- devices
expect 0 "is not usable (not valid JSON" -- tune --shapes cifar10-ddpm --batch 1 --budget 1 --no-clblast

# clsde bench forward: argument errors; end to end on the bundled model when it is there
expect 2 "clsde bench forward: which model? (--model M)" -- bench forward --batch 1
expect 2 "--batch '0,2': want a list like 1,8" -- bench forward --model m --batch 0,2
expect 2 "--batch '1,x': want a list like 1,8" -- bench forward --model m --batch 1,x
expect 2 "--batch '1,': want a list like 1,8" -- bench forward --model m --batch 1,
expect 2 "clsde bench forward: --batch needs a value" -- bench forward --model m --batch
expect 2 "--threads '0' must be in 1..1024" -- bench forward --model m --threads 0
expect 2 "usage: clsde bench forward" -- bench forward --model m --bogus
expect 1 "no-such-model.safetensors" -- bench forward --model "$tmp/no-such-model.safetensors"
CLSDE_PYTHON="$tmp/no-python" expect 1 "--torch needs Python with torch and numpy" -- bench forward --model m --torch
bundled="$(dirname "$clsde")/../../models/ddpmpp_s_mnist.safetensors"
if [ -f "$bundled" ]; then
    expect 0 '"batch": 3, "threads": 1, ' -- bench forward --model "$bundled" --batch 1,3 --threads 1 --min-time 0 --json
    expect 0 "images/s" -- bench forward --model "$bundled" --batch 2 --min-time 0
    expect 0 "slowest nodes:" -- bench forward --model "$bundled" --batch 2 --min-time 0 --profile
    expect 0 "conv2d_3x3 " -- bench forward --model "$bundled" --batch 1 --min-time 0 --profile
    # --measure: PC projected from 2 of 50 steps; the ODE's seconds per evaluation only
    expect 0 '"steps": 50, "nfe": 100.0, ' -- bench sample --model "$bundled" --batch 2 --steps 50 --measure 2 --samplers pc --json
    expect 0 '"projected": true, "measured_attempts": 2,' -- bench sample --model "$bundled" --batch 2 --steps 50 --measure 2 --samplers pc --json
    expect 0 '"steps": null, "nfe": null, "seconds": null, ' -- bench sample --model "$bundled" --batch 1 --measure 2 --samplers ode --json
    expect 0 "(2 attempts measured)" -- bench sample --model "$bundled" --batch 1 --measure 2 --samplers ode
fi
expect 2 "--profile and --jvp print tables; not with --json or --torch" -- bench forward --model m --profile --json
expect 2 "--profile and --jvp print tables; not with --json or --torch" -- bench forward --model m --jvp --torch
expect 2 "clsde bench sample: which model? (--model M)" -- bench sample --batch 1
expect 2 "--measure '0' must be in 1..100000" -- bench sample --model m --measure 0
expect 2 "--samplers 'sde' must be pc, ode or pc,ode" -- bench sample --model m --samplers sde
expect 2 "--steps '1' must be in 2..100000" -- bench sample --model m --steps 1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
