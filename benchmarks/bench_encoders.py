"""Encoder inversion against projection: time per image and quality on held-out SynthFaces renders.

Rows: pSp and e4e (one forward pass), projection in w+ (the baseline, `--projection-steps`, NVIDIA's schedule as
`project` runs it) and encoder + projection refinement (`--refine-steps`, what
`project --preset encoder-lbfgs` does).
Columns: milliseconds per image, speed-up over projection, PSNR, SSIM, the perceptual distance (`auto`: LPIPS or
its download-free fallback) and attribute agreement (the share of binary SynthFaces attributes on which the
bundled classifier gives the reconstruction the target's ground-truth label; `-` without the classifier).
Targets are SynthFaces photo renders from the classifier's held-out seeds (`heldout.py`).

Without `--network` the bundled synthfaces-64 model is used when it is installed, else a random network of its
architecture; without `--psp` / `--e4e` the bundled encoders, else untrained ones (a smoke run of the code path).

A second table measures editability (`editability.py`): the bundled directions applied to each method's codes.

    python benchmarks/bench_encoders.py --num-images 100 --projection-steps 1000 --refine-steps 100
    python benchmarks/bench_encoders.py --num-images 4 --projection-steps 20 --refine-steps 5 --threads 1  # smoke
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import partial
from typing import TypeVar

import torch
from editability import load_bundled_directions, measure_editability, print_editability
from heldout import attribute_agreement, held_out_faces, open_network
from torch import Tensor

from stylegan_edit.editors import LinearEdit
from stylegan_edit.editors.direction import Direction
from stylegan_edit.editors.sampling import attribute_scorer
from stylegan_edit.encoders import StyleEncoder, encoder_for, load_encoder
from stylegan_edit.generators import Generator, Network
from stylegan_edit.images import make_grid, save_pil
from stylegan_edit.invert import Projector
from stylegan_edit.invert.initial import Init
from stylegan_edit.invert.schedule import NVIDIA, REFINE, Schedule
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.perceptual import auto_perceptual_loss
from stylegan_edit.perceptual.losses import PerceptualLoss
from stylegan_edit.perceptual.reconstruction import reconstruction_metrics

T = TypeVar("T")


def open_encoder(spec: str | None, arch: str, network: Network, network_name: str) -> tuple[StyleEncoder, str]:
    device = network.generator.device
    try:
        return load_encoder(spec or arch, network=network_name, device=device), spec or f"bundled {arch}"
    except ValueError:
        if spec is not None:
            raise
    encoder = encoder_for(network.generator, arch)  # type: ignore[arg-type]
    return encoder.eval().requires_grad_(False), f"untrained {arch}"


def timed(function: Callable[[], T], device: torch.device) -> tuple[T, float]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def encode_all(encoder: StyleEncoder, targets: Tensor, batch: int) -> Latents:
    parts = [encoder.encode(targets[i : i + batch]).tensor for i in range(0, len(targets), batch)]
    return Latents(torch.cat(parts), LatentSpace.W_PLUS)


def project_all(
    network: Network,
    targets: Tensor,
    perceptual: PerceptualLoss | None,
    steps: int,
    init: Init,
    *,
    batch: int,
    schedule: Schedule = NVIDIA,
    optimizer: str = "adam",
    mse_weight: float = 0.0,
) -> tuple[Tensor, Latents]:
    """Reconstructions and codes after a w+ projection of `steps` steps from `init` (None: the mean W)."""
    projector = Projector(
        space="w+",
        num_steps=steps,
        **asdict(schedule),
        optimizer=optimizer,
        perceptual=perceptual,
        perceptual_weight=1.0 if perceptual is not None else 0.0,
        mse_weight=mse_weight if perceptual is not None else 1.0,
    )
    images, codes = [], []
    for start in range(0, len(targets), batch):
        result = projector.project(network.generator, targets[start : start + batch], init, seed_offset=start)
        images.append(result.images)
        codes.append(result.latents.tensor)
    return torch.cat(images), Latents(torch.cat(codes), LatentSpace.W_PLUS)


def print_gaps(psnrs: dict[str, Tensor], baseline: str) -> None:
    """Per-image PSNR shortfall of every other row against the baseline, paired on the same targets: mean (what
    the target is stated in) with its standard error, median, and the share of the total from the worst tenth."""
    print("\nPSNR short of the baseline, per target (paired):")
    print("| method | mean gap (dB) | standard error | median | share of the worst 10% |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, values in psnrs.items():
        if label == baseline:
            continue
        gaps = psnrs[baseline] - values
        error = float(gaps.std()) / len(gaps) ** 0.5 if len(gaps) > 1 else float("nan")
        worst = gaps.sort(descending=True).values[: max(1, len(gaps) // 10)]
        share = f"{float(worst.sum() / gaps.sum()):.0%}" if float(gaps.sum()) > 0 else "-"
        print(f"| {label} | {float(gaps.mean()):.2f} | {error:.2f} | {float(gaps.median()):.2f} | {share} |")


def write_figure(
    args: argparse.Namespace,
    generator: Generator,
    targets: Tensor,
    rows: list[tuple[str, Tensor, float]],
    encoder_codes: dict[str, Latents],
    direction: Direction,
) -> None:
    """Rows: the targets, every method's reconstructions, then each encoder's codes edited along
    `--figure-direction` at +`--edit-strength`. Columns: the first `--figure-count` targets."""
    count = args.figure_count
    tiles = [targets[:count].cpu()] + [images[:count].cpu() for _, images, _ in rows]
    edit = LinearEdit(direction, args.edit_strength)
    with torch.no_grad():
        for latents in encoder_codes.values():
            edited = edit(latents[:count], num_ws=generator.num_ws).to_w_plus(generator.num_ws)
            tiles.append(generator.synthesis(edited.tensor.to(generator.device), noise_mode="const").cpu())
    save_pil(make_grid(torch.cat(tiles), ncols=count), args.figure)
    names = ["targets", *(label for label, _, _ in rows)]
    names += [f"{label} {args.figure_direction} +{args.edit_strength:g}" for label in encoder_codes]
    print(f"\nwrote {args.figure}; rows: " + ", ".join(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default=None, help="Checkpoint or bundled name (default: synthfaces-64).")
    parser.add_argument("--psp", default=None, help="pSp encoder checkpoint (default: the bundled one).")
    parser.add_argument("--e4e", default=None, help="e4e encoder checkpoint (default: the bundled one).")
    parser.add_argument("--num-images", type=int, default=100, help="Held-out SynthFaces renders.")
    parser.add_argument(
        "--skip-images", type=int, default=0, help="Take the targets after this many held-out renders (another set)."
    )
    parser.add_argument(
        "--projection-steps", type=int, default=1000, help="Steps of the projection baseline (0: no baseline)."
    )
    parser.add_argument(
        "--refine-steps", type=int, default=100, help="Projection steps after an encoder (0: no refinement)."
    )
    parser.add_argument("--batch", type=int, default=16, help="Images per encoder / projection batch.")
    parser.add_argument(
        "--projection-optimizer",
        choices=("adam", "lbfgs"),
        default="adam",
        help="Optimizer of the projection baseline: adam (NVIDIA's schedule, `project`'s default) or lbfgs.",
    )
    parser.add_argument(
        "--refine-optimizer",
        choices=("adam", "lbfgs"),
        default="lbfgs",
        help="Optimizer of the refinement (lbfgs as the encoder-lbfgs preset, adam as encoder-adam). The lr and "
        "latent-noise options below apply to adam.",
    )
    parser.add_argument("--refine-lr", type=float, default=REFINE.lr, help="Peak lr of the refinement.")
    parser.add_argument("--refine-lr-rampup", type=float, default=REFINE.lr_rampup, help="Its lr ramp-up (fraction).")
    parser.add_argument(
        "--refine-lr-rampdown", type=float, default=REFINE.lr_rampdown, help="Its lr ramp-down (fraction)."
    )
    parser.add_argument(
        "--refine-latent-noise",
        type=float,
        default=REFINE.latent_noise,
        help="Initial latent noise of the refinement. The defaults are the `encoder-adam` preset's schedule.",
    )
    parser.add_argument(
        "--mse-weight",
        type=float,
        default=0.0,
        help="Add a pixel MSE term of this weight to the perceptual objective of the projection and the refinement "
        "(an experiment: `project` minimises the perceptual distance alone).",
    )
    parser.add_argument(
        "--edit-strength", type=float, default=2.0, help="Editability: strength of the bundled directions (0: skip)."
    )
    parser.add_argument("--figure", default=None, help="Write a PNG: targets, each row's reconstructions, edits.")
    parser.add_argument("--figure-direction", default="age", help="Bundled direction the figure's edit rows apply.")
    parser.add_argument("--figure-count", type=int, default=8, help="Targets (columns) in the figure.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    network, network_name = open_network(args.network, device)
    generator = network.generator
    targets, labels = held_out_faces(args.num_images, generator.img_resolution, skip=args.skip_images)
    targets = targets.to(device)
    perceptual = auto_perceptual_loss(network)
    agreement = attribute_agreement(device)
    rows: list[tuple[str, Tensor, float]] = []
    codes: dict[str, Latents] = {}
    encoder_labels: list[str] = []
    project = partial(project_all, network, targets, perceptual, batch=args.batch, mse_weight=args.mse_weight)
    if args.projection_steps > 0:
        projection = f"projection w+ {args.projection_steps}" + (
            " lbfgs" if args.projection_optimizer == "lbfgs" else ""
        )
        # L-BFGS takes no latent noise (nor an lr): NVIDIA's schedule without it.
        baseline_schedule = NVIDIA if args.projection_optimizer == "adam" else replace(NVIDIA, latent_noise=0.0)
        (baseline, baseline_codes), seconds = timed(
            partial(
                project, args.projection_steps, None, schedule=baseline_schedule, optimizer=args.projection_optimizer
            ),
            device,
        )
        rows.append((f"{projection} steps (baseline)", baseline, seconds))
        codes[f"{projection} steps"] = baseline_codes
    refine_schedule = Schedule(args.refine_lr, args.refine_lr_rampup, args.refine_lr_rampdown, args.refine_latent_noise)
    if args.refine_optimizer == "lbfgs":
        refine_schedule = replace(refine_schedule, latent_noise=0.0)
    refine = partial(project, args.refine_steps, schedule=refine_schedule, optimizer=args.refine_optimizer)
    for arch, spec in (("psp", args.psp), ("e4e", args.e4e)):
        encoder, label = open_encoder(spec, arch, network, network_name)
        encoder.check_generator(generator, label)
        encode_all(encoder, targets[: args.batch], args.batch)  # warm-up
        latents, seconds = timed(partial(encode_all, encoder, targets, args.batch), device)
        with torch.no_grad():
            images = torch.cat([generator.synthesis(part) for part in latents.tensor.split(args.batch)])
        rows.append((label, images, seconds))
        codes[label] = latents
        encoder_labels.append(label)
        if args.refine_steps > 0:
            (refined, refined_codes), refine_seconds = timed(partial(refine, encoder.encode), device)
            rows.append((f"{label} + {args.refine_steps} {args.refine_optimizer} steps", refined, refine_seconds))
            codes[f"{label} + {args.refine_steps} {args.refine_optimizer} steps"] = refined_codes
    metric_name = perceptual.name if perceptual is not None else "-"
    print(
        f"\nInversion of {args.num_images} held-out SynthFaces renders"
        + (f" (after the first {args.skip_images})" if args.skip_images else "")
        + f", {network_name} ({device}, "
        f"{torch.get_num_threads()} threads); perceptual column: {metric_name}"
    )
    print("| method | ms / image | speed-up | PSNR (dB) | SSIM | perceptual | attribute agreement |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    has_baseline = args.projection_steps > 0
    base_time = rows[0][2] if has_baseline else None
    psnrs: dict[str, Tensor] = {}
    for label, images, seconds in rows:
        metrics = reconstruction_metrics(images, targets, perceptual)
        psnrs[label] = metrics["psnr"].cpu()
        perceptual_text = f"{float(metrics['perceptual'].mean()):.4f}" if "perceptual" in metrics else "-"
        agreement_text = f"{agreement(images, labels):.3f}" if agreement is not None else "-"
        speed_up = f"{base_time / seconds:.1f}x" if base_time is not None else "-"
        print(
            f"| {label} | {1000 * seconds / args.num_images:.2f} | {speed_up} | {float(psnrs[label].mean()):.2f} | "
            f"{float(metrics['ssim'].mean()):.4f} | {perceptual_text} | {agreement_text} |"
        )
    if has_baseline:
        print(f"\nTargets: encoders >= 100x faster than {args.projection_steps}-step projection; encoder + refinement")
        print(f"within 0.5 dB of it (baseline {float(psnrs[rows[0][0]].mean()):.2f} dB).")
        print_gaps(psnrs, rows[0][0])
    edits = args.edit_strength > 0 and agreement is not None
    directions = {d.name: d for d in load_bundled_directions(generator)} if args.figure or edits else {}
    if args.figure:
        encoder_codes = {label: codes[label] for label in encoder_labels}
        write_figure(args, generator, targets, rows, encoder_codes, directions[args.figure_direction])
    if edits:
        names = tuple(directions)
        scorer = attribute_scorer(names, device=device)
        edit_rows = measure_editability(
            generator,
            scorer,
            names,
            list(directions.values()),
            codes,
            strength=args.edit_strength,
            reference=args.num_images,
        )
        print_editability(edit_rows, args.edit_strength)


if __name__ == "__main__":
    main()
