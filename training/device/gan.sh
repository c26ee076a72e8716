#!/bin/bash
# One device call of GAN training: `bash training/device/gan.sh SECONDS [stop]`, carry: [] (or ["gpu-in"]).
# First call on a machine: smoke-tests CUDA, times the trainer (bench_train.py, batch 16 and 64), copies
# training/synthfaces-64 (or gpu-in/state.pt, a newer state fetched back from a previous machine) to $W/run, with
# any earlier evaluated snapshots in gpu-in/ (they compete for second.sh's best-FID choice), and
# starts training in the background; later calls on the same warm machine (the next call within 30 s) find it
# running. Returns state.pt, the newest snapshot, its sample grid and fid.log in $OUT. With `stop`, training ends
# at the deadline.
source training/device/env.sh
deadline=${1:-540}
if ! pgrep -f "train --resume $W/run" > /dev/null; then
  nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  if [ "${SMOKE:-1}" = 1 ]; then  # SMOKE=0 skips the CUDA tests and the trainer timing (about 90 s)
    python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -3
    for b in 16 64; do timeout 60 python3 benchmarks/bench_train.py --device cuda --batch $b --steps 10; done > $OUT/bench-train.txt 2>&1
    cat $OUT/bench-train.txt
  fi
  mkdir -p $W/run; cp training/synthfaces-64/training_options.json $W/run/
  cp ${GAN_STATE:-training/synthfaces-64/state.pt} $W/run/state.pt; [ -f gpu-in/state.pt ] && cp gpu-in/state.pt $W/run/
  # Earlier snapshots with their FID (gpu-in/network-snapshot-*.safetensors, gpu-in/fid/*.json) compete for "best".
  mkdir -p $W/fid; cp gpu-in/network-snapshot-*.safetensors $W/run/ 2>/dev/null
  for j in gpu-in/fid/*.json; do [ -f $j ] && cp $j $W/fid/ && python3 training/device/fidline.py $j >> $W/fid.log; done
  start_gan
fi
wait_until $((deadline - 15)) $W/train.log
[ "$2" = stop ] && stop "train --resume $W/run" && stop fidwatch.sh
cat $W/fid.log 2>/dev/null; tail -2 $W/fid.err 2>/dev/null
collect_gan
