"""A latent direction and its file: the vector (Z, W or per-layer W+), how it was found, and which generator it fits.

File: one `.safetensors` with tensor `vector` and JSON metadata (`format`, `format_version`, name, method,
hyperparameters, layers, statistics, and the generator's config plus a fingerprint of its mapping weights).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stylegan_edit.atomic import atomic_path
from stylegan_edit.bundled import ASSETS
from stylegan_edit.generators import Generator, GeneratorConfig
from stylegan_edit.latents import LatentSpace

logger = logging.getLogger(__name__)

DIRECTION_FORMAT = "stylegan-edit/direction"
DIRECTION_FORMAT_VERSION = 1
BUNDLED_DIRECTIONS_DIR = ASSETS / "directions"
LOCAL_DIRECTIONS_DIR = Path("directions")


@dataclass(frozen=True)
class GeneratorSignature:
    """The generator a direction belongs to: its config and a fingerprint of its mapping network's weights."""

    config: GeneratorConfig
    fingerprint: str

    @classmethod
    def of(cls, generator: Generator) -> GeneratorSignature:
        return cls(generator.config, mapping_fingerprint(generator))


def mapping_fingerprint(generator: Generator) -> str:
    """16 hex digits of SHA-256 over the mapping network's tensors (float32, sorted by name).

    Two generators share W exactly when their mapping networks agree, so this names "the same W space";
    a fine-tuned model that kept its mapping (a toon model, a blend) keeps the fingerprint.
    """
    digest = hashlib.sha256()
    for key, value in sorted(generator.mapping.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Direction:
    """A unit direction in latent space.

    vector: Z `[z_dim]`, W `[w_dim]` or W+ `[num_ws, w_dim]` (one vector per layer), float32.
    layers: the W+ layers the direction is meant for (GANSpace's `E(v_i, j-k)`, SeFa's chosen layers);
        None means every layer.
    statistics: numbers measured while finding it (a component's std, an SVM's accuracy, an eigenvalue).
    generator: the generator it was found for; None for directions fitted on bare latents.
    """

    vector: Tensor
    space: LatentSpace
    name: str
    method: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    layers: tuple[int, ...] | None = None
    statistics: dict[str, float] = field(default_factory=dict)
    generator: GeneratorSignature | None = None

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

    def check_generator(self, generator: Generator, *, source: str | Path | None = None) -> None:
        """Raise a one-line `ValueError` naming each size that differs (`z_dim`, `w_dim`, `num_ws`)."""
        mismatches = []
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
        if self.generator is not None and self.generator.fingerprint != mapping_fingerprint(generator):
            logger.warning("%s was found for a generator with another mapping network; edits may not transfer", what)

    def save(self, path: str | Path) -> None:
        """Write the direction as one `.safetensors` file, atomically."""
        from safetensors.torch import save_file

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
            meta["generator_config"] = self.generator.config.to_json()
            meta["generator_fingerprint"] = self.generator.fingerprint
        with atomic_path(path) as tmp:
            save_file({"vector": self.vector.contiguous()}, str(tmp), metadata=meta)


def load_direction(path: str | Path, *, generator: Generator | None = None) -> Direction:
    """Read a direction file; with `generator`, also check that the direction fits it (see `check_generator`)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such direction file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
            vector = handle.get_tensor("vector") if "vector" in handle.keys() else None  # noqa: SIM118
    except Exception as exc:  # safetensors raises SafetensorError, OSError or RuntimeError
        raise ValueError(f"{path} is not a readable direction file ({exc})") from None
    if meta.get("format") != DIRECTION_FORMAT or vector is None:
        raise ValueError(f"{path} is not a stylegan-edit direction file (format {meta.get('format')!r})")
    version = int(meta.get("format_version", "0"))
    if version != DIRECTION_FORMAT_VERSION:
        raise ValueError(f"{path} has direction format version {version}; this stylegan-edit reads version 1")
    try:
        layers = json.loads(meta.get("layers", "null"))
        signature = None
        if "generator_config" in meta:
            config = GeneratorConfig.from_json(meta["generator_config"])
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
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} has invalid direction metadata: {exc}") from None
    if generator is not None:
        direction.check_generator(generator, source=path)
    return direction


def bundled_directions() -> dict[str, Path]:
    """Named directions shipped with the package (`assets/directions/<name>.safetensors`), by name."""
    if not BUNDLED_DIRECTIONS_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(BUNDLED_DIRECTIONS_DIR.glob("*.safetensors"))}


def resolve_direction(spec: str | Path, *, search_dirs: Sequence[str | Path] = (LOCAL_DIRECTIONS_DIR,)) -> Path:
    """A direction file for `spec`: an existing file, a bundled direction's name, or a name in `search_dirs`.

    `search_dirs` defaults to `./directions`, where `directions fit` writes, so `--direction sefa0` finds
    `./directions/sefa0.safetensors`; bundled names come first.
    """
    path = Path(spec)
    if path.is_file():
        return path
    known = dict(bundled_directions())
    for folder in search_dirs:
        if Path(folder).is_dir():
            for file in sorted(Path(folder).glob("*.safetensors")):
                known.setdefault(file.stem, file)
    if str(spec) in known:
        return known[str(spec)]
    if path.suffix == ".safetensors" or len(path.parts) > 1:
        raise ValueError(f"{path}: no such direction file")
    names = ", ".join(known) if known else "none are bundled in this installation yet"
    raise ValueError(f"unknown direction {str(spec)!r} (known: {names}); or pass a direction file")
