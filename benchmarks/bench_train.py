"""Training speed: images/s of a StyleGAN2 step (G + D) at the `synthfaces-64` config and a wider baseline.

For each config and device it times plain steps (no regularisation), steps with path-length regularisation, with
R1 and with both, and combines them into config e's schedule (PL every 4th, R1 every 16th step). Data comes from
memory, so the numbers are the networks' cost alone.

    python benchmarks/bench_train.py                     # CPU, and CUDA when available
    python benchmarks/bench_train.py --steps 5 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import Tensor
from torch.utils.data import Dataset

from stylegan_edit.generators import DiscriminatorConfig, GeneratorConfig
from stylegan_edit.training import Trainer, TrainingOptions, preset


class RandomImages(Dataset[Tensor]):
    def __init__(self, num: int, resolution: int) -> None:
        self.images = torch.rand([num, 3, resolution, resolution], generator=torch.Generator().manual_seed(0)) * 2 - 1

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]


def baseline() -> TrainingOptions:
    """Twice the channels of synthfaces-64 (at most 128), otherwise the same: the width it was chosen against."""
    options = preset("synthfaces-64")
    return options.replace(
        generator=GeneratorConfig(
            img_resolution=64, z_dim=128, w_dim=128, mapping_layers=4, channel_base=4096, channel_max=128
        ),
        discriminator=DiscriminatorConfig(img_resolution=64, channel_base=4096, channel_max=128),
    )


def time_steps(trainer: Trainer, options: TrainingOptions, steps: int) -> tuple[float, float]:
    """Best wall-clock and process CPU seconds of a step at step 1 of `options`' regularisation schedule.

    Step 1 runs a regulariser exactly when its interval is 1 (a step runs it when `step % interval == 0`).
    """
    trainer.options = options  # same networks, other schedule: only the phases run change
    best_wall = best_cpu = float("inf")
    for _ in range(steps):
        trainer.step_index = 1
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        trainer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def measure(name: str, options: TrainingOptions, device: torch.device, steps: int) -> str:
    trainer = Trainer(options, RandomImages(4 * options.batch, options.resolution), device=device)
    trainer.step()  # warm-up: allocations, cuDNN autotuning, every phase once
    never = 10**9
    plain = time_steps(trainer, options.replace(pl_interval=never, r1_interval=never), steps)
    with_pl = time_steps(trainer, options.replace(pl_interval=1, r1_interval=never), steps)
    with_r1 = time_steps(trainer, options.replace(pl_interval=never, r1_interval=1), steps)
    both = time_steps(trainer, options.replace(pl_interval=1, r1_interval=1), steps)
    columns = []
    for k in range(2):  # wall clock, then CPU time
        extra_pl = max(with_pl[k] - plain[k], 0.0) / options.pl_interval
        extra_r1 = max(with_r1[k] - plain[k], 0.0) / options.r1_interval
        lazy = plain[k] + extra_pl + extra_r1
        columns += [options.batch / plain[k], options.batch / lazy, options.batch / both[k]]
    values = " ".join(f"{v:>9.1f}" for v in columns)
    return f"{name:<16} {device.type:<5} {options.batch:>5} {values}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement (the best one counts)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    configs = {"synthfaces-64": preset("synthfaces-64"), "baseline-ch128": baseline()}
    print(f"torch {torch.__version__}, {args.threads} CPU threads; images/s, best of {args.steps} steps")
    print("images/s by wall clock, then images per CPU-second (the speed of an otherwise idle machine)")
    head = " ".join(f"{h:>9}" for h in ["no regs", "config-e", "PL+R1"] * 2)
    print(f"{'config':<16} {'dev':<5} {'batch':>5} {head}")
    for device in devices:
        for name, options in configs.items():
            print(measure(name, options.replace(batch=args.batch), device, args.steps), flush=True)


if __name__ == "__main__":
    main()
