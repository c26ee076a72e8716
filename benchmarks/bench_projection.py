"""Projection speed and quality, each against a baseline measured in the same run.

Speed: seconds per optimisation step per image at 64 px (the synthfaces-64 architecture) and at 256 / 1024 px
(config-f channels: channel_base 32768, channel_max 512), one image at a time (the baseline) and batched.
Quality: PSNR / SSIM / perceptual distance / attribute agreement of `w` (NVIDIA's recipe, the baseline), `w+` and
`w+` with noise, on held-out SynthFaces renders (`heldout.py`) and on images generated from known latents, plus a
schedule sweep on the first of those sets (fewest steps within 0.5 dB of the longest run).
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
from collections.abc import Callable
from functools import partial

import torch
from heldout import attribute_agreement, held_out_faces, open_network, random_network_of, random_synthfaces_network
from torch import Tensor

from stylegan_edit.generators import DiscriminatorConfig, Generator, GeneratorConfig, Network
from stylegan_edit.generators.sampling import z_from_seeds
from stylegan_edit.invert import Projector
from stylegan_edit.perceptual import auto_perceptual_loss
from stylegan_edit.perceptual.losses import PerceptualLoss
from stylegan_edit.perceptual.reconstruction import reconstruction_metrics


def random_network(resolution: int, device: torch.device) -> Network:
    """A randomly initialised G and D: the synthfaces-64 architecture at 64 px, config-f channels above."""
    if resolution <= 64:
        return random_synthfaces_network(device)
    g_config = GeneratorConfig(img_resolution=resolution, channel_base=32768, channel_max=512)
    d_config = DiscriminatorConfig(img_resolution=resolution, channel_base=32768, channel_max=512)
    return random_network_of(g_config, d_config, device)


def known_targets(generator: Generator, num: int, psi: float) -> Tensor:
    """Images rendered (const noise) from the latents of seeds 1000, 1001, ... (NVIDIA's seed -> z)."""
    with torch.no_grad():
        z = z_from_seeds(generator, range(1000, 1000 + num))
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
    """Per size: one image at a time and batched."""
    results: dict[int, tuple[float, float, float, float]] = {}
    for size in args.sizes:
        network = open_network(args.network, device)[0] if args.network else random_network(size, device)
        perceptual = network_loss(network, args.loss)
        single = seconds_per_step(network.generator, perceptual, 1, args.timing_steps, device)
        batched = seconds_per_step(network.generator, perceptual, args.batch, args.timing_steps, device)
        results[network.generator.img_resolution] = (*single, batched[0] / args.batch, batched[1] / args.batch)
        if args.network:
            break
    print(f"\nTime per projection step per image (w+, {args.loss} loss, {device}, {torch.get_num_threads()} threads)")
    print("Speed-up: batched against batch 1 (the baseline) of the same size.")
    print(f"| size | batch 1 wall | batch {args.batch} wall | speed-up | batch 1 CPU | batch {args.batch} CPU |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for resolution, (single, single_cpu, batched, batched_cpu) in sorted(results.items()):
        print(
            f"| {resolution} | {single:.3f} s | {batched:.3f} s | {single / batched:.2f}x "
            f"| {single_cpu:.3f} s | {batched_cpu:.3f} s |"
        )


def network_loss(network: Network, kind: str) -> PerceptualLoss | None:
    if kind == "mse":
        return None
    return auto_perceptual_loss(network)


def project_and_score(
    network: Network,
    targets: Tensor,
    perceptual: PerceptualLoss | None,
    metric: PerceptualLoss | None,
    agreement: Agreement | None,
    **settings,
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
    if agreement is not None:
        scores["agreement"] = agreement(result.images)
    return scores


Agreement = Callable[[Tensor], float]


def quality_table(args: argparse.Namespace, device: torch.device) -> None:
    network = open_network(args.network, device)[0] if args.network else random_network(args.quality_size, device)
    generator = network.generator
    perceptual = network_loss(network, args.loss)
    metric = perceptual or auto_perceptual_loss(network)
    name = args.network or f"random {generator.img_resolution} px"
    loss_name = perceptual.name if perceptual is not None else "mse"
    metric_name = metric.name if metric is not None else "-"
    all_rows = {"w": ("w (baseline)", "w", False), "w+": ("w+", "w+", False), "w+noise": ("w+ noise", "w+", True)}
    target_sets: list[tuple[str, Tensor, Agreement | None, list[str]]] = []
    if args.targets in ("heldout", "both"):
        faces, labels = held_out_faces(args.num_images, generator.img_resolution)
        scorer = attribute_agreement(device)
        agreement = None if scorer is None else partial(scorer, labels=labels)
        description = f"{args.num_images} held-out SynthFaces renders"
        target_sets.append((description, faces.to(device), agreement, args.heldout_spaces))
    if args.targets in ("generated", "both"):
        known = known_targets(generator, args.num_images, args.psi)
        description = f"{args.num_images} images generated from known latents (psi {args.psi})"
        target_sets.append((description, known, None, args.generated_spaces))
    sweep_psnr: dict[int, tuple[float, float]] = {}  # steps -> (PSNR, seconds) of w+ on the first target set
    for index, (description, targets, agreement, spaces) in enumerate(target_sets):
        print(
            f"\nProjection quality on {description}, {name}, {args.quality_steps} steps, loss {loss_name}, "
            f"perceptual column: {metric_name} ({device}, {torch.get_num_threads()} threads)"
        )
        print("| space | PSNR (dB) | SSIM | perceptual | attribute agreement | seconds |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for key in spaces:
            label, space, noise = all_rows[key]
            scores = project_and_score(
                network,
                targets,
                perceptual,
                metric,
                agreement,
                space=space,
                optimize_noise=noise,
                num_steps=args.quality_steps,
            )
            if index == 0 and key == "w+":
                sweep_psnr[args.quality_steps] = (scores["psnr"], scores["seconds"])
            perceptual_text = f"{scores['perceptual']:.4f}" if "perceptual" in scores else "-"
            agreement_text = f"{scores['agreement']:.3f}" if "agreement" in scores else "-"
            print(
                f"| {label} | {scores['psnr']:.2f} | {scores['ssim']:.4f} | {perceptual_text} | {agreement_text} "
                f"| {scores['seconds']:.1f} |"
            )
    if not args.sweep:
        return
    description, targets = target_sets[0][:2]
    print(f"\nSchedule sweep (w+, {description}): PSNR against the number of steps; the baseline is NVIDIA's schedule")
    print("(lr 0.1, latent noise 0.05) at the most steps")
    print("| schedule | steps | PSNR (dB) | seconds |")
    print("| --- | ---: | ---: | ---: |")
    rows = []
    longest = max(args.sweep)
    for variant in [{}, *args.variants]:
        label = ", ".join(
            f"{key} {value:g}" if isinstance(value, float) else str(value) for key, value in variant.items()
        )
        label = label or "NVIDIA's"
        for steps in sorted(set(args.sweep)):
            if variant and steps == longest:  # variants are there to get close to the baseline in fewer steps
                continue
            if variant or steps not in sweep_psnr:  # the quality table's w+ row is reused for its step count
                scores = project_and_score(
                    network, targets, perceptual, metric, None, space="w+", num_steps=steps, **variant
                )
                psnr, seconds = scores["psnr"], scores["seconds"]
            else:
                psnr, seconds = sweep_psnr[steps]
            rows.append((label, steps, psnr))
            print(f"| {label} | {steps} | {psnr:.2f} | {seconds:.1f} |")
    best = next(psnr for label, steps, psnr in rows if label == "NVIDIA's" and steps == longest)
    label, within, _ = min(((lb, st, ps) for lb, st, ps in rows if ps >= best - 0.5), key=lambda row: row[1])
    print(
        f"fewest steps within 0.5 dB of {longest} NVIDIA steps: {within} with {label} ({within / longest:.0%} of them)"
    )


def parse_variant(text: str) -> dict[str, float | str]:
    """`lr=0.3,latent_noise=0` or `optimizer=lbfgs,latent_noise=0` -> Projector keyword arguments."""
    allowed = {"lr", "lr_rampup", "lr_rampdown", "latent_noise", "latent_noise_ramp", "optimizer"}
    variant: dict[str, float | str] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key not in allowed:
            raise argparse.ArgumentTypeError(f"unknown schedule setting {key!r} (use {', '.join(sorted(allowed))})")
        variant[key] = value if key == "optimizer" else float(value)
    return variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default=None, help="Checkpoint or bundled name (default: random networks).")
    parser.add_argument("--sizes", default="64,256,1024", help="Resolutions timed (random networks only).")
    parser.add_argument("--batch", type=int, default=4, help="Batch size compared with one image at a time.")
    parser.add_argument("--timing-steps", type=int, default=3, help="Timed steps per measurement.")
    parser.add_argument("--loss", choices=["auto", "mse"], default="auto", help="auto: LPIPS or its fallback.")
    parser.add_argument("--num-images", type=int, default=8, help="Images in the quality table.")
    parser.add_argument(
        "--targets",
        choices=["heldout", "generated", "both"],
        default="both",
        help="Held-out SynthFaces renders, images generated from known latents, or both tables.",
    )
    parser.add_argument("--heldout-spaces", default="w,w+,w+noise", help="Rows of the held-out table (w, w+, w+noise).")
    parser.add_argument(
        "--generated-spaces", default="w,w+,w+noise", help="Rows of the known-latents table (w, w+, w+noise)."
    )
    parser.add_argument("--quality-size", type=int, default=64, help="Resolution of the random quality network.")
    parser.add_argument("--quality-steps", type=int, default=1000, help="Steps per projection in the quality table.")
    parser.add_argument("--psi", type=float, default=0.7, help="Truncation of the known latents.")
    parser.add_argument("--sweep", default="125,250,500,1000", help="Step counts compared (empty: skip).")
    parser.add_argument(
        "--variant",
        dest="variants",
        type=parse_variant,
        action="append",
        default=[],
        help="Extra schedule swept too, e.g. lr=0.3,latent_noise=0 (repeatable).",
    )
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.sweep = [int(s) for s in args.sweep.split(",") if s]
    for option in ("heldout_spaces", "generated_spaces"):
        spaces = [s for s in getattr(args, option).split(",") if s]
        if unknown := set(spaces) - {"w", "w+", "w+noise"}:
            parser.error(f"unknown --{option.replace('_', '-')} {', '.join(sorted(unknown))} (use w, w+, w+noise)")
        setattr(args, option, spaces)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if not args.skip_timing:
        timing_table(args, device)
    if not args.skip_quality:
        quality_table(args, device)


if __name__ == "__main__":
    main()
