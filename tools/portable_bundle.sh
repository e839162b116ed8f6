#!/bin/sh
# Pack a build's executables with every shared library they load, the C library and its
# loader included, into one folder that runs on another x86-64 Linux machine with nothing
# installed but an OpenCL driver (a GPU box with another distribution, say):
#
#   tools/portable_bundle.sh BUILD_DIR OUT_DIR [PROGRAM...]
#     BUILD_DIR  a meson build (configure it with -Dbench=disabled to leave OpenBLAS out)
#     PROGRAM    paths under BUILD_DIR (default: src/clsde and the test programs that
#                tools/bundle_checks.sh runs)
#   OUT_DIR/run PROG ARGS...  runs OUT_DIR/bin/PROG under the packed loader and libraries
#                (CLSDE_BUNDLE_LIBPATH: more library folders, e.g. the driver's)
#   OUT_DIR/clsde ARGS...     the same for clsde
#
# The packed loader is called directly, so the programs do not depend on the other
# machine's C library; its OpenCL driver (an ICD) is loaded into them as usual, named by
# OCL_ICD_FILENAMES or /etc/OpenCL/vendors. Some drivers will not load that way (NVIDIA's,
# seen on an Ubuntu 24.04 CUDA image: no platform): with CLSDE_BUNDLE_NATIVE=1 the programs
# run on the machine's own C library and OpenCL ICD loader instead (lib-native/: the packed
# libraries less those), which needs a C library at least as new as this machine's.
set -eu
[ $# -ge 2 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
build=$1
out=$2
shift 2
[ $# -gt 0 ] || set -- src/clsde tests/checkkern tests/parity tests/test_sampler_fixture \
    tests/test_sampler_ode tests/test_sampler_pc tests/test_sampler_mix \
    tests/test_sampler_likelihood tests/test_sampler_network tests/test_jvp
mkdir -p "$out/bin" "$out/lib"
for p in "$@"; do
    [ -x "$build/$p" ] || { echo "portable_bundle.sh: no program $build/$p" >&2; exit 1; }
    cp "$build/$p" "$out/bin/"
    strip "$out/bin/$(basename "$p")"
    # every library the dynamic loader resolves for it, and the loader itself
    ldd "$build/$p" | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}' | while read -r lib; do
        cp -L "$lib" "$out/lib/$(basename "$lib")"
    done
done
# glibc's split-off stubs that drivers still link against
for l in libdl.so.2 libpthread.so.0 librt.so.1; do
    f=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ {print $NF; exit}')
    [ -n "$f" ] && cp -L "$f" "$out/lib/"
done
mkdir -p "$out/lib-native"
for f in "$out"/lib/*; do
    case $(basename "$f") in
    ld-linux* | libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libOpenCL.so*) ;;
    *) ln -sf "../lib/$(basename "$f")" "$out/lib-native/" ;;
    esac
done
cat > "$out/run" <<'EOF'
#!/bin/sh
# OUT_DIR/run PROG ARGS...: OUT_DIR/bin/PROG under the packed loader and libraries (with
# CLSDE_BUNDLE_NATIVE=1: the machine's C library and OpenCL loader).
d=$(cd "$(dirname "$0")" && pwd)
p=$1
shift
if [ "${CLSDE_BUNDLE_NATIVE:-0}" = 1 ]; then
    LD_LIBRARY_PATH="$d/lib-native${CLSDE_BUNDLE_LIBPATH:+:$CLSDE_BUNDLE_LIBPATH}" exec "$d/bin/$p" "$@"
fi
exec "$d/lib/ld-linux-x86-64.so.2" --library-path "$d/lib${CLSDE_BUNDLE_LIBPATH:+:$CLSDE_BUNDLE_LIBPATH}" "$d/bin/$p" "$@"
EOF
printf '#!/bin/sh\nexec "$(dirname "$0")/run" clsde "$@"\n' > "$out/clsde"
chmod +x "$out/run" "$out/clsde"
echo "portable_bundle.sh: $out: $(ls "$out/bin" | wc -l) programs, $(ls "$out/lib" | wc -l) libraries, $(du -sh "$out" | cut -f1)"
