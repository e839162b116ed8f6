#!/bin/sh
# tests/fuzz/run_fuzz.sh [SECONDS] — fuzz the model-file loader (tests/fuzz/fuzz_model_load.c)
# with libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer for SECONDS (default 60).
# Builds with clang in build-fuzz/ (meson -Dfuzzing=true); starts from tests/fuzz/corpus
# and keeps what it finds in build-fuzz/fuzz-corpus; a crash is written to
# build-fuzz/fuzz-artifacts/ and makes the script fail. Needs clang and libFuzzer
# (Debian: clang libclang-rt-dev).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}

if ! command -v clang >/dev/null 2>&1; then
    echo "run_fuzz.sh: clang not found (apt-get install clang libclang-rt-dev)" >&2
    exit 1
fi
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false --buildtype=debugoptimized >/dev/null
fi
ninja -C build-fuzz tests/fuzz_model_load >/dev/null

mkdir -p build-fuzz/fuzz-corpus build-fuzz/fuzz-artifacts
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
build-fuzz/tests/fuzz_model_load -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -dict=tests/fuzz/model.dict -artifact_prefix=build-fuzz/fuzz-artifacts/ \
    build-fuzz/fuzz-corpus tests/fuzz/corpus
