#!/bin/sh
# Convert the fixture checkpoints the network sampler tests use (ve_ncsnpp_skip, vp_ddpmpp)
# with tools/convert.py into a temporary directory and run test_network on them.
# Usage: network_models.sh PATH/TO/test_network SOURCE_ROOT
# Fixtures: $CLSDE_FIXTURES, else SOURCE_ROOT/../shared/fixtures. Exit 77 (skipped) when the
# converter, /usr/bin/python3 with numpy, or the fixtures are missing.
set -eu
exe=$1
root=$2
fixtures=${CLSDE_FIXTURES:-$root/../shared/fixtures}
python=${CLSDE_PYTHON:-/usr/bin/python3}

skip() { echo "network_models: skipped: $*"; exit 77; }
[ -f "$root/tools/convert.py" ] || skip "no tools/convert.py"
[ -f "$fixtures/sampler_ve_small/io.safetensors" ] || skip "no fixtures at $fixtures (set CLSDE_FIXTURES)"
"$python" -c 'import numpy' 2>/dev/null || skip "$python cannot import numpy"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clsde-sampler-models-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for name in ve_ncsnpp_skip vp_ddpmpp; do
    [ -f "$fixtures/$name/checkpoint.pth" ] || skip "no $fixtures/$name/checkpoint.pth"
    "$python" "$root/tools/convert.py" "$fixtures/$name/checkpoint.pth" \
        --config "$fixtures/$name/config.json" -o "$tmp/$name.safetensors" >/dev/null
done
"$exe" "$fixtures" "$tmp"
