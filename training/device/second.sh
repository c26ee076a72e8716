#!/bin/bash
# The work that follows a new photo model, on the device machine: `bash training/device/second.sh SECONDS [stop]`.
# Starts the toon fine-tune and both encoders (ENCODER_ARGS, PSP_ARGS, E4E_ARGS add options) against $SNAP (default:
# the best-FID snapshot of the GAN run on this machine, else gpu-in/chosen.safetensors) unless they already run.
# At the deadline returns the toon model once it has finished (or at `stop`) and each encoder's newest snapshot;
# with `stop` it ends them, and for encoders short of their last step returns their state in 15 MB parts
# (`cat psp-state.pt.part* > runs/enc/psp/state.pt`) so they can go on elsewhere with --resume.
source training/device/env.sh
deadline=${1:-540}
if [ ! -d $W/psp ]; then
  snap=${SNAP:-$( [ -d $W/fid ] && python3 training/device/fidline.py --best $W || echo gpu-in/chosen.safetensors)}
  echo "second stage against $snap"; echo $snap > $W/chosen.txt; cp $snap $W/chosen.safetensors
  start_second $W/chosen.safetensors
fi
wait_until $((deadline - 25)) $W/psp.log $W/e4e.log $W/toon.log
[ "$2" = stop ] && stop train-encoder && stop "synthfaces:toon"
echo "chosen: $(cat $W/chosen.txt 2>/dev/null)"
last=$(ls $W/toon/network-snapshot-*.safetensors 2>/dev/null | sort | tail -1)
if [ -n "$last" ] && [ ! -f $W/toon.returned ] && { grep -q "^finished" $W/toon.log || [ "$2" = stop ]; }; then
  cp $last $OUT/toon-$(basename $last); touch $W/toon.returned
fi
for arch in psp e4e; do
  last=$(ls $W/$arch/encoder-*.safetensors 2>/dev/null | sort | tail -1); [ -n "$last" ] && cp $last $OUT/$arch-$(basename $last)
  [ "$2" = stop ] && ! grep -q "^finished" $W/$arch.log && split -b 15M -d $W/$arch/state.pt $OUT/$arch-state.pt.part
done
ls -la $OUT
