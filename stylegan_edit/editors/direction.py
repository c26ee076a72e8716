"""A latent direction and its file: the vector (Z, W or per-layer W+), how it was found, and which generator it fits.

File: one `.safetensors` with tensor `vector` (and `centre` for an axis) and JSON metadata (`format`,
`format_version`, name, method, hyperparameters, layers, statistics, the generator's config and mapping fingerprint,
and `generator_class` `stylegan3` for a StyleGAN3 generator's direction).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stylegan_edit.assets import resolve
from stylegan_edit.files import CheckpointError, read_safetensors, write_safetensors
from stylegan_edit.generators import AnyGenerator, AnyGeneratorConfig, config_from_json, generator_class
from stylegan_edit.generators.fingerprint import fingerprint
from stylegan_edit.latents import LatentSpace

logger = logging.getLogger(__name__)

DIRECTION_FORMAT = "stylegan-edit/direction"
DIRECTION_FORMAT_VERSION = 1
LOCAL_DIRECTIONS_DIR = Path("directions")


@dataclass(frozen=True)
class GeneratorSignature:
    """The generator a direction belongs to: its config (StyleGAN2 or StyleGAN3) and a fingerprint of its mapping
    network's weights."""

    config: AnyGeneratorConfig
    fingerprint: str

    @classmethod
    def of(cls, generator: AnyGenerator) -> GeneratorSignature:
        return cls(generator.config, fingerprint(generator.mapping))

    @property
    def family(self) -> str:
        """`stylegan2` or `stylegan3`."""
        return generator_class(self.config)


@dataclass(frozen=True, eq=False)
class Direction:
    """A direction in latent space (unit length when this toolkit found it; community files keep their scale).

    vector: Z `[z_dim]`, W `[w_dim]` or W+ `[num_ws, w_dim]` (one vector per layer), float32.
    layers: the W+ layers the direction is meant for (GANSpace's `E(v_i, j-k)`, SeFa's chosen layers);
        None means every layer.
    statistics: numbers measured while finding it (a component's std, an SVM's accuracy, an eigenvalue).
    generator: the generator it was found for; None for directions fitted on bare latents.
    centre: W `[w_dim]`, making the direction an axis (e4e's GANSpace components): an edit of strength s sets
        the code's coordinate `(w - centre) . vector / |vector|^2` to s (see `editors.edit.ComponentEdit`);
        None: an edit adds `strength * vector`.
    """

    vector: Tensor
    space: LatentSpace
    name: str
    method: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    layers: tuple[int, ...] | None = None
    statistics: dict[str, float] = field(default_factory=dict)
    generator: GeneratorSignature | None = None
    centre: Tensor | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "space", LatentSpace(self.space))
        object.__setattr__(self, "vector", self.vector.detach().to("cpu", torch.float32))
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(i) for i in self.layers))
        expected = 2 if self.space is LatentSpace.W_PLUS else 1
        if self.vector.ndim != expected:
            raise ValueError(
                f"a {self.space.value} direction needs a {expected}-d vector, got shape {list(self.vector.shape)}"
            )
        if not bool(torch.isfinite(self.vector).all()):
            raise ValueError(f"direction {self.name!r} has non-finite values")
        if self.space is LatentSpace.Z and self.layers is not None:
            raise ValueError("a z direction cannot be restricted to W+ layers")
        if self.centre is not None:
            object.__setattr__(self, "centre", self.centre.detach().to("cpu", torch.float32))
            if self.space is not LatentSpace.W or self.centre.shape != self.vector.shape:
                raise ValueError(
                    f"an axis needs a w direction and a centre of its shape, got {self.space.value} "
                    f"{list(self.vector.shape)} and centre {list(self.centre.shape)}"
                )
            if not bool(torch.isfinite(self.centre).all()) or not bool(self.vector.any()):
                raise ValueError(f"axis {self.name!r} needs a finite centre and a non-zero vector")

    @property
    def dim(self) -> int:
        return int(self.vector.shape[-1])

    @property
    def num_ws(self) -> int | None:
        """Number of W+ layers the direction is tied to, when it is known."""
        if self.space is LatentSpace.W_PLUS:
            return int(self.vector.shape[0])
        return self.generator.config.num_ws if self.generator is not None else None

    def renamed(self, name: str) -> Direction:
        return replace(self, name=name)

    def check_generator(self, generator: AnyGenerator, *, source: str | Path | None = None) -> None:
        """Raise a one-line `ValueError` naming each size that differs (`z_dim`, `w_dim`, `num_ws`) and the family
        (a direction found on a StyleGAN2 network does not fit a StyleGAN3 one, nor the other way round)."""
        mismatches = []
        if self.generator is not None and self.generator.family != generator_class(generator.config):
            mismatches.append(f"generator class {self.generator.family} vs {generator_class(generator.config)}")
        if self.space is LatentSpace.Z:
            if self.dim != generator.z_dim:
                mismatches.append(f"z_dim {self.dim} vs {generator.z_dim}")
        else:
            if self.dim != generator.w_dim:
                mismatches.append(f"w_dim {self.dim} vs {generator.w_dim}")
            if self.num_ws is not None and self.num_ws != generator.num_ws:
                mismatches.append(f"num_ws {self.num_ws} vs {generator.num_ws}")
        what = f"direction {self.name!r}" + (f" ({source})" if source else "")
        if mismatches:
            raise ValueError(f"{what} was found for another generator: {', '.join(mismatches)} (direction vs model)")
        if self.layers and max(self.layers) >= generator.num_ws:
            raise ValueError(f"{what} edits layer {max(self.layers)}, but the generator has {generator.num_ws} layers")
        if self.generator is not None and self.generator.fingerprint != fingerprint(generator.mapping):
            logger.warning("%s was found for a generator with another mapping network; edits may not transfer", what)

    def save(self, path: str | Path) -> None:
        """Write the direction as one `.safetensors` file, atomically."""
        meta = {
            "format": DIRECTION_FORMAT,
            "format_version": str(DIRECTION_FORMAT_VERSION),
            "name": self.name,
            "method": self.method,
            "space": self.space.value,
            "hyperparameters": json.dumps(self.hyperparameters, sort_keys=True),
            "layers": json.dumps(list(self.layers) if self.layers is not None else None),
            "statistics": json.dumps(self.statistics, sort_keys=True),
        }
        if self.generator is not None:
            if self.generator.family != "stylegan2":  # absent: StyleGAN2, as in network files
                meta["generator_class"] = self.generator.family
            meta["generator_config"] = self.generator.config.to_json()
            meta["generator_fingerprint"] = self.generator.fingerprint
        tensors = {"vector": self.vector} if self.centre is None else {"vector": self.vector, "centre": self.centre}
        write_safetensors(path, tensors, meta)


def load_direction(
    spec: str | Path,
    *,
    generator: AnyGenerator | None = None,
    search_dirs: Sequence[str | Path] = (LOCAL_DIRECTIONS_DIR,),
) -> Direction:
    """A direction by `spec`: a bundled direction's name (`age`), a file path, or a name in `search_dirs`
    (`./directions`, where `directions fit` writes). Community files are read in their projects' conventions
    (`editors.community`): InterFaceGAN `.npy` boundaries, e4e `.pt` directions, and component k of e4e's
    GANSpace `ffhq_pca.pt` or a GANSpace `.npz` as `FILE#k`. With `generator`, also check that the direction
    fits it (see `Direction.check_generator`)."""
    from stylegan_edit.editors.community import check_fits, community_spec, read_community_direction

    community = community_spec(spec)
    if community is not None:
        direction = read_community_direction(community)
        if generator is not None:
            check_fits(direction, generator, community.path)
            direction.check_generator(generator, source=community.path)
        return direction
    path = resolve("direction", spec, search_dirs=search_dirs)
    tensors, meta = read_safetensors(
        path, what="direction file", format=DIRECTION_FORMAT, version=DIRECTION_FORMAT_VERSION
    )
    if "vector" not in tensors:
        raise CheckpointError(f"{path} is a direction file without its 'vector' tensor")
    vector = tensors["vector"]
    try:
        layers = json.loads(meta.get("layers", "null"))
        signature = None
        if "generator_config" in meta:
            config = config_from_json(meta["generator_config"], meta.get("generator_class"))
            signature = GeneratorSignature(config, meta.get("generator_fingerprint", ""))
        direction = Direction(
            vector=vector,
            space=LatentSpace(meta["space"]),
            name=meta["name"],
            method=meta["method"],
            hyperparameters=json.loads(meta.get("hyperparameters", "{}")),
            layers=tuple(layers) if layers is not None else None,
            statistics=json.loads(meta.get("statistics", "{}")),
            generator=signature,
            centre=tensors.get("centre"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path} has invalid direction metadata: {exc}") from None
    if generator is not None:
        direction.check_generator(generator, source=path)
    return direction
