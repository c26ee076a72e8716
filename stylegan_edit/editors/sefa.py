"""SeFa (arXiv:2007.06600): closed-form directions, the top eigenvectors of `A^T A` where A stacks the
style-modulation weights (affine layers) of the chosen synthesis layers, of StyleGAN2 or of StyleGAN3
(arXiv:2106.12423: its alias-free layers; the Fourier input's affine map is a transform, not a modulation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import torch
from torch import Tensor

from stylegan_edit.editors.direction import Direction, GeneratorSignature
from stylegan_edit.generators import AnyGenerator, Generator
from stylegan_edit.generators.alias_free import AliasFreeLayer
from stylegan_edit.generators.layers import SynthesisLayer, ToRGBLayer
from stylegan_edit.latents import LatentSpace


@dataclass(frozen=True, eq=False)
class StyleLayer:
    """A modulated layer of the synthesis network with the W+ index that drives it; resolution: a StyleGAN2
    block's, or a StyleGAN3 layer's output sampling rate."""

    index: int
    resolution: int
    module: SynthesisLayer | ToRGBLayer | AliasFreeLayer

    @property
    def is_torgb(self) -> bool:
        return isinstance(self.module, ToRGBLayer) or (isinstance(self.module, AliasFreeLayer) and self.module.is_torgb)

    def modulation(self) -> Tensor:
        """The affine map w -> styles as a matrix `[in_channels, w_dim]` (`affine.weight * affine.weight_gain`)."""
        affine = self.module.affine
        return affine.weight.detach() * affine.weight_gain


def style_layers(generator: AnyGenerator) -> list[StyleLayer]:
    """Every `SynthesisLayer` and `ToRGBLayer` (StyleGAN2, found by type) or `AliasFreeLayer` (StyleGAN3), with
    its W+ index.

    StyleGAN2: within a block the convolutions take consecutive indices and the torgb the index after them, which
    the next block's conv0 shares (so the last index drives only the final torgb). StyleGAN3: layer `L{i}` is driven
    by index i + 1 (the last, its ToRGB, alone); index 0 drives only the Fourier input, which has no modulation.
    """
    if not isinstance(generator, Generator):
        return [StyleLayer(i + 1, layer.out_sampling_rate, layer) for i, layer in enumerate(generator.synthesis.layers)]
    found = []
    w_index = 0
    for block in generator.synthesis.blocks:
        children = list(block.children())
        convs = [m for m in children if isinstance(m, SynthesisLayer)]
        torgbs = [m for m in children if isinstance(m, ToRGBLayer)]
        found += [StyleLayer(w_index + i, block.resolution, conv) for i, conv in enumerate(convs)]
        found += [StyleLayer(w_index + len(convs), block.resolution, torgb) for torgb in torgbs]
        w_index += len(convs)
    return sorted(found, key=lambda layer: (layer.index, layer.is_torgb))


def modulation_matrix(
    generator: AnyGenerator,
    *,
    layers: Sequence[int] | None = None,
    include_torgb: bool = False,
    normalize: bool = True,
) -> tuple[Tensor, list[StyleLayer]]:
    """A `[sum of channels, w_dim]` float64: the chosen layers' modulation matrices stacked, and those layers.

    layers: W+ indices (None: all); include_torgb: also the torgb layers at those indices; normalize: scale each
    row (one modulated channel) to unit norm, as the official SeFa code does before the eigendecomposition.
    """
    chosen = [
        layer
        for layer in style_layers(generator)
        if (layers is None or layer.index in layers) and (include_torgb or not layer.is_torgb)
    ]
    if layers is not None:
        bad = sorted(set(layers) - set(range(generator.num_ws)))
        if bad:
            raise ValueError(f"layer {bad[0]} is out of range: the generator has {generator.num_ws} layers")
    if not chosen:
        raise ValueError(
            "no modulated layers selected (the last index drives only a torgb: add include_torgb; on StyleGAN3, "
            "index 0 drives the Fourier input, which has no style modulation)"
        )
    matrix = torch.cat([layer.modulation().double().cpu() for layer in chosen])
    if normalize:
        matrix = matrix / matrix.norm(dim=1, keepdim=True)
    return matrix, chosen


class SeFa:
    """Closed-form factorisation: directions are the eigenvectors of `A^T A` with the largest eigenvalues.

    Learned: `eigenvalues_ [n]` (descending), `components_ [n, w_dim]` (unit rows), `layers_` (the W+ indices
    whose modulation weights were used, which the directions are applied to), `directions_` (`sefa0`, ...).
    """

    def __init__(
        self,
        *,
        n_components: int = 5,
        layers: Sequence[int] | None = None,
        include_torgb: bool = False,
        normalize: bool = True,
    ) -> None:
        self.n_components = n_components
        self.layers = layers
        self.include_torgb = include_torgb
        self.normalize = normalize

    def fit(self, generator: AnyGenerator) -> Self:
        if not 1 <= self.n_components <= generator.w_dim:
            raise ValueError(f"n_components must be between 1 and {generator.w_dim}, got {self.n_components}")
        matrix, chosen = modulation_matrix(
            generator, layers=self.layers, include_torgb=self.include_torgb, normalize=self.normalize
        )
        eigenvalues, eigenvectors = torch.linalg.eigh(matrix.T @ matrix)
        order = torch.argsort(eigenvalues, descending=True)[: self.n_components]
        components = eigenvectors[:, order].T
        # eigh's signs are arbitrary; make each component's largest entry positive so refits agree.
        signs = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
        components = (components * signs).float()
        self.eigenvalues_ = eigenvalues[order].float()
        self.components_ = components
        self.layers_ = tuple(sorted({layer.index for layer in chosen}))
        signature = GeneratorSignature.of(generator)
        self.directions_ = [
            Direction(
                vector=components[i],
                space=LatentSpace.W,
                name=f"sefa{i}",
                method="sefa",
                hyperparameters=self.get_params(),
                layers=self.layers_,
                statistics={"eigenvalue": float(self.eigenvalues_[i])},
                generator=signature,
            )
            for i in range(self.n_components)
        ]
        return self

    def get_params(self) -> dict[str, object]:
        return {
            "n_components": self.n_components,
            "layers": list(self.layers) if self.layers is not None else None,
            "include_torgb": self.include_torgb,
            "normalize": self.normalize,
        }
