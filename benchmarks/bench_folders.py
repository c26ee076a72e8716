"""Folder throughput: images/s of `project FOLDER` and `encode FOLDER` with 1 and with 2 processes under torchrun.

Renders `--num` SynthFaces photos (64 px by default) into a temporary folder, then runs each command through
`torchrun --standalone --nproc_per_node P -m stylegan_edit.cli ...` into a fresh output folder for P = 1 and 2,
splitting `--threads` CPU threads evenly (1 x 2 against 2 x 1 on two cores), or one GPU per process on CUDA.
images/s is the command's own figure: the images inverted over the wall time from the first batch to the last
process done (start-up and the final gathering excluded); wall s is the whole command, start-up included. The
1-process row of each command is the baseline of its speed-up.

    python benchmarks/bench_folders.py                                  # 64 renders, lbfgs 20 steps, psp
    python benchmarks/bench_folders.py --num 16 --steps 5 --processes 1 2 --threads 2
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RATE = re.compile(r"(\d+) inverted now by (\d+) process(?:es)? in ([\d.]+) s \(([\d.e+-]+) images/s\)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=64, help="SynthFaces renders in the folder.")
    parser.add_argument("--size", type=int, default=64, help="Their side in pixels.")
    parser.add_argument("--network", default="synthfaces-64", help="Generator (bundled name or checkpoint).")
    parser.add_argument("--steps", type=int, default=20, help="L-BFGS steps of `project --preset lbfgs`.")
    parser.add_argument("--batch-size", type=int, default=8, help="Images per batch, both commands.")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="Process counts to time.")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads in all, split over the processes.")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (one GPU per process).")
    parser.add_argument("--commands", nargs="+", default=["project", "encode"], choices=["project", "encode"])
    return parser.parse_args(argv)


def command_options(command: str, args: argparse.Namespace) -> list[str]:
    common = ["--network", args.network, "--batch-size", str(args.batch_size), "--no-align", "--no-progress"]
    if command == "project":
        return [*common, "--preset", "lbfgs", "--steps", str(args.steps)]
    return common


def run(command: str, folder: Path, outdir: Path, processes: int, args: argparse.Namespace) -> tuple[float, float]:
    """The command's images/s and the whole command's wall seconds."""
    threads = max(1, args.threads // processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    arguments = [command, str(folder), *command_options(command, args), "--device", args.device, "--outdir"]
    began = time.perf_counter()
    result = subprocess.run(
        [*torchrun, "-m", "stylegan_edit.cli", *arguments, str(outdir)],
        env=env,
        capture_output=True,
        text=True,
        cwd=outdir.parent,
    )
    wall = time.perf_counter() - began
    match = RATE.search(result.stdout)
    if result.returncode != 0 or match is None:
        output = result.stdout[-2000:] + result.stderr[-2000:]
        raise SystemExit(f"{command} with {processes} processes failed:\n{output}")
    if int(match.group(1)) != args.num:
        raise SystemExit(f"{command}: {match.group(1)} of {args.num} images inverted")
    return float(match.group(4)), wall


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from stylegan_edit.workflow.datasets import make_dataset

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "faces"
        make_dataset(folder, num=args.num, size=args.size)
        (folder / "labels.json").unlink()
        print(f"{args.num} SynthFaces renders at {args.size} px, batch {args.batch_size}, device {args.device}")
        print(f"project: --preset lbfgs --steps {args.steps}; encode: psp; {args.threads} CPU threads in all")
        print()
        print("| command | processes x threads | images/s | speed-up | wall s (with start-up) |")
        print("|---|---|---|---|---|")
        for command in args.commands:
            baseline = None
            for processes in args.processes:
                outdir = Path(scratch) / f"{command}-{processes}"
                rate, wall = run(command, folder, outdir, processes, args)
                baseline = baseline or rate
                threads = max(1, args.threads // processes)
                print(f"| {command} | {processes} x {threads} | {rate:.3g} | {rate / baseline:.2f}x | {wall:.1f} |")


if __name__ == "__main__":
    main()
