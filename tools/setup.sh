#!/bin/sh
# tools/setup.sh — install what clsde needs (Debian packages) and build it into build/.
# Idempotent: on a machine that is already set up it only runs an incremental build.
#   tools/setup.sh           core library, CLI and tests
#   tools/setup.sh --tools   also what the Python tools need (PyTorch, SciPy) for
#                            training, conversion checks and the PyTorch benchmarks
# When not root and packages are missing, it prints the exact apt-get line and stops.
set -eu
cd "$(dirname "$0")/.."

core="gcc g++ meson ninja-build pkg-config ocl-icd-opencl-dev opencl-headers \
pocl-opencl-icd clinfo libclblast-dev libpng-dev zlib1g-dev libcmocka-dev libcjson-dev oclgrind \
libopenblas-dev python3 python3-numpy clang libclang-rt-dev"
tools="python3-torch python3-scipy python3-matplotlib"

want=$core
for arg in "$@"; do
    case "$arg" in
    --tools) want="$core $tools" ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: missing Debian packages. Install them with:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
        exit 1
    fi
    echo "setup.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -d /sys/devices/system/cpu ]; then
    echo "setup.sh: warning: /sys is not mounted; PoCL (the CPU OpenCL driver) needs it" >&2
fi

if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release >/dev/null
fi
ninja -C build >/dev/null
echo "setup.sh: clsde built in build/ ($(build/src/clsde version))"
