#!/bin/sh
# The conv walk of `clsde tune` (src/tune_search.c) against every fixture checkpoint: convert
# each with tools/convert.py, then test_tune --models compares the conv weights of the file
# with the convolutions the walk of its config lists, and the walk with the conv nodes of
# the graph the network builder makes.
# Usage: tune_fixtures.sh PATH/TO/test_tune SOURCE_ROOT
# Fixtures: $CLSDE_FIXTURES, else SOURCE_ROOT/../shared/fixtures. Exit 77 (skipped) when
# the converter, /usr/bin/python3 with numpy, or the fixtures are missing.
set -eu
exe=$1
root=$2
fixtures=${CLSDE_FIXTURES:-$root/../shared/fixtures}
python=${CLSDE_PYTHON:-/usr/bin/python3}

skip() { echo "tune_fixtures: skipped: $*"; exit 77; }
[ -f "$root/tools/convert.py" ] || skip "no tools/convert.py"
[ -d "$fixtures" ] || skip "no fixtures at $fixtures (set CLSDE_FIXTURES)"
"$python" -c 'import numpy' 2>/dev/null || skip "$python cannot import numpy"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clsde-tune-fixtures-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
for dir in "$fixtures"/*/; do
    name=$(basename "$dir")
    [ -f "$dir/checkpoint.pth" ] && [ -f "$dir/config.json" ] || continue
    "$python" "$root/tools/convert.py" "$dir/checkpoint.pth" --config "$dir/config.json" \
        -o "$tmp/$name.safetensors" >/dev/null
    n=$((n + 1))
done
[ "$n" -gt 0 ] || skip "no fixture checkpoints in $fixtures"
"$exe" --models "$tmp"
