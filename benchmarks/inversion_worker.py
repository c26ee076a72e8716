"""One job of `bench_inversion.py`, in its own process: read an image set, load what the metrics need, reset the
memory peak, run one inversion method, then measure its reconstructions and edits and write them as JSON."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch
from editability import load_bundled_directions
from heldout import held_out_faces, open_network
from inversion_methods import MethodResult, Settings, method
from peak_memory import current_mib, peak_mib, reset_peak
from real_faces import astronaut, lfw_faces
from torch import Tensor

from stylegan_edit.editors.sampling import attribute_scorer, sample_z
from stylegan_edit.generators import Network
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.metrics.fidelity import EditFidelity, measure_edit_fidelity
from stylegan_edit.perceptual.choice import choose_loss
from stylegan_edit.perceptual.reconstruction import identity_metric, reconstruction_metrics
from stylegan_edit.workflow.targets import read_targets

FAST_SECONDS = 5.0  # a method this quick for the whole set is timed again, warm


def image_set(name: str, args: argparse.Namespace, resolution: int) -> tuple[Tensor, list[str]]:
    """The set's targets `[N, 3, R, R]` in [-1, 1] and what was done to each photo."""
    if name == "renders":
        return held_out_faces(args.num_renders, resolution)[0], []
    photos = [astronaut()] if name == "astronaut" else lfw_faces(args.lfw)
    read = read_targets(photos, resolution)
    return read.images, list(read.notes)


def editing(network: Network, edit: str) -> tuple[Any, list[str], Any] | None:
    """(scorer, attribute names, the `edit` direction); None without the classifier or fitting directions."""
    try:
        directions = {d.name: d for d in load_bundled_directions(network.generator)}
        names = list(directions)
        return attribute_scorer(names), names, directions[edit]
    except (ValueError, KeyError):
        return None


def editability(result: MethodResult, edit: tuple[Any, list[str], Any], strength: float) -> tuple[float, float]:
    """The edit's target logit change and leakage per unit strength, each code rendered by its generator (PTI and
    HyperStyle: one per image), averaged over the codes."""
    scorer, names, direction = edit
    strengths = (-strength, 0.0, strength)
    if len(result.generators) == 1:
        groups = [(result.generators[0], result.latents)]
    else:
        groups = [(generator, result.latents[k : k + 1]) for k, generator in enumerate(result.generators)]
    parts: list[tuple[int, EditFidelity]] = [
        (
            len(codes),
            measure_edit_fidelity(generator, scorer, names, direction, codes, strengths, target=direction.name),
        )
        for generator, codes in groups
    ]
    total = sum(count for count, _ in parts)
    logit = sum(count * f.target_logit for count, f in parts) / total
    leakage = sum(count * f.mean_leakage for count, f in parts) / total
    return logit, leakage


def _mean(values: Tensor | None) -> tuple[float | None, int]:
    """Mean over the images in which dlib found faces, and their count (no `identity` entry: none found)."""
    if values is None:
        return None, 0
    found = values[~torch.isnan(values)]
    return (float(found.mean()) if len(found) else math.nan), len(found)


def work(args: argparse.Namespace, settings: Settings) -> None:
    torch.set_num_threads(args.threads)
    key, _, set_name = args.worker.partition(":")
    network, network_name = open_network(args.network, torch.device("cpu"))
    edit = editing(network, args.edit)
    record: dict[str, Any] = {"method": key, "set": set_name, "network": network_name}
    if key == "reference":
        z = sample_z(network.generator, args.reference_samples, seed=0)
        with torch.no_grad():
            codes = Latents(network.generator.mapping(z)[:, 0], LatentSpace.W)
        result = MethodResult(codes, torch.zeros(0), 0.0, [network.generator])
        record.update(num_images=len(codes), notes=[], setup_mib=current_mib())
    else:
        targets, notes = image_set(set_name, args, network.generator.img_resolution)
        choice = choose_loss("auto", network)
        # Load the metrics' models (the perceptual network, dlib's) before the peak is reset.
        reconstruction_metrics(targets[:1], targets[:1], choice.metric)
        identity_metric(targets[:1], targets[:1])
        entry = method(key)
        record.update(num_images=len(targets), notes=notes, setup_mib=current_mib(), memory_method=reset_peak())
        result = entry.run(network, targets, settings)
        record["peak_mib"] = peak_mib()
        if result.seconds < FAST_SECONDS:
            result = entry.run(network, targets, settings)
        # Every method's reconstructions measured by the same code, whatever its workflow reports.
        metrics = reconstruction_metrics(result.images, targets, choice.metric, identity=True)
        perceptual = metrics.get("perceptual")
        record.update(
            psnr=float(metrics["psnr"].mean()),
            perceptual=None if perceptual is None else float(perceptual.mean()),
            perceptual_name=choice.metric.name if choice.metric is not None else None,
            seconds_per_image=result.seconds / len(targets),
        )
        record["identity"], record["identity_found"] = _mean(metrics.get("identity"))
    if edit is not None:
        record["edit_logit"], record["leakage"] = editability(result, edit, args.strength)
    Path(args.result).write_text(json.dumps(record))
