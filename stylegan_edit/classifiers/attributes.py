"""The bundled SynthFaces attribute classifier: a small CNN with one logit per binary attribute plus the style
(photo vs toon). InterFaceGAN labelling, linear separability, edit fidelity, the classifier-feature FID and a
download-free perceptual loss all use it.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.assets import bundled, resolve
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.files import (
    CheckpointError,
    JsonConfig,
    build_strict,
    malformed,
    read_safetensors,
    write_safetensors,
)

CLASSIFIER_FORMAT = "stylegan-edit/attribute-classifier"
CLASSIFIER_FORMAT_VERSION = 1
BUNDLED_CLASSIFIER = bundled("classifier")["synthfaces-attributes"]
STYLE_HEAD = "toon"  # the style head's logit is positive for toon renders, negative for photo renders


@dataclass(frozen=True)
class ClassifierConfig(JsonConfig):
    """Architecture of an `AttributeClassifier`, stored with its weights.

    resolution: side the input is resized to; channels: stem width then one width per stride-2 stage;
    embedding_dim: width of the penultimate layer (`features`); attribute_names: one logit each.
    """

    resolution: int = 64
    channels: tuple[int, ...] = (16, 32, 48, 64, 96)
    embedding_dim: int = 128
    attribute_names: tuple[str, ...] = (*ATTRIBUTES, STYLE_HEAD)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "attribute_names", tuple(str(a) for a in self.attribute_names))
        if len(self.channels) < 2 or min(self.channels) < 1:
            raise ValueError(f"channels needs a stem and at least one stage of positive widths, got {self.channels}")
        if self.resolution < 2 ** (len(self.channels) - 1):
            raise ValueError(f"resolution {self.resolution} is too small for {len(self.channels) - 1} stages")
        if not self.attribute_names or len(set(self.attribute_names)) != len(self.attribute_names):
            raise ValueError(f"attribute names must be unique and non-empty, got {self.attribute_names}")


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class AttributeClassifier(nn.Module):
    """Images `[N, 3, H, W]` in [-1, 1] -> logits `[N, K]`, one per `attribute_names` entry (positive = present).

    A stem at full resolution, then stages of (stride-2 conv, conv), each with BatchNorm and ReLU; global average
    and max pooling (max keeps small parts such as teeth or glasses visible); a hidden layer (the `features`
    embedding); a linear head. Inputs of another size are resized to `config.resolution` (bilinear, antialiased).
    """

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ClassifierConfig()
        widths = config.channels
        self.stem = nn.Sequential(*_conv_bn_relu(3, widths[0], 1))
        self.stages = nn.ModuleList(
            nn.Sequential(*_conv_bn_relu(c_in, c_out, 2), *_conv_bn_relu(c_out, c_out, 1))
            for c_in, c_out in itertools.pairwise(widths)
        )
        self.embedding = nn.Sequential(nn.Linear(2 * widths[-1], config.embedding_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(config.embedding_dim, len(config.attribute_names))

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return self.config.attribute_names

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def index(self, name: str) -> int:
        """Column of attribute `name` in the logits; `ValueError` listing the known names otherwise."""
        if name not in self.attribute_names:
            raise ValueError(f"unknown attribute {name!r} (known: {', '.join(self.attribute_names)})")
        return self.attribute_names.index(name)

    def prepare(self, images: Tensor) -> Tensor:
        """Check `[N, 3, H, W]`, move to the classifier's device as float32, resize to `resolution`."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"the classifier takes RGB images [N, 3, H, W], got shape {list(images.shape)}")
        images = images.to(self.device, torch.float32)
        size = self.config.resolution
        if tuple(images.shape[-2:]) != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return images

    def feature_maps(self, images: Tensor) -> list[Tensor]:
        """Per-stage activations: the stem's `[N, C0, R, R]`, then one `[N, Ci, R / 2^i, R / 2^i]` per stage."""
        x = self.stem(self.prepare(images))
        maps = [x]
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps

    def features(self, images: Tensor) -> Tensor:
        """Penultimate embedding `[N, embedding_dim]` (non-negative), the space of the FID-style metric."""
        last = self.feature_maps(images)[-1]
        return self.embedding(torch.cat([last.mean(dim=(2, 3)), last.amax(dim=(2, 3))], dim=1))

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """`(features(images), forward(images))` from one pass."""
        features = self.features(images)
        return features, self.head(features)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))


def save_classifier(
    path: str | Path,
    classifier: AttributeClassifier,
    *,
    metadata: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float16,
) -> None:
    """Write the classifier as one `.safetensors` file (floating tensors in `dtype`), atomically."""
    meta = {
        **(metadata or {}),
        "format": CLASSIFIER_FORMAT,
        "format_version": str(CLASSIFIER_FORMAT_VERSION),
        "config": classifier.config.to_json(),
    }
    write_safetensors(path, classifier.state_dict(), meta, dtype=dtype)


def read_classifier(path: str | Path) -> tuple[AttributeClassifier, dict[str, str]]:
    """A classifier file's model (float32, eval mode) and metadata; `CheckpointError` naming the file and problem."""
    path = Path(path)
    tensors, meta = read_safetensors(
        path, what="stylegan-edit attribute classifier", format=CLASSIFIER_FORMAT, version=CLASSIFIER_FORMAT_VERSION
    )
    try:
        config = ClassifierConfig.from_json(meta["config"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path} has an invalid classifier config in its metadata: {exc}") from None
    with malformed(path, "stylegan-edit attribute classifier"):
        classifier = build_strict(lambda: AttributeClassifier(config), tensors, path)
    return classifier.eval().requires_grad_(False), meta


def load_classifier(path: str | Path | None = None, *, device: torch.device | str = "cpu") -> AttributeClassifier:
    """The classifier in `path` (None: the bundled one), in eval mode without gradients, cached per file and device.

    The cached module is shared: do not train or modify it (read the file with `read_classifier` for a copy).
    """
    if path is None:
        if not BUNDLED_CLASSIFIER.is_file():
            raise CheckpointError("the bundled attribute classifier is not in this installation")
        path = BUNDLED_CLASSIFIER
    resolved = resolve("classifier", path).resolve()
    mtime = resolved.stat().st_mtime_ns if resolved.is_file() else 0
    return _load_cached(str(resolved), mtime, str(torch.device(device)))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: int, device: str) -> AttributeClassifier:
    return read_classifier(path)[0].to(device)
