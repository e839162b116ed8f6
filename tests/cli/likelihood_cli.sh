#!/bin/sh
# `clsde likelihood` end to end on converted fixture models (vp_ddpmpp: VP DDPM++, centred
# data; ve_ncsnpp_skip_mnist: VE NCSN++, 1x28x28): command-line errors with exit code and
# message, a run on `clsde sample --raw` output (summary line, CSV, latents), the same bpd
# for any batch size and for an image computed alone, the seed's effect, and the input checks.
# Usage: likelihood_cli.sh PATH/TO/clsde SOURCE_ROOT. Fixtures and skips (exit 77):
# tests/convert_fixtures.sh. expect/check: tests/cli/cli_expect.sh.
set -u
clsde=$1
root=$2
test_name=likelihood_cli
. "$root/tests/convert_fixtures.sh"
export CLSDE_CACHE_DIR="$tmp/cache"
convert_fixture vp_ddpmpp
convert_fixture ve_ncsnpp_skip_mnist
convert_fixture ve_ncsnpp_cifar
vp="$tmp/vp_ddpmpp.safetensors"
ve="$tmp/ve_ncsnpp_skip_mnist.safetensors"
. "$root/tests/cli/cli_expect.sh"

# inputs: smooth 8-bit images (U8) for the 3x16x16 model, float ones for the 1x28x28 model,
# and the VP model's own raw samples (a random network's: outside [0, 1])
"$python" - "$root/tools" "$tmp" <<'PY' || exit 1
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import clsde_safetensors as st
i = np.arange(16)
img = 127.5 + 100 * np.sin(0.3 * i[None, None, :, None] + 0.2 * i[None, None, None, :]
                            + np.arange(3)[:, None, None, None] + np.arange(3)[None, :, None, None])
st.save(sys.argv[2] + '/vp.safetensors', [('x', np.round(img).astype(np.uint8))])
j = np.arange(28)
g = 0.5 + 0.4 * np.cos(0.25 * j[None, None, :, None] * (1 + np.arange(2)[:, None, None, None])
                       - 0.1 * j[None, None, None, :])
st.save(sys.argv[2] + '/ve.safetensors', [('x', g.astype(np.float32))])
PY
"$clsde" sample --model "$vp" -n 1 --steps 10 --seed 1 --raw "$tmp/raw.safetensors" --quiet || exit 1

expect 2 "give exactly one of --data and --input" -- likelihood --model "$vp"
expect 2 "give exactly one of --data and --input" -- likelihood --model "$vp" --data mnist --input "$tmp/vp.safetensors"
expect 2 "--probe 'cauchy' must be rademacher or gaussian" -- likelihood --model "$vp" --input "$tmp/vp.safetensors" --probe cauchy
expect 2 "--eps '1' must be in (0, 1)" -- likelihood --model "$vp" --input "$tmp/vp.safetensors" --eps 1
expect 2 "--data 'cifar' must be mnist, fashion-mnist or cifar10" -- likelihood --model "$vp" --data cifar
expect 2 "the model takes F32 or U8 [N,3,16,16]" -- likelihood --model "$vp" --input "$tmp/ve.safetensors"
expect 2 "images 2..5 asked" -- likelihood --model "$vp" --input "$tmp/vp.safetensors" --first 2 -n 4
expect 2 "--data mnist is grey; the model takes 3x16x16" -- likelihood --model "$vp" --data mnist
expect 2 "--data cifar10 is 3x32x32; the model takes 3x16x16" -- likelihood --model "$vp" --data cifar10
expect 2 "is outside [0, 1]" -- likelihood --model "$vp" --input "$tmp/raw.safetensors"

tol="--rtol 1e-3 --atol 1e-3" # loose: the random networks' ODEs stay short
# a run: summary, CSV, latents; image k the same in any batch and alone
expect 0 "(mean +- standard error of 3 images" -- likelihood --model "$vp" --input "$tmp/vp.safetensors" $tol \
    --batch 2 --out "$tmp/a.csv" --latent "$tmp/z.safetensors"
check "CSV has a header and 3 rows" test "$(grep -c '^[0-9]' "$tmp/a.csv")" -eq 3
check "latents written" test -s "$tmp/z.safetensors"
expect 0 "" -- likelihood --model "$vp" --input "$tmp/vp.safetensors" $tol --batch 3 --out "$tmp/b.csv" --quiet
expect 0 "" -- likelihood --model "$vp" --input "$tmp/vp.safetensors" $tol --first 1 -n 1 --out "$tmp/c.csv" --quiet
check "batch 2 and 3 give the same bpd" sh -c "grep '^[0-9]' '$tmp/a.csv' > '$tmp/a.rows'; grep '^[0-9]' '$tmp/b.csv' | cmp -s - '$tmp/a.rows'"
check "image 1 alone gives its bpd" sh -c "grep '^1,' '$tmp/c.csv' > '$tmp/c.rows' && grep '^1,' '$tmp/a.csv' | cmp -s - '$tmp/c.rows'"
expect 0 "" -- likelihood --model "$vp" --input "$tmp/vp.safetensors" $tol --seed 7 --out "$tmp/d.csv" --quiet
check "another seed moves the estimate" sh -c "grep '^[0-9]' '$tmp/d.csv' > '$tmp/d.rows'; ! cmp -s '$tmp/d.rows' '$tmp/a.rows'"
# the VE model on its own samples (continuous VE, 1x28x28), Gaussian probes, reference batching
expect 0 "(mean +- standard error of 2 images" -- likelihood --model "$ve" --input "$tmp/ve.safetensors" $tol \
    --probe gaussian --reference-batching

# CIFAR-10's exact-pixel test subset through a 3x32x32 model (skipped without the data)
if [ -f "$root/../shared/data/cifar10-subset-lossless/cifar10_batch_50.png" ]; then
    expect 0 "(1 image)" -- likelihood --model "$tmp/ve_ncsnpp_cifar.safetensors" --data cifar10 \
        --first 999 -n 1 $tol
    expect 2 "images 999..1000 asked, the CIFAR-10 test subset has 1000" -- likelihood \
        --model "$tmp/ve_ncsnpp_cifar.safetensors" --data cifar10 --first 999 -n 2
fi

echo "likelihood_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
