#!/bin/sh
# Run a test under Oclgrind with its memory, API and data-race checks; fail if the test
# fails or if Oclgrind reported anything (Oclgrind itself always exits with the test's code).
log=$(mktemp /tmp/clsde-oclgrind-XXXXXX.log)
oclgrind --log "$log" --check-api --data-races --uninitialized --max-errors 20 "$@"
rc=$?
if [ -s "$log" ]; then
    echo "oclgrind reported:" >&2
    cat "$log" >&2
    [ "$rc" -eq 0 ] && rc=3
fi
rm -f "$log"
exit "$rc"
