#!/bin/sh
# `clsde sample` end to end on converted fixture models (vp_ddpmpp: VP DDPM++, centred data;
# ve_ncsnpp_skip: VE NCSN++ continuous): settings errors with exit code and message, the
# device-memory check, PNG grid / per-image PNGs / raw output with their metadata, the same
# images for any batch size, the ODE sampler, and NaN/Inf reported with step and stage.
# Usage: sample_cli.sh PATH/TO/clsde SOURCE_ROOT. Fixtures and skips (exit 77):
# tests/convert_fixtures.sh. expect/check: tests/cli/cli_expect.sh.
set -u
clsde=$1
root=$2
test_name=sample_cli
. "$root/tests/convert_fixtures.sh"
export CLSDE_CACHE_DIR="$tmp/cache"
convert_fixture vp_ddpmpp
convert_fixture ve_ncsnpp_skip
vp="$tmp/vp_ddpmpp.safetensors"
ve="$tmp/ve_ncsnpp_skip.safetensors"
. "$root/tests/cli/cli_expect.sh"

o="-o $tmp/x.png"
expect 2 "unknown predictor 'leapfrog' (euler_maruyama, reverse_diffusion, ancestral_sampling or none)" -- sample --model "$vp" --predictor leapfrog $o
expect 2 "unknown corrector 'hmc' (langevin, ald or none)" -- sample --model "$vp" --corrector hmc $o
expect 2 "unknown sampler 'sde' (pc or ode)" -- sample --model "$vp" --sampler sde $o
expect 2 "steps 10 is too few for the discrete VP schedule" -- sample --model "$vp" --predictor reverse_diffusion --steps 10 $o
expect 2 "ancestral_sampling has no probability-flow form" -- sample --model "$vp" --predictor ancestral_sampling --probability-flow $o
expect 1 "batch 65536 needs" -- sample --model "$vp" -n 65536 --batch 65536 $o
expect 1 "use a smaller batch" -- sample --model "$vp" -n 65536 --batch 65536 $o

# a run: grid, raw samples and metadata; non-terminal progress lines
expect 0 "NFE 50 per image (the reference reports 50)" -- sample --model "$vp" -n 3 --batch 2 --steps 25 \
    --predictor reverse_diffusion --corrector langevin --seed 5 -o "$tmp/g.png" --raw "$tmp/a.safetensors"
expect 0 "clsde sample: step 50/50 (100 %), images 3/3" -- sample --model "$vp" -n 3 --batch 2 --steps 25 \
    --predictor reverse_diffusion --corrector langevin --seed 5 -o "$tmp/g.png"
check "grid PNG has the command line" grep -aqF -- "clsde sample --model $vp -n 3 --batch 2" "$tmp/g.png"
check "grid PNG has the settings" grep -aqF -- "pc predictor=reverse_diffusion corrector=langevin snr=0.16" "$tmp/g.png"
check "grid PNG has the seed" grep -aqF -- "seed" "$tmp/g.png"
check "grid PNG names the device" grep -aqF -- "compute units)" "$tmp/g.png"
# the same images with batch 1, also when drawn one at a time from --first
expect 0 "" -- sample --model "$vp" -n 3 --batch 1 --steps 25 --predictor reverse_diffusion \
    --corrector langevin --seed 5 --raw "$tmp/b.safetensors" --quiet
expect 0 "" -- sample --model "$vp" -n 1 --first 2 --steps 25 --predictor reverse_diffusion \
    --corrector langevin --seed 5 --raw "$tmp/c.safetensors" --quiet
check "raw output: shape, data space, batch-independent images" "$python" - "$tmp" <<'PY'
import json, struct, sys
import numpy as np
def load(p):
    with open(p, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        h = json.loads(f.read(n))
        d = f.read()
    t = h['x']
    a, b = t['data_offsets']
    return h, np.frombuffer(d[a:b], '<f4').reshape(t['shape'])
ha, a = load(sys.argv[1] + '/a.safetensors')
_, b = load(sys.argv[1] + '/b.safetensors')
_, c = load(sys.argv[1] + '/c.safetensors')
assert a.shape == (3, 3, 16, 16), a.shape
assert np.isfinite(a).all()
assert ha['__metadata__']['seed'] == '5', ha['__metadata__']
import re
assert re.fullmatch(r'.+ \(.+, driver .+, [1-9][0-9]* compute units\)',
                    ha['__metadata__']['device']), ha['__metadata__']
assert np.array_equal(a, b), 'batch 2 and batch 1 differ'
assert np.array_equal(a[2:], c), '--first 2 differs from image 2'
PY
# one PNG per image, named by the absolute image index
expect 0 "" -- sample --model "$vp" -n 2 --first 7 --steps 3 --out-dir "$tmp/imgs" --quiet
check "per-image PNGs" test -s "$tmp/imgs/000007.png" -a -s "$tmp/imgs/000008.png"
# the ODE sampler (VE continuous), loose tolerances
expect 0 "NFE" -- sample --model "$ve" --sampler ode --rtol 1e-2 --atol 1e-2 -n 2 -o "$tmp/ode.png"
# NaN weights: the run stops and names the step, t, the stage and the image
"$python" - "$vp" "$tmp/nan.safetensors" <<'PY'
import json, struct, sys
import numpy as np
with open(sys.argv[1], 'rb') as f:
    raw = bytearray(f.read())
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n])
name = [k for k in h if k != '__metadata__' and k.endswith('.bias')][-1]
a, b = h[name]['data_offsets']
raw[8 + n + a:8 + n + b] = np.full((b - a) // 4, np.nan, '<f4').tobytes()
open(sys.argv[2], 'wb').write(raw)
PY
expect 1 "NaN/Inf at step 1 of 30 (t = 1), stage: network (score for the predictor) (euler_maruyama), image 0" -- \
    sample --model "$tmp/nan.safetensors" --steps 30 -n 1 $o

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
