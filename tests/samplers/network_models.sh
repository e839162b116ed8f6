#!/bin/sh
# Convert the fixture checkpoints the network sampler tests use (ve_ncsnpp_skip, vp_ddpmpp)
# with tools/convert.py into a temporary directory and run test_network on them.
# Usage: network_models.sh PATH/TO/test_network SOURCE_ROOT
# Fixtures and skips (exit 77): tests/convert_fixtures.sh.
set -eu
exe=$1
root=$2
test_name=network_models
. "$root/tests/convert_fixtures.sh"
[ -f "$fixtures/sampler_ve_small/io.safetensors" ] || skip "no fixtures at $fixtures (set CLSDE_FIXTURES)"
convert_fixture ve_ncsnpp_skip
convert_fixture vp_ddpmpp
"$exe" "$fixtures" "$tmp"
