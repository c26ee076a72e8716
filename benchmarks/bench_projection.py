"""Projection speed and quality, each against a baseline measured in the same run.

Speed: seconds per optimisation step per image at 64 px (the synthfaces-64 architecture) and at 256 / 1024 px
(config-f channels: channel_base 32768, channel_max 512), one image at a time (the baseline) and batched.
Quality: PSNR / SSIM / perceptual distance of `w` (NVIDIA's recipe, the baseline), `w+` and `w+` with noise on
images generated from known latents, plus a schedule sweep (fewest steps within 0.5 dB of the longest run).
Networks are randomly initialised unless `--network` names a checkpoint (e.g. the bundled synthfaces-64).

    python benchmarks/bench_projection.py                                   # everything (slow on CPU at 1024 px)
    python benchmarks/bench_projection.py --sizes 64 --timing-steps 3 --num-images 2 --quality-steps 100 \
        --sweep 25,50,100                                                   # smoke run
    python benchmarks/bench_projection.py --network synthfaces-64 --num-images 100 --quality-steps 1000
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import Tensor

from stylegan_edit.checkpoints import Network
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from stylegan_edit.invert import Projector, auto_perceptual_loss
from stylegan_edit.invert.losses import PerceptualLoss
from stylegan_edit.metrics.reconstruction import reconstruction_metrics


def random_network(resolution: int, device: torch.device) -> Network:
    """A randomly initialised G and D: the synthfaces-64 architecture at 64 px, config-f channels above."""
    if resolution <= 64:
        g_config = GeneratorConfig(
            img_resolution=resolution, z_dim=128, w_dim=128, mapping_layers=4, channel_base=4096, channel_max=128
        )
        d_config = DiscriminatorConfig(img_resolution=resolution, channel_base=4096, channel_max=128)
    else:
        g_config = GeneratorConfig(img_resolution=resolution, channel_base=32768, channel_max=512)
        d_config = DiscriminatorConfig(img_resolution=resolution, channel_base=32768, channel_max=512)
    torch.manual_seed(0)
    generator = Generator(g_config)
    with torch.no_grad():  # untrained networks have zero noise strengths; give the noise inputs some effect
        for layer in generator.synthesis.noise_layers():
            layer.noise_strength.fill_(0.1)
    generator = generator.to(device).eval().requires_grad_(False)
    discriminator = Discriminator(d_config).to(device).eval().requires_grad_(False)
    return Network(generator, discriminator)


def load(spec: str, device: torch.device) -> Network:
    from stylegan_edit.bundled import resolve_network
    from stylegan_edit.checkpoints import load_network

    return load_network(resolve_network(spec), device=device)


def known_targets(generator: Generator, num: int, psi: float) -> Tensor:
    """Images rendered (const noise) from the latents of seeds 1000, 1001, ... (NVIDIA's seed -> z)."""
    with torch.no_grad():
        z = torch.cat([generator.z_from_seed(1000 + i) for i in range(num)])
        return generator.synthesis(generator.mapping(z, truncation_psi=psi), noise_mode="const")


def seconds_per_step(
    generator: Generator, perceptual: PerceptualLoss | None, batch: int, steps: int, device: torch.device
) -> tuple[float, float]:
    """Median wall and process-CPU seconds of one w+ projection step (after one warm-up step) for a batch.

    CPU seconds are the steadier figure on a shared machine (with one thread they barely depend on other load).
    """
    targets = known_targets(generator, batch, 0.7)
    projector = Projector(
        space="w+",
        num_steps=steps + 1,
        perceptual=perceptual,
        perceptual_weight=1.0 if perceptual is not None else 0.0,
        mse_weight=0.0 if perceptual is not None else 1.0,
    )
    walls, cpus = [], []
    wall, cpu = time.perf_counter(), time.process_time()
    for progress in projector.steps(generator, targets):
        if device.type == "cuda":
            torch.cuda.synchronize()
        now_wall, now_cpu = time.perf_counter(), time.process_time()
        if progress.step > 0:
            walls.append(now_wall - wall)
            cpus.append(now_cpu - cpu)
        wall, cpu = now_wall, now_cpu
    return statistics.median(walls), statistics.median(cpus)


def timing_table(args: argparse.Namespace, device: torch.device) -> None:
    print(f"\nTime per projection step per image (w+, {args.loss} loss, {device}, {torch.get_num_threads()} threads)")
    print(
        f"| size | batch 1 wall (baseline) | batch {args.batch} wall | speed-up "
        f"| batch 1 CPU | batch {args.batch} CPU |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        network = load(args.network, device) if args.network else random_network(size, device)
        perceptual = network_loss(network, args.loss)
        single, single_cpu = seconds_per_step(network.generator, perceptual, 1, args.timing_steps, device)
        batched, batched_cpu = seconds_per_step(network.generator, perceptual, args.batch, args.timing_steps, device)
        batched, batched_cpu = batched / args.batch, batched_cpu / args.batch
        resolution = network.generator.img_resolution
        print(
            f"| {resolution} | {single:.3f} s | {batched:.3f} s | {single / batched:.2f}x | {single_cpu:.3f} s "
            f"| {batched_cpu:.3f} s |"
        )
        if args.network:
            break


def network_loss(network: Network, kind: str) -> PerceptualLoss | None:
    if kind == "mse":
        return None
    return auto_perceptual_loss(network)


def project_and_score(
    network: Network, targets: Tensor, perceptual: PerceptualLoss | None, metric: PerceptualLoss | None, **settings
) -> dict[str, float]:
    projector = Projector(
        perceptual=perceptual,
        perceptual_weight=1.0 if perceptual is not None else 0.0,
        mse_weight=0.0 if perceptual is not None else 1.0,
        **settings,
    )
    start = time.perf_counter()
    result = projector.project(network.generator, targets)
    seconds = time.perf_counter() - start
    metrics = reconstruction_metrics(result.images, targets, metric)
    scores = {name: float(values.mean()) for name, values in metrics.items()}
    scores["seconds"] = seconds
    return scores


def quality_table(args: argparse.Namespace, device: torch.device) -> None:
    network = load(args.network, device) if args.network else random_network(args.quality_size, device)
    generator = network.generator
    perceptual = network_loss(network, args.loss)
    metric = perceptual or auto_perceptual_loss(network)
    targets = known_targets(generator, args.num_images, args.psi)
    name = args.network or f"random {generator.img_resolution} px"
    loss_name = perceptual.name if perceptual is not None else "mse"
    metric_name = metric.name if metric is not None else "-"
    print(
        f"\nProjection quality on {args.num_images} images generated from known latents (psi {args.psi}), {name}, "
        f"{args.quality_steps} steps, loss {loss_name}, perceptual column: {metric_name}"
    )
    print("| space | PSNR (dB) | SSIM | perceptual | seconds |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, space, noise in (("w (baseline)", "w", False), ("w+", "w+", False), ("w+ noise", "w+", True)):
        scores = project_and_score(
            network, targets, perceptual, metric, space=space, optimize_noise=noise, num_steps=args.quality_steps
        )
        perceptual_text = f"{scores['perceptual']:.4f}" if "perceptual" in scores else "-"
        print(
            f"| {label} | {scores['psnr']:.2f} | {scores['ssim']:.4f} | {perceptual_text} | {scores['seconds']:.1f} |"
        )
    if not args.sweep:
        return
    print("\nSchedule sweep (w+): PSNR against the number of steps; the longest run is the baseline")
    print("| steps | PSNR (dB) | seconds |")
    print("| ---: | ---: | ---: |")
    rows = []
    for steps in sorted(args.sweep):
        scores = project_and_score(network, targets, perceptual, metric, space="w+", num_steps=steps)
        rows.append((steps, scores["psnr"], scores["seconds"]))
        print(f"| {steps} | {scores['psnr']:.2f} | {scores['seconds']:.1f} |")
    best = rows[-1][1]
    within = next(steps for steps, value, _ in rows if value >= best - 0.5)
    print(f"fewest steps within 0.5 dB of {rows[-1][0]} steps: {within} ({within / rows[-1][0]:.0%} of the time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default=None, help="Checkpoint or bundled name (default: random networks).")
    parser.add_argument("--sizes", default="64,256,1024", help="Resolutions timed (random networks only).")
    parser.add_argument("--batch", type=int, default=4, help="Batch size compared with one image at a time.")
    parser.add_argument("--timing-steps", type=int, default=3, help="Timed steps per measurement.")
    parser.add_argument("--loss", choices=["auto", "mse"], default="auto", help="auto: LPIPS or its fallback.")
    parser.add_argument("--num-images", type=int, default=8, help="Images in the quality table.")
    parser.add_argument("--quality-size", type=int, default=64, help="Resolution of the random quality network.")
    parser.add_argument("--quality-steps", type=int, default=1000, help="Steps per projection in the quality table.")
    parser.add_argument("--psi", type=float, default=0.7, help="Truncation of the known latents.")
    parser.add_argument("--sweep", default="125,250,500,1000", help="Step counts compared (empty: skip).")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.sweep = [int(s) for s in args.sweep.split(",") if s]
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if not args.skip_timing:
        timing_table(args, device)
    if not args.skip_quality:
        quality_table(args, device)


if __name__ == "__main__":
    main()
