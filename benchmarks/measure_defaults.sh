#!/usr/bin/env bash
# Every README table that depends on the bundled default models, re-measured after a model changes.
# Usage: benchmarks/measure_defaults.sh OUTDIR   (CPU: about 2 hours with 2 cores; the GPU is far faster)
# Each step writes OUTDIR/<step>.txt; steps already done are skipped, so an interrupted run can be restarted.
set -euo pipefail
out=${1:?usage: benchmarks/measure_defaults.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."

step() {  # step NAME COMMAND...: run once, keep the output
    local name=$1
    shift
    if [ -s "$out/$name.txt" ]; then echo "skip $name (done)"; return; fi
    echo "== $name: $*"
    "$@" > "$out/$name.tmp" 2>&1
    mv "$out/$name.tmp" "$out/$name.txt"
}

step fid stylegan-edit metrics fid --network synthfaces-64 --num 5000 --no-progress
step fid-toon stylegan-edit metrics fid --network synthfaces-toon-64 --num 5000 --no-progress
step separability stylegan-edit metrics separability --network synthfaces-64 --num 10000 --no-progress
stylegan-edit directions fit --method ganspace --network synthfaces-64 --outdir "$out/directions" >/dev/null
stylegan-edit directions fit --method sefa --network synthfaces-64 --outdir "$out/directions" >/dev/null
step edit-fidelity stylegan-edit metrics edit-fidelity --network synthfaces-64 --no-progress \
    $(for f in stylegan_edit/assets/directions/*.safetensors "$out"/directions/*.safetensors; do echo --directions "$f"; done)
step blend python benchmarks/bench_blend.py
step projection python benchmarks/bench_projection.py --network synthfaces-64 --skip-timing --num-images 100 \
    --quality-steps 1000 --sweep 125,250,500,1000 --generated-spaces w
step encoders python benchmarks/bench_encoders.py --num-images 100 --projection-steps 1000 --refine-steps 100 \
    --figure docs/encoders_psp_e4e.png
step encoders-refine-150 python benchmarks/bench_encoders.py --num-images 100 --projection-steps 0 --refine-steps 150 \
    --refine-lr 0.3 --edit-strength 0
