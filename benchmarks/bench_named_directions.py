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

from stylegan_edit.bundled import resolve_network
from stylegan_edit.checkpoints import load_generator
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.editors import LinearEdit
from stylegan_edit.editors.direction import bundled_directions, load_direction
from stylegan_edit.editors.sampling import attribute_scorer
from stylegan_edit.latents import Latents, LatentSpace


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
        z = torch.randn(args.num, generator.z_dim)
        w = Latents(generator.mapping(z, truncation_psi=args.psi)[:, 0], LatentSpace.W)
        before = score(generator.synthesis(w.to_w_plus(generator.num_ws).tensor, noise_mode="const"))
        print(f"Bundled directions on {args.num} faces of {args.network} (psi {args.psi}), strength {args.strength:+g}")
        print("| direction | SVM accuracy | share positive before | after | logit change |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for column, name in enumerate(ATTRIBUTES):
            direction = load_direction(bundled_directions()[name], generator=generator)
            edited = LinearEdit(direction, args.strength)(w, num_ws=generator.num_ws).to_w_plus(generator.num_ws)
            after = score(generator.synthesis(edited.tensor, noise_mode="const"))
            share_before = float((before[:, column] > 0).float().mean())
            share_after = float((after[:, column] > 0).float().mean())
            change = float((after[:, column] - before[:, column]).mean())
            accuracy = direction.statistics.get("accuracy", float("nan"))
            print(f"| {name} | {accuracy:.3f} | {share_before:.2f} | {share_after:.2f} | {change:+.2f} |")


if __name__ == "__main__":
    main()
