# convert_fixtures.sh — sourced (not run) by the test scripts that convert fixture
# checkpoints with tools/convert.py: locates the fixtures and Python, skips (exit 77) without
# the converter or numpy, and converts into a temporary directory removed on exit.
# The script sets `root` (the source tree) and `test_name` (for messages) before sourcing it;
# afterwards it has `fixtures`, `python`, `tmp`, skip MESSAGE, convert_fixture NAME (to
# $tmp/NAME.safetensors; skips when the checkpoint is missing) and convert_all_fixtures
# (every fixture directory with a checkpoint and a config; skips when there is none).
# Fixtures: $CLSDE_FIXTURES, else $root/../shared/fixtures; Python: $CLSDE_PYTHON, else
# /usr/bin/python3.
fixtures=${CLSDE_FIXTURES:-$root/../shared/fixtures}
python=${CLSDE_PYTHON:-/usr/bin/python3}

skip() { echo "$test_name: skipped: $*"; exit 77; }
[ -f "$root/tools/convert.py" ] || skip "no tools/convert.py"
[ -d "$fixtures" ] || skip "no fixtures at $fixtures (set CLSDE_FIXTURES)"
"$python" -c 'import numpy' 2>/dev/null || skip "$python cannot import numpy"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clsde-$test_name-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

convert_fixture() {
    [ -f "$fixtures/$1/checkpoint.pth" ] || skip "no $fixtures/$1/checkpoint.pth"
    "$python" "$root/tools/convert.py" "$fixtures/$1/checkpoint.pth" \
        --config "$fixtures/$1/config.json" -o "$tmp/$1.safetensors" >/dev/null || exit 1
}

convert_all_fixtures() {
    n=0
    for dir in "$fixtures"/*/; do
        [ -f "$dir/checkpoint.pth" ] && [ -f "$dir/config.json" ] || continue
        convert_fixture "$(basename "$dir")"
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || skip "no fixture checkpoints in $fixtures"
}
