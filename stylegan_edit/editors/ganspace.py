"""GANSpace (arXiv:2004.02546): principal components of sampled W codes as edit directions, applied to a layer
range (the paper's `E(v_i, j-k)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import torch

from stylegan_edit.editors.direction import Direction, GeneratorSignature
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace


class GANSpace:
    """PCA (scikit-learn) on W codes; each unit component becomes a direction carrying its std.

    layers: the W+ range the edits apply to (`E(v_i, j-k)`); None edits every layer.
    Learned: `mean_ [w_dim]`, `components_ [n, w_dim]` (unit rows), `stds_ [n]`,
    `explained_variance_ratio_ [n]`, `directions_` (named `pc0`, `pc1`, ...).
    """

    def __init__(
        self,
        *,
        n_components: int = 10,
        layers: Sequence[int] | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.layers = layers
        self.random_state = random_state

    def fit(self, latents: Latents, *, generator: AnyGenerator | None = None) -> Self:
        """latents: W codes `[N, w_dim]` (the paper uses 10^6; thousands suffice for the top components)."""
        from sklearn.decomposition import PCA

        if latents.space is not LatentSpace.W:
            raise ValueError(f"GANSpace runs PCA on W codes, got {latents.space.value} latents")
        limit = min(len(latents), latents.dim)
        if not 1 <= self.n_components <= limit:
            raise ValueError(f"n_components must be between 1 and {limit} for these latents, got {self.n_components}")
        if generator is not None and self.layers is not None and max(self.layers, default=0) >= generator.num_ws:
            raise ValueError(f"layer {max(self.layers)} is out of range: the generator has {generator.num_ws} layers")
        pca = PCA(n_components=self.n_components, random_state=self.random_state)
        pca.fit(latents.tensor.detach().cpu().double().numpy())
        components = torch.from_numpy(pca.components_).float()
        components = components / components.norm(dim=1, keepdim=True)
        self.mean_ = torch.from_numpy(pca.mean_).float()
        self.components_ = components
        self.stds_ = torch.from_numpy(pca.explained_variance_).float().sqrt()
        self.explained_variance_ratio_ = torch.from_numpy(pca.explained_variance_ratio_).float()
        signature = GeneratorSignature.of(generator) if generator is not None else None
        layers = tuple(self.layers) if self.layers is not None else None
        self.directions_ = [
            Direction(
                vector=components[i],
                space=LatentSpace.W,
                name=f"pc{i}",
                method="ganspace",
                hyperparameters=self.get_params(),
                layers=layers,
                statistics={
                    "std": float(self.stds_[i]),
                    "explained_variance_ratio": float(self.explained_variance_ratio_[i]),
                    "num_samples": float(len(latents)),
                },
                generator=signature,
            )
            for i in range(self.n_components)
        ]
        return self

    def get_params(self) -> dict[str, object]:
        return {
            "n_components": self.n_components,
            "layers": list(self.layers) if self.layers is not None else None,
            "random_state": self.random_state,
        }
