#!/bin/sh
# Convert every fixture checkpoint with tools/convert.py and load the results with
# test_model --fixtures (parameter and tensor counts against each config.json).
# Usage: model_fixtures.sh PATH/TO/test_model SOURCE_ROOT
# Fixtures and skips (exit 77): tests/convert_fixtures.sh.
set -eu
exe=$1
root=$2
test_name=model_fixtures
. "$root/tests/convert_fixtures.sh"
convert_all_fixtures
"$exe" --fixtures "$fixtures" "$tmp"
