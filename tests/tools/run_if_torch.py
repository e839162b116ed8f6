#!/usr/bin/python3
"""Run a test script only where PyTorch is installed; exit 77 (meson: skipped) otherwise.
PyTorch comes with `tools/setup.sh --tools`, not with the core set-up."""
import importlib.util
import runpy
import sys

if importlib.util.find_spec('torch') is None:
    print('skipped: PyTorch is not installed (tools/setup.sh --tools installs it)')
    sys.exit(77)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
