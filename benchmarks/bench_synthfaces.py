"""SynthFaces rendering throughput (images/s, one process): 4x supersampled rendering against a 1x baseline.

The baseline draws straight at the output size (no antialiasing), so the table shows what supersampling costs.
Timings include sampling the factors from the seed, as `SynthFaces.__getitem__` does (no tensor conversion).
Rates are per second of this process's CPU time (steady on a shared machine); `wall` is per wall-clock second.

    python benchmarks/bench_synthfaces.py --num 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stylegan_edit.data.factors import sample_factors
from stylegan_edit.data.render import SUPERSAMPLE, Style, render_face


def images_per_second(num: int, size: int, style: Style, supersample: int) -> tuple[float, float]:
    """Render seeds 0..num-1 once (after a short warm-up); return images per CPU second and per wall second."""
    for seed in range(5):
        render_face(sample_factors(np.random.default_rng(seed)), size=size, style=style, supersample=supersample)
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for seed in range(num):
        factors = sample_factors(np.random.default_rng(seed))
        render_face(factors, size=size, style=style, noise_seed=seed, supersample=supersample)
    return num / (time.process_time() - cpu_start), num / (time.perf_counter() - wall_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=500, help="images per measurement (default: 500)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes (default: 64 128)")
    args = parser.parse_args()

    ours_name = f"{SUPERSAMPLE}x img/s"
    header = f"{'style':<6} {'size':>5} {ours_name:>11} {'(wall)':>8} {'1x img/s':>10} {'cost':>6}"
    print(header)
    print("-" * len(header))
    styles: tuple[Style, ...] = ("photo", "toon")
    for style in styles:
        for size in args.sizes:
            ours, ours_wall = images_per_second(args.num, size, style, SUPERSAMPLE)
            baseline, _ = images_per_second(args.num, size, style, 1)
            print(f"{style:<6} {size:>5} {ours:>11.0f} {ours_wall:>8.0f} {baseline:>10.0f} {baseline / ours:>5.1f}x")


if __name__ == "__main__":
    main()
