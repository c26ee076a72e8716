#!/bin/bash
# Classifier-space FID (5000 vs 5000) of the newest unevaluated snapshot in $W/run, one line each in $W/fid.log:
# snapshot kimg, FID, real-vs-real FID, ratio, the three largest attribute-frequency gaps.
source training/device/env.sh
while true; do
  snap=$(ls $W/run/network-snapshot-*.safetensors 2>/dev/null | sort | tail -1)
  json=$W/fid/$(basename "$snap" .safetensors).json
  if [ -n "$snap" ] && [ ! -f $json ]; then
    mkdir -p $W/fid
    se metrics fid --network $snap --num 5000 --no-progress --device cuda --json $json > /dev/null 2>> $W/fid.err
    [ -f $json ] && python3 training/device/fidline.py $json >> $W/fid.log
  else
    sleep 5
  fi
done
