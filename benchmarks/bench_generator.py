"""Generator speed: images/s for synthesis (inference) and forward+backward, against a baseline in the same run.

The baseline is the same generator with the CPU optimisations switched off (NCHW activations), which runs
NVIDIA's pure-PyTorch algorithm.

    python benchmarks/bench_generator.py                  # 64 / 256 / 1024 px, batch 1 and 8, CPU (+CUDA)
    python benchmarks/bench_generator.py --quick          # 64 / 256 px only
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from stylegan_edit.generators import Generator, GeneratorConfig


def timed(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median seconds of `fn` over `repeats` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_inference(generator: Generator, batch: int, repeats: int, *, optimised: bool, fused: bool | None) -> float:
    device = generator.device
    generator.synthesis.channels_last = optimised
    ws = generator.mapping(torch.randn(batch, generator.z_dim, device=device))
    with torch.inference_mode():
        return timed(lambda: generator.synthesis(ws, fused_modconv=fused), repeats, device)


def bench_train_step(generator: Generator, batch: int, repeats: int) -> float:
    device = generator.device
    generator.train().requires_grad_(True)
    z = torch.randn(batch, generator.z_dim, device=device)

    def step() -> None:
        generator.zero_grad(set_to_none=True)
        generator(z, noise_mode="random").square().mean().backward()

    try:
        return timed(step, repeats, device)
    finally:
        generator.eval().requires_grad_(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip 1024 px")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", action="append", help="cpu and/or cuda (default: cpu, plus cuda if present)")
    args = parser.parse_args()
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    resolutions = [64, 256] if args.quick else [64, 256, 1024]
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; config-f channels (base 32768, max 512)")
    header = f"{'device':6} {'res':>5} {'batch':>5} {'pass':28} {'s/batch':>9} {'img/s':>8} {'vs base':>8}"
    print(header)
    print("-" * len(header))
    for device_name in devices:
        device = torch.device(device_name)
        for res in resolutions:
            torch.manual_seed(0)
            generator = Generator(GeneratorConfig(img_resolution=res)).eval().requires_grad_(False).to(device)
            for batch in (1, 8):
                rows: list[tuple[str, float]] = []
                base = bench_inference(generator, batch, args.repeats, optimised=False, fused=True)
                rows.append(("synthesis baseline (fused)", base))
                rows.append(
                    (
                        "synthesis NHWC fused",
                        bench_inference(generator, batch, args.repeats, optimised=True, fused=True),
                    )
                )
                rows.append(
                    (
                        "synthesis NHWC non-fused",
                        bench_inference(generator, batch, args.repeats, optimised=True, fused=False),
                    )
                )
                if res <= 256:
                    rows.append(("G forward+backward (train)", bench_train_step(generator, batch, args.repeats)))
                for name, seconds in rows:
                    speedup = base / seconds if "synthesis" in name else float("nan")
                    cells = f"{seconds:9.3f} {batch / seconds:8.2f} {speedup:8.2f}"
                    print(f"{device_name:6} {res:5d} {batch:5d} {name:28} {cells}")
            generator.synthesis.channels_last = True


if __name__ == "__main__":
    main()
