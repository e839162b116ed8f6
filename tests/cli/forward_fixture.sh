#!/bin/sh
# `clsde info --graph` and `clsde forward --score` end to end on the vp_ddpm fixture (VP,
# discrete: label (N-1)t and the alphabar table), in batches of 2 for its 3 images so the
# padded last batch is exercised; the outputs are compared with the official ones per
# image (max|diff| / max|ref| <= 1e-4) by a few lines of numpy.
# Usage: forward_fixture.sh PATH/TO/clsde SOURCE_ROOT. Fixtures and skips (exit 77):
# tests/convert_fixtures.sh.
set -u
clsde=$1
root=$2
test_name=forward_fixture
. "$root/tests/convert_fixtures.sh"
fixture=$fixtures/vp_ddpm
convert_fixture vp_ddpm
model=$tmp/vp_ddpm.safetensors

"$clsde" info "$model" --graph >"$tmp/info.txt" || { cat "$tmp/info.txt"; exit 1; }
for want in "architecture   ddpm" "parameters     685731" "GFLOP per image" "planned vs" \
            "all_modules.3.Conv_1" "group_norm_silu"; do
    grep -qF -- "$want" "$tmp/info.txt" || { echo "info lacks '$want':"; cat "$tmp/info.txt"; exit 1; }
done
"$clsde" forward --model "$model" --input "$fixture/io.safetensors" \
    --output "$tmp/o.safetensors" --score --batch 2 || exit 1
"$python" - "$root/tools" "$fixture/io.safetensors" "$tmp/o.safetensors" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import clsde_safetensors as st
ref, _ = st.load(sys.argv[2])
mine, _ = st.load(sys.argv[3])
worst = 0.0
for name in ("out", "score"):
    errs = [float(np.abs(m - r).max() / np.abs(r).max()) for m, r in zip(mine[name], ref[name])]
    print("%-6s" % name, " ".join("err_%d = %.2e" % (i, e) for i, e in enumerate(errs)),
          " (bound 1e-04)")
    worst = max([worst] + errs)
sys.exit(0 if worst <= 1e-4 else 1)
PY
