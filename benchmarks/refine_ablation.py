"""Variants of the encoder + refinement hybrid (`project --init encoder`) beyond what the projector exposes, each
compared per target with the first variant (paired mean, its standard error, and the mean PSNR).

A variant is a comma-separated list of `key=value` (`ref` alone: `invert.schedule.REFINE` as is):
    lr, rampup, rampdown     the schedule (REFINE's by default)
    beta1, beta2             Adam's betas (0.9, 0.999)
    coarse, fine             step-size multipliers for the first / last W+ layer, linear in between (1, 1)
    noise, noise_ramp        latent noise (times the W std) decaying over noise_ramp of the steps (0, 0.75)
    iterations               fixed-point corrections of the encoder's codes before refining:
                             w <- w + E(x) - E(G(w)) (0)
Targets are held-out SynthFaces renders (`heldout.py`); pick ones no README table uses (`--skip-images 200`).

    python benchmarks/refine_ablation.py --arch e4e --num-images 40 --skip-images 200 ref beta2=0.99 noise=0.02
"""

from __future__ import annotations

import argparse

import torch
from heldout import held_out_faces, open_network
from torch import Tensor

from stylegan_edit.encoders import StyleEncoder, load_encoder
from stylegan_edit.generators import Generator
from stylegan_edit.generators.wstats import w_stats
from stylegan_edit.invert.schedule import REFINE, latent_noise_scale, learning_rate
from stylegan_edit.perceptual import auto_perceptual_loss
from stylegan_edit.perceptual.losses import PerceptualLoss
from stylegan_edit.perceptual.reconstruction import reconstruction_metrics

DEFAULTS = {
    "lr": REFINE.lr,
    "rampup": REFINE.lr_rampup,
    "rampdown": REFINE.lr_rampdown,
    "beta1": 0.9,
    "beta2": 0.999,
    "coarse": 1.0,
    "fine": 1.0,
    "noise": 0.0,
    "noise_ramp": 0.75,
    "iterations": 0.0,
}


def parse_variant(spec: str) -> dict[str, float]:
    options = dict(DEFAULTS)
    for item in spec.split(","):
        if item == "ref":
            continue
        key, _, value = item.partition("=")
        if key not in DEFAULTS:
            raise SystemExit(f"unknown option {key!r} in {spec!r}; known: {', '.join(DEFAULTS)}")
        options[key] = float(value)
    return options


def fixed_point(generator: Generator, encoder: StyleEncoder, targets: Tensor, iterations: int) -> Tensor:
    with torch.no_grad():
        start = encoder.encode(targets).tensor
        codes = start.clone()
        for _ in range(iterations):
            codes = codes + start - encoder.encode(generator.synthesis(codes, noise_mode="const")).tensor
    return codes


def refine(
    generator: Generator, perceptual: PerceptualLoss, targets: Tensor, start: Tensor, o: dict[str, float], steps: int
) -> Tensor:
    """Reconstructions after `steps` Adam steps on an offset `d` (codes = start + multiplier * d)."""
    num_ws = generator.num_ws
    multiplier = torch.linspace(o["coarse"], o["fine"], num_ws).view(1, num_ws, 1)
    offset = torch.zeros_like(start).requires_grad_(True)
    optimizer = torch.optim.Adam([offset], betas=(o["beta1"], o["beta2"]))
    std = w_stats(generator, num_samples=10000, seed=123).std
    noise_stream = torch.Generator().manual_seed(303)
    features = perceptual.target_features(targets)
    for step in range(steps):
        t = step / steps
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(t, lr=o["lr"], rampup=o["rampup"], rampdown=o["rampdown"])
        codes = start + offset * multiplier
        scale = latent_noise_scale(t, std=std, strength=o["noise"], ramp=o["noise_ramp"])
        if scale > 0:
            codes = codes + torch.randn(codes.shape, generator=noise_stream) * scale
        images = generator.synthesis(codes, noise_mode="const", fused_modconv=False)
        (grad,) = torch.autograd.grad(perceptual.distance(images, features).sum(), [offset])
        offset.grad = grad
        optimizer.step()
    with torch.no_grad():
        return generator.synthesis(start + offset * multiplier, noise_mode="const")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", help="Variants; the first is the reference of the paired gaps.")
    parser.add_argument("--arch", default="psp", help="Bundled encoder (psp or e4e) or an encoder file.")
    parser.add_argument("--num-images", type=int, default=40)
    parser.add_argument("--skip-images", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = [(spec, parse_variant(spec)) for spec in args.variants]
    network, name = open_network(None, torch.device("cpu"))
    generator = network.generator
    targets, _ = held_out_faces(args.num_images, generator.img_resolution, skip=args.skip_images)
    encoder = load_encoder(args.arch, network=name, device=torch.device("cpu"))
    perceptual = auto_perceptual_loss(network)
    if perceptual is None:
        raise SystemExit("no perceptual loss for this network")
    print(f"{args.arch}, {args.num_images} held-out renders after the first {args.skip_images}, {args.steps} steps")
    print("| variant | PSNR (dB) | gain over the first (paired) | standard error |")
    print("| --- | ---: | ---: | ---: |")
    reference: Tensor | None = None
    for spec, options in variants:
        start = fixed_point(generator, encoder, targets, int(options["iterations"]))
        images = refine(generator, perceptual, targets, start, options, args.steps)
        psnr = reconstruction_metrics(images, targets, None)["psnr"]
        reference = psnr if reference is None else reference
        gain = psnr - reference
        error = float(gain.std()) / len(gain) ** 0.5 if len(gain) > 1 else float("nan")
        print(f"| {spec} | {float(psnr.mean()):.2f} | {float(gain.mean()):+.2f} | {error:.2f} |", flush=True)


if __name__ == "__main__":
    main()
