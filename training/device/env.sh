# Shared by the device-machine scripts (see docs/default-models.md, "On a GPU machine"). Source from the repo root.
# The device machine has PyTorch, click, tqdm, numpy, scikit-learn, safetensors and Pillow but not lpips or dlib;
# none of the commands used here imports those, so the package runs from the checkout through PYTHONPATH.
R=$(pwd); export PYTHONPATH=$R PYTHONUNBUFFERED=1; W=/tmp/w; mkdir -p $W
se() { python3 -c 'import sys; sys.argv[0] = "stylegan-edit"; from stylegan_edit.cli import main; main()' "$@"; }
export -f se
bg() { setsid nohup bash -c "cd $R; source training/device/env.sh; $1" >> "$2" 2>&1 < /dev/null & }  # survives the call
progress() { for f in "$@"; do [ -f $f ] && echo "$(basename $f): $(tail -c 400 $f | tr '\r' '\n' | grep -v '^$' | tail -1)"; done; }
# Print progress every 30 s until second $1 of this call (exactly: the call's own limit must not cut collection).
wait_until() { local end=$1; shift; while [ $SECONDS -lt $end ]; do sleep $(( end - SECONDS < 30 ? end - SECONDS : 30 )); echo "t=$SECONDS"; progress "$@"; done; }
# Stop processes matching $1: SIGINT, up to 10 s to exit, then SIGKILL (states are written atomically, so safe).
stop() { pkill -INT -f "$1"; for i in $(seq 10); do pgrep -f "$1" > /dev/null || return 0; sleep 1; done; pkill -KILL -f "$1"; }
start_gan() {  # resume the photo GAN in $W/run at batch 64 (GAN_ARGS adds options), with a FID watcher
  bg "se train --resume $W/run --batch 64 --kimg 100000 --workers 10 --snapshot-kimg 50 --state-kimg 10 --grid-kimg 50 --device cuda ${GAN_ARGS:-}" $W/train.log
  bg "bash training/device/fidwatch.sh" $W/fidwatch.log
}
start_second() {  # the toon fine-tune and both encoders against the chosen snapshot $1
  for arch in psp e4e; do
    local own=${arch^^}_ARGS  # PSP_ARGS / E4E_ARGS: options for one encoder only
    bg "se train-encoder --arch $arch --network $1 --data synthfaces:photo --run-dir $W/$arch --device cuda --workers 3 ${ENCODER_ARGS:-} ${!own:-}" $W/$arch.log
  done
  bg "se train --data synthfaces:toon --run-dir $W/toon --config synthfaces-64 --resume-from $1 --kimg 20 --workers 3 --device cuda" $W/toon.log
}
collect_gan() {  # what must survive of the GAN run, into $OUT (at most 8 files come back)
  cp $W/run/state.pt $OUT/ 2>/dev/null
  local snap=$(ls $W/run/network-snapshot-*.safetensors 2>/dev/null | sort | tail -1); [ -n "$snap" ] && cp $snap $OUT/
  local grid=$(ls $W/run/fakes0*.png 2>/dev/null | sort | tail -1); [ -n "$grid" ] && cp $grid $OUT/
  cp $W/fid.log $OUT/ 2>/dev/null
}
