#!/bin/sh
# Convert every fixture checkpoint with tools/convert.py into a temporary directory and run
# test_jvp on all of them (one architecture variant each: NCSN++ with FIR and pyramids,
# skip/cat combines, DDPM++, the DDPM network).
# Usage: jvp_models.sh PATH/TO/test_jvp SOURCE_ROOT
# Fixtures and skips (exit 77): tests/convert_fixtures.sh.
set -eu
exe=$1
root=$2
test_name=jvp_models
. "$root/tests/convert_fixtures.sh"
convert_all_fixtures
names=$(cd "$tmp" && ls *.safetensors | sed 's/\.safetensors$//')
# shellcheck disable=SC2086
"$exe" "$tmp" $names
