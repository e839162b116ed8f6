#!/bin/sh
# tools/portable_bundle.sh on this build: the bundle's clsde and kernel checker run under the
# packed loader and libraries, and (CLSDE_BUNDLE_NATIVE=1) under this machine's own C library
# and ICD loader; the packed lib/ holds the loader and the C library, lib-native/ neither;
# tools/bundle_checks.sh runs selected steps on such a bundle and reports a failing one.
# Usage: test_bundle.sh SOURCE_ROOT BUILD_DIR
set -u
root=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
no() { echo "FAIL: $*"; fail=1; }
"$root/tools/portable_bundle.sh" "$build" "$tmp/b" src/clsde tests/checkkern || exit 1
[ -x "$tmp/b/lib/ld-linux-x86-64.so.2" ] || no "no packed loader"
[ -e "$tmp/b/lib/libc.so.6" ] || no "no packed C library"
[ -e "$tmp/b/lib/libOpenCL.so.1" ] || no "no packed ICD loader"
ls "$tmp/b/lib-native" | grep -q -E '^(libc\.so|ld-linux|libOpenCL)' && no "lib-native holds the C library or the ICD loader"
# the wrapper's choice of C library, seen in a program's own memory map
cp /bin/cat "$tmp/b/bin/cat"
CLSDE_BUNDLE_NATIVE=0 "$tmp/b/run" cat /proc/self/maps | grep -q "$tmp/b/lib/libc.so.6" ||
    no "run: the packed C library is not the one loaded"
CLSDE_BUNDLE_NATIVE=1 "$tmp/b/run" cat /proc/self/maps | grep -q "$tmp/b/lib/libc.so.6" &&
    no "run with CLSDE_BUNDLE_NATIVE=1: the packed C library is loaded"
for native in 0 1; do
    out=$(CLSDE_BUNDLE_NATIVE=$native "$tmp/b/clsde" version 2>&1) || no "native=$native: clsde version failed: $out"
    case $out in "clsde "*) ;; *) no "native=$native: clsde version printed '$out'" ;; esac
    out=$(CLSDE_BUNDLE_NATIVE=$native "$tmp/b/run" checkkern --kernel rng 2>&1)
    echo "$out" | grep -q "1 passed, 0 failed" || no "native=$native: checkkern --kernel rng: $out"
done
# tools/bundle_checks.sh on a bundle of its programs, on this machine's OpenCL: selected
# steps run and pass (exit 0), the others are listed as not selected; a failing step
# (parity without its converted model) makes the exit status 1
"$root/tools/portable_bundle.sh" "$build" "$tmp/full" > /dev/null || exit 1
mkdir -p "$tmp/fixtures"
CLSDE_CHECKS='sampler_ode,sampler_m*' "$root/tools/bundle_checks.sh" "$tmp/full" \
    "$tmp/fixtures" "$tmp/res" 200 none > "$tmp/checks.out" 2>&1 ||
    no "bundle_checks.sh with passing steps exited $?: $(cat "$tmp/checks.out")"
for want in 'sampler_ode: rc 0' 'sampler_mix: rc 0' 'checkkern: not selected' \
    'parity_vp_ddpm: not selected' 'tune: not selected' '0 step(s) failed or not run'; do
    grep -qF "$want" "$tmp/res/summary.txt" || no "bundle_checks.sh summary lacks '$want'"
done
CLSDE_CHECKS=parity_vp_ddpm "$root/tools/bundle_checks.sh" "$tmp/full" "$tmp/fixtures" \
    "$tmp/res2" 200 none > "$tmp/checks2.out" 2>&1
rc=$?
[ $rc = 1 ] || no "bundle_checks.sh with a failing step exited $rc, not 1"
grep -q '^parity_vp_ddpm: rc [1-9]' "$tmp/res2/summary.txt" ||
    no "bundle_checks.sh summary does not show parity_vp_ddpm failing"
[ $fail = 0 ] && echo "portable bundle: ok"
exit $fail
