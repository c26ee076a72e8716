#!/usr/bin/env bash
# Every README table that depends on the bundled default models, re-measured after a model changes.
# Usage: benchmarks/measure_defaults.sh OUTDIR [STEP...]
# CPU: a 1000-step projection of the 100 targets takes about 30 minutes of one core, and the script runs
# five of them (projection w, w+ noise; the encoders' baseline and refinements, on two sets): about 3.5 hours of
# one core in all.
# Each step writes OUTDIR/<step>.txt; steps already done are skipped, so an interrupted run can be restarted.
# Naming steps runs only those, so that two lanes can share a machine, e.g. with OMP_NUM_THREADS=1 each:
#   benchmarks/measure_defaults.sh OUT projection encoders &  benchmarks/measure_defaults.sh OUT fid fid-toon ...
set -euo pipefail
out=${1:?usage: benchmarks/measure_defaults.sh OUTDIR [STEP...]}
shift
only=" $* "
mkdir -p "$out"
cd "$(dirname "$0")/.."

step() {  # step NAME COMMAND...: run once, keep the output
    local name=$1
    shift
    if [ "$only" != "  " ] && [[ $only != *" $name "* ]]; then return; fi
    if [ -s "$out/$name.txt" ]; then echo "skip $name (done)"; return; fi
    echo "== $name: $*"
    "$@" > "$out/$name.tmp" 2>&1
    mv "$out/$name.tmp" "$out/$name.txt"
}

step fid stylegan-edit metrics fid --network synthfaces-64 --num 5000 --no-progress
step fid-toon stylegan-edit metrics fid --network synthfaces-toon-64 --num 5000 --no-progress
step separability stylegan-edit metrics separability --network synthfaces-64 --num 10000 --no-progress
step directions-ganspace stylegan-edit directions fit --method ganspace --network synthfaces-64 --outdir "$out/directions"
step directions-sefa stylegan-edit directions fit --method sefa --network synthfaces-64 --outdir "$out/directions"
step edit-fidelity stylegan-edit metrics edit-fidelity --network synthfaces-64 --no-progress \
    $(for f in stylegan_edit/assets/directions/*.safetensors "$out"/directions/*.safetensors; do echo --directions "$f"; done)
step blend python benchmarks/bench_blend.py
# The projection table's w+ row is the encoders table's baseline (same 100 targets, same schedule): not run twice.
step projection python benchmarks/bench_projection.py --network synthfaces-64 --skip-timing --num-images 100 \
    --quality-steps 1000 --targets heldout --heldout-spaces w,w+noise --sweep ""
step projection-generated python benchmarks/bench_projection.py --network synthfaces-64 --skip-timing --num-images 20 \
    --quality-steps 1000 --targets generated --generated-spaces w,w+ --sweep ""
step projection-sweep python benchmarks/bench_projection.py --network synthfaces-64 --skip-timing --num-images 20 \
    --targets heldout --heldout-spaces w+ --sweep 125,250,375,500,1000 --variant lr=0.3,latent_noise=0
step projection-sweep-lbfgs python benchmarks/bench_projection.py --network synthfaces-64 --skip-timing --num-images 20 \
    --targets heldout --heldout-spaces w+ --sweep 100,200,300,500,1000 --variant optimizer=lbfgs,latent_noise=0
step encoders python benchmarks/bench_encoders.py --num-images 100 --projection-steps 1000 --refine-steps 100 \
    --figure docs/encoders_psp_e4e.png
# The same 100 refinement steps with Adam: REFINE's schedule, then NVIDIA's (project's from the mean W).
step encoders-refine-adam python benchmarks/bench_encoders.py --num-images 100 --projection-steps 0 --refine-steps 100 \
    --refine-optimizer adam
step encoders-refine-nvidia python benchmarks/bench_encoders.py --num-images 100 --projection-steps 0 --refine-steps 100 \
    --refine-optimizer adam --refine-lr 0.1 --refine-lr-rampup 0.05 --refine-lr-rampdown 0.25 --edit-strength 0
# The baseline by L-BFGS too (as `project --optimizer lbfgs` runs it), paired with the same refinements.
step encoders-lbfgs-projection python benchmarks/bench_encoders.py --num-images 100 --projection-steps 1000 \
    --projection-optimizer lbfgs --refine-steps 100
# What the encoder's start is worth to L-BFGS: 100 steps from the mean W against 100 from each encoder.
step encoders-vs-lbfgs-100 python benchmarks/bench_encoders.py --num-images 100 --projection-steps 100 \
    --projection-optimizer lbfgs --refine-steps 100 --edit-strength 0
# REFINE's Adam schedule was chosen on the first 20 of those targets: the next 100 check both optimizers.
step encoders-next-100 python benchmarks/bench_encoders.py --num-images 100 --skip-images 100 --projection-steps 1000 \
    --refine-steps 100 --edit-strength 0
step encoders-next-100-adam python benchmarks/bench_encoders.py --num-images 100 --skip-images 100 --projection-steps 0 \
    --refine-steps 100 --refine-optimizer adam --edit-strength 0
