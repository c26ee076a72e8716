"""Layer swapping measured with the attribute classifier: which model gives the structure, which the rendering.

The same latents go through the photo model A, its toon fine-tune B, and layer-swapped blends. Columns: the
style head's mean toon probability (rendering), and per attribute the share of faces on which the blend's label
equals A's (the low-resolution model for `A<res B>=res`). The paper's claim, in numbers: a blend renders like
the model of its high-resolution blocks and keeps pose, smile and age of the model of its low-resolution blocks.
The unblended models are the baselines, measured in the same run. Every model maps with A's mapping network.

    python benchmarks/bench_blend.py                          # bundled synthfaces-64 and synthfaces-toon-64
    python benchmarks/bench_blend.py --a A.pkl --b B.pkl --num 500
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor

from stylegan_edit.assets import resolve_network
from stylegan_edit.classifiers.attributes import AttributeClassifier, load_classifier
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.editors import blend_layers
from stylegan_edit.formats.native import load_generator
from stylegan_edit.generators import Generator


def labels_and_toon(
    generator: Generator, w: Tensor, classifier: AttributeClassifier, batch: int
) -> tuple[Tensor, Tensor]:
    """Binary attribute labels `[N, 7]` and toon probabilities `[N]` of the images of `w`."""
    columns = [classifier.index(name) for name in ATTRIBUTES]
    toon = classifier.index("toon")
    labels, toon_prob = [], []
    with torch.no_grad():
        for part in w.split(batch):
            logits = classifier(generator.synthesis(part, noise_mode="const"))
            labels.append(logits[:, columns] > 0)
            toon_prob.append(torch.sigmoid(logits[:, toon]))
    return torch.cat(labels), torch.cat(toon_prob)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", default="synthfaces-64", help="Model A (structure; photo).")
    parser.add_argument("--b", default="synthfaces-toon-64", help="Model B (rendering; toon).")
    parser.add_argument("--swap-res", default="16,32", help="Swap resolutions to measure.")
    parser.add_argument("--num", type=int, default=500, help="Faces per model.")
    parser.add_argument("--psi", type=float, default=1.0, help="Truncation.")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model_a = load_generator(resolve_network(args.a)).eval()
    model_b = load_generator(resolve_network(args.b)).eval()
    classifier = load_classifier().eval()
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(args.num, model_a.z_dim, generator=generator)
    with torch.no_grad():
        w = torch.cat([model_a.mapping(part, truncation_psi=args.psi) for part in z.split(args.batch)])
    models: list[tuple[str, Generator]] = [(f"A = {args.a} (baseline)", model_a), (f"B = {args.b} (baseline)", model_b)]
    for swap_res in (int(s) for s in args.swap_res.split(",") if s):
        models.append((f"A<{swap_res} B>={swap_res}", blend_layers(model_a, model_b, swap_res)))
        models.append((f"B<{swap_res} A>={swap_res}", blend_layers(model_b, model_a, swap_res)))
    results = {name: labels_and_toon(model, w, classifier, args.batch) for name, model in models}
    labels_a = results[models[0][0]][0]
    labels_b = results[models[1][0]][0]
    print(f"\nLayer swapping on {args.num} shared latents (psi {args.psi}, A's mapping); agreement = share of faces")
    print("whose label equals A's (in brackets: B's)")
    header = " | ".join(ATTRIBUTES)
    print(f"| model | P(toon) | {header} |")
    print("| --- | ---: |" + " ---: |" * len(ATTRIBUTES))
    for name, (labels, toon_prob) in results.items():
        agree_a = (labels == labels_a).float().mean(0)
        agree_b = (labels == labels_b).float().mean(0)
        cells = " | ".join(f"{a:.2f} ({b:.2f})" for a, b in zip(agree_a.tolist(), agree_b.tolist(), strict=True))
        print(f"| {name} | {float(toon_prob.mean()):.3f} | {cells} |")


if __name__ == "__main__":
    main()
