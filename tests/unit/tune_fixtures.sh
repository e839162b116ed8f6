#!/bin/sh
# The conv walk of `clsde tune` (src/tune_search.c) against every fixture checkpoint: convert
# each with tools/convert.py, then test_tune --models compares the conv weights of the file
# with the convolutions the walk of its config lists, and the walk with the conv nodes of
# the graph the network builder makes.
# Usage: tune_fixtures.sh PATH/TO/test_tune SOURCE_ROOT
# Fixtures and skips (exit 77): tests/convert_fixtures.sh.
set -eu
exe=$1
root=$2
test_name=tune_fixtures
. "$root/tests/convert_fixtures.sh"
convert_all_fixtures
"$exe" --models "$tmp"
