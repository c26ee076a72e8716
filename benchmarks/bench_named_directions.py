"""What each bundled named direction does at strength +2: the share of faces the classifier labels positive.

Faces are drawn in W (psi 0.7, torch seed 0), edited along each of `stylegan_edit/assets/directions/` with a
`LinearEdit` of the given strength, and scored by the bundled attribute classifier before and after. The SVM's
validation accuracy on the extremes (recorded in each direction) is printed beside it: where W does not separate
an attribute linearly, no hyperplane in W moves it.

    python benchmarks/bench_named_directions.py                      # 100 faces of synthfaces-64, strength 2
    python benchmarks/bench_named_directions.py --network G.pkl --num 500 --strength 3
"""

from __future__ import annotations

import argparse

import torch

from stylegan_edit.assets import bundled, resolve_network
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.editors.direction import load_direction
from stylegan_edit.editors.sampling import attribute_scorer
from stylegan_edit.formats.native import load_generator
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.metrics.fidelity import edit_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="synthfaces-64", help="Generator (the directions were fitted on it).")
    parser.add_argument("--num", type=int, default=100, help="Faces.")
    parser.add_argument("--psi", type=float, default=0.7, help="Truncation of the faces.")
    parser.add_argument("--strength", type=float, default=2.0, help="Edit strength (units of the unit direction).")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = load_generator(resolve_network(args.network)).eval()
    score = attribute_scorer(ATTRIBUTES)
    torch.manual_seed(0)
    with torch.no_grad():
        w = Latents(
            generator.mapping(torch.randn(args.num, generator.z_dim), truncation_psi=args.psi)[:, 0], LatentSpace.W
        )
    print(f"Bundled directions on {args.num} faces of {args.network} (psi {args.psi}), strength {args.strength:+g}")
    print("| direction | SVM accuracy | share positive before | after | logit change |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for column, name in enumerate(ATTRIBUTES):
        direction = load_direction(bundled("direction")[name], generator=generator)
        before, after = edit_scores(generator, score, w, direction, [0.0, args.strength])[:, :, column]
        accuracy = direction.statistics.get("accuracy", float("nan"))
        print(
            f"| {name} | {accuracy:.3f} | {float((before > 0).float().mean()):.2f} | "
            f"{float((after > 0).float().mean()):.2f} | {float((after - before).mean()):+.2f} |"
        )


if __name__ == "__main__":
    main()
