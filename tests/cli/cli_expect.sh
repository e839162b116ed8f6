# cli_expect.sh — sourced (not run) by the CLI test scripts (run_cli_tests.sh, sample_cli.sh,
# likelihood_cli.sh): the `expect` and `check` helpers and their counters.
# The script sets `clsde` (the executable) before sourcing it; afterwards it has `pass` and
# `fail` (both 0), expect CODE SUBSTRING -- ARGS... (runs clsde ARGS; SUBSTRING is searched
# in stdout+stderr, "" matches any output) and check DESCRIPTION COMMAND... (passes when
# COMMAND succeeds).
pass=0
fail=0

expect() {
    code=$1
    want=$2
    shift 3
    out=$("$clsde" "$@" 2>&1)
    got=$?
    if [ "$got" -ne "$code" ] || { [ -n "$want" ] && ! printf '%s' "$out" | grep -qF -- "$want"; }; then
        echo "FAIL: clsde $* -> exit $got (want $code), output:"
        printf '%s\n' "$out" | sed 's/^/    /'
        echo "    (wanted substring: $want)"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}

check() {
    what=$1
    shift
    if "$@"; then pass=$((pass + 1)); else echo "FAIL: $what"; fail=$((fail + 1)); fi
}
