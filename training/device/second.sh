#!/bin/bash
# The work that follows a new photo model, on the device machine: `bash training/device/second.sh SECONDS [SNAPSHOT]`.
# Starts the toon fine-tune and both encoders against SNAPSHOT (default: the best-FID snapshot of the GAN run on
# this machine, else gpu-in/chosen.safetensors) unless they already run; at the deadline returns the toon model,
# each encoder's newest snapshot and, for encoders short of their last step, their state split into 15 MB parts
# (`cat psp-state.pt.part* > runs/enc/psp/state.pt`), so they can go on elsewhere with --resume.
source training/device/env.sh
deadline=${1:-540}
if [ ! -d $W/psp ]; then
  snap=${2:-$( [ -d $W/fid ] && python3 training/device/fidline.py --best $W || echo gpu-in/chosen.safetensors)}
  echo "second stage against $snap"; cp $snap $W/chosen.safetensors; start_second $W/chosen.safetensors
fi
wait_until $((deadline - 25)) $W/psp.log $W/e4e.log $W/toon.log
stop train-encoder; stop "synthfaces:toon"
last=$(ls $W/toon/network-snapshot-*.safetensors 2>/dev/null | sort | tail -1); [ -n "$last" ] && cp $last $OUT/toon-$(basename $last)
for arch in psp e4e; do
  last=$(ls $W/$arch/encoder-*.safetensors 2>/dev/null | sort | tail -1); [ -n "$last" ] && cp $last $OUT/$arch-$(basename $last)
  grep -q "^finished" $W/$arch.log || split -b 15M -d $W/$arch/state.pt $OUT/$arch-state.pt.part
done
ls -la $OUT
