"""StyleGAN3 synthesis time per image on this machine, stylegan-edit beside NVIDIA's reference implementation.

Both run the same randomly initialised generator (config T or R, NVIDIA's layout) in the same process, timed in
alternation, so that the ratio holds even on a busy machine. NVIDIA's code comes from a checkout the user
provides (`--nvidia-repo`, a clone of NVlabs/stylegan3); without one only stylegan-edit is timed. NVIDIA's
`filtered_lrelu` and `bias_act` fall back to their reference PyTorch paths on the CPU, which is what a CPU user
of that repository runs.

    python benchmarks/bench_stylegan3.py --nvidia-repo ~/src/stylegan3 --resolutions 256,1024
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from stylegan_edit.generators import StyleGAN3Config, StyleGAN3Generator


def import_nvidia(repo: Path) -> Any:
    """NVIDIA's `training.networks_stylegan3` from a checkout (its conv2d_gradfix imports `pkg_resources`, which
    new setuptools no longer ships: a stand-in with `parse_version` is enough)."""
    if "pkg_resources" not in sys.modules:
        try:
            importlib.import_module("pkg_resources")
        except ImportError:
            from packaging.version import parse

            stand_in = types.ModuleType("pkg_resources")
            stand_in.parse_version = parse  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = stand_in
    sys.path.insert(0, str(repo))
    return importlib.import_module("training.networks_stylegan3")


def nvidia_generator(module: Any, config: StyleGAN3Config) -> torch.nn.Module:
    return module.Generator(
        z_dim=config.z_dim,
        c_dim=0,
        w_dim=config.w_dim,
        img_resolution=config.img_resolution,
        img_channels=config.img_channels,
        mapping_kwargs=dict(num_layers=config.mapping_layers),
        channel_base=config.channel_base,
        channel_max=config.channel_max,
        conv_kernel=config.conv_kernel,
        use_radial_filters=config.use_radial_filters,
        conv_clamp=config.conv_clamp,
    )


def timed(run: Callable[[], torch.Tensor]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvidia-repo", type=Path, default=None, help="a checkout of NVlabs/stylegan3")
    parser.add_argument("--resolutions", default="256,1024", help="comma-separated output resolutions")
    parser.add_argument("--configs", default="stylegan3-t", help="stylegan3-t and/or stylegan3-r, comma-separated")
    parser.add_argument("--batch", type=int, default=1, help="images per forward")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each implementation")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    nvidia = import_nvidia(args.nvidia_repo.expanduser()) if args.nvidia_repo else None
    if nvidia is None:
        print("no --nvidia-repo given: timing stylegan-edit only")
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, {args.repeats} runs each (s/image)")
    print()
    print("| config | resolution | stylegan-edit min / median | NVIDIA min / median | ratio (median) | max abs diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in args.configs.split(","):
        for res in (int(r) for r in args.resolutions.split(",")):
            torch.manual_seed(0)
            config = StyleGAN3Config.preset(kind, res)  # type: ignore[arg-type]
            ours = StyleGAN3Generator(config).eval().requires_grad_(False)
            z = torch.randn([args.batch, config.z_dim])
            runs: dict[str, list[float]] = {"ours": []}
            calls: dict[str, Callable[[], torch.Tensor]] = {"ours": lambda g=ours, z=z: g(z)}
            reference = None
            if nvidia is not None:
                reference = nvidia_generator(nvidia, config).eval().requires_grad_(False)
                ours.load_state_dict(reference.state_dict(), strict=True)
                runs["nvidia"] = []
                calls["nvidia"] = lambda g=reference, z=z: g(z, None)
            with torch.no_grad():
                outputs = {name: call() for name, call in calls.items()}  # warm-up, and the outputs compared
                for _ in range(args.repeats):
                    for name, call in calls.items():
                        runs[name].append(timed(call) / args.batch)
            ours_cell = f"{min(runs['ours']):.2f} / {statistics.median(runs['ours']):.2f}"
            if reference is None:
                print(f"| {kind} | {res} | {ours_cell} | - | - | - |")
                continue
            diff = float((outputs["ours"] - outputs["nvidia"]).abs().max())
            ratio = statistics.median(runs["ours"]) / statistics.median(runs["nvidia"])
            nv_cell = f"{min(runs['nvidia']):.2f} / {statistics.median(runs['nvidia']):.2f}"
            print(f"| {kind} | {res} | {ours_cell} | {nv_cell} | {ratio:.2f}x | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
