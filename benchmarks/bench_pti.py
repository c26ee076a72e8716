"""Pivotal Tuning Inversion (arXiv:2106.05744) against its pivot, with W+ projection as the reference, measured in
one run on held-out SynthFaces renders (`heldout.py`) and on skimage's astronaut (FFHQ-aligned when dlib finds the
face).

Per image: PSNR and the perceptual distance of the W projection (the pivot), of PTI (that pivot and the generator
tuned around it, one generator per image as PTI's single-image mode; `--joint` adds the held-out set tuned as one
generator), and of W+ projection; dlib's identity similarity where it finds faces; seconds of tuning per image on
this CPU; and whether an `age` edit of the pivot still moves the attribute: the bundled classifier's age logit
at `-strength`, 0 and `+strength` along `age`, rendered by the base and by the tuned generator.

    python benchmarks/bench_pti.py                                     # 5 renders + astronaut, default steps
    python benchmarks/bench_pti.py --num-images 2 --steps 100 --tune-steps 50   # smoke run
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from heldout import held_out_faces
from torch import Tensor

from stylegan_edit.classifiers import load_classifier
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.generators.sampling import render
from stylegan_edit.latents import Latents
from stylegan_edit.workflow.editing import edit
from stylegan_edit.workflow.inversion import Inversion, project


def _astronaut() -> object:
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut())


@torch.no_grad()
def _age(generator: AnyGenerator, latents: Latents) -> Tensor:
    classifier = load_classifier()
    return classifier(render(generator, latents))[:, classifier.index("age")]


def _row(label: str, values: dict[str, list[float]]) -> str:
    cells = [f"{label:<26}"]
    for key in ("psnr", "perceptual", "identity", "seconds"):
        numbers = [v for v in values.get(key, []) if not math.isnan(v)]
        cells.append(f"{statistics.fmean(numbers):>10.3f}" if numbers else f"{'-':>10}")
    return " ".join(cells)


def _collect(result: Inversion, pivot: bool = False) -> dict[str, list[float]]:
    metrics = result.tuning.pivot_metrics if pivot and result.tuning is not None else result.metrics
    out: dict[str, list[float]] = {k: metrics[k].tolist() for k in ("psnr", "perceptual", "identity") if k in metrics}
    if result.tuning is not None and not pivot:
        out["seconds"] = [result.tuning.seconds / len(result.latents)] * len(result.latents)
    return out


def _merge(into: dict[str, list[float]], more: dict[str, list[float]]) -> None:
    for key, values in more.items():
        into.setdefault(key, []).extend(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=5, help="held-out SynthFaces renders")
    parser.add_argument("--steps", type=int, default=1000, help="projection steps (W pivot and W+ reference)")
    parser.add_argument("--tune-steps", type=int, default=350)
    parser.add_argument("--tune-lr", type=float, default=3e-4)
    parser.add_argument("--strength", type=float, default=2.0, help="age edit strength")
    parser.add_argument("--joint", action="store_true", help="also tune one generator for all held-out renders")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    renders, _ = held_out_faces(args.num_images, 64)
    sets: dict[str, list[object]] = {
        "held-out renders": [renders[k : k + 1] for k in range(args.num_images)],
        "astronaut": [[_astronaut()]],
    }
    tuning = {"tune_steps": args.tune_steps, "tune_lr": args.tune_lr}
    for name, images in sets.items():
        rows: dict[str, dict[str, list[float]]] = {"W projection (pivot)": {}, "PTI": {}, "W+ projection": {}}
        strengths = (-args.strength, 0.0, args.strength)
        ages: dict[str, list[list[float]]] = {"base": [], "tuned": []}
        for image in images:
            tuned = project(None, image, space="w", num_steps=args.steps, tune=True, **tuning)  # type: ignore[arg-type]
            reference = project(None, image, space="w+", num_steps=args.steps)  # type: ignore[arg-type]
            for note in tuned.notes:
                print(note)
            _merge(rows["W projection (pivot)"], _collect(tuned, pivot=True))
            _merge(rows["PTI"], _collect(tuned))
            _merge(rows["W+ projection"], _collect(reference))
            assert tuned.tuning is not None
            edits = [edit(tuned.latents, "age", s, generator=tuned.tuning.base) for s in strengths]
            for which, generator in (("base", tuned.tuning.base), ("tuned", tuned.tuning.generator)):
                ages[which] += [[float(_age(generator, e)[0]) for e in edits]]
        if args.joint and name == "held-out renders":
            began = time.perf_counter()
            joint = project(None, renders, space="w", num_steps=args.steps, tune=True, **tuning)
            rows["PTI, one generator for all"] = _collect(joint)
            print(f"joint tuning of {len(renders)} images: {time.perf_counter() - began:.1f} s in all")
        print(f"\n{name} ({len(images)} images; perceptual: the objective's distance; seconds: tuning per image)")
        print(f"{'':<26} {'PSNR dB':>10} {'perceptual':>10} {'identity':>10} {'seconds':>10}")
        for label, values in rows.items():
            print(_row(label, values))
        for which, logits in ages.items():
            means = [statistics.fmean(column) for column in zip(*logits, strict=True)]
            described = ", ".join(f"{s:+g}: {m:.2f}" for s, m in zip(strengths, means, strict=True))
            print(f"age logit by the {which} generator along age ({described})")


if __name__ == "__main__":
    main()
