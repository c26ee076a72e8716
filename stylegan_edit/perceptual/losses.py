"""Reconstruction losses for projection: pixel MSE / L1 and perceptual distances that never download anything.

LPIPS (Zhang et al., arXiv:1801.03924) runs on torchvision trunk weights already in the torch hub cache; the other
distances use LPIPS's recipe (unit-normalised channels, squared difference, spatial mean, summed over layers) on
download-free features: a registered extractor's or the discriminator's. Which one runs: `perceptual.choice`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.generators import Network

# torchvision's ImageNet weights each LPIPS trunk needs, as named in the torch hub cache.
LPIPS_TRUNK_FILES = {
    "vgg": "vgg16-397923af.pth",
    "alex": "alexnet-owt-7be5be79.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}
LPIPS_MAX_SIDE = 256  # NVIDIA's projector area-downsamples larger images to 256 px before VGG
LPIPS_MIN_SIDE = 64  # the AlexNet and SqueezeNet trunks cannot pool smaller images
LPIPS_LOSSES = {"lpips": "vgg", "lpips-vgg": "vgg", "lpips-alex": "alex", "lpips-squeeze": "squeeze"}

FeatureExtractor = Callable[[Tensor], list[Tensor]]
FeatureExtractorFactory = Callable[[Network], FeatureExtractor | None]
_EXTRACTORS: dict[str, tuple[FeatureExtractorFactory, str]] = {}  # name -> (factory, description)


def mse_loss(images: Tensor, targets: Tensor) -> Tensor:
    """Per-image mean squared error `[N]` of images in [-1, 1]."""
    return (images - targets).square().mean(dim=(1, 2, 3))


def l1_loss(images: Tensor, targets: Tensor) -> Tensor:
    """Per-image mean absolute error `[N]` of images in [-1, 1]."""
    return (images - targets).abs().mean(dim=(1, 2, 3))


def register_feature_extractor(name: str, factory: FeatureExtractorFactory, *, description: str = "") -> None:
    """Offer a download-free feature network as a perceptual loss named `name`.

    `factory(network)` returns a callable `images [N, 3, H, W] in [-1, 1] -> list of [N, C, h, w] features`, or
    None when it does not apply to that network (another domain). `auto` tries registered extractors, in
    registration order, before the discriminator. `description` ends `auto`'s reason when it picks this one
    (default: "the '<name>' features").
    """
    if name in ("auto", "disc", "mse", "l1") or name.startswith("lpips"):
        raise ValueError(f"{name!r} is a built-in loss name")
    _EXTRACTORS[name] = (factory, description or f"the {name!r} features")


def registered_feature_extractors() -> list[str]:
    """The registered extractors' names, in the order `auto` tries them."""
    return list(_EXTRACTORS)


def feature_extractor(name: str, network: Network) -> FeatureExtractor | None:
    """The registered extractor `name` for `network`, or None when it does not apply to that network."""
    return _EXTRACTORS[name][0](network)


def feature_extractor_description(name: str) -> str:
    """What the registered extractor `name` is, in words, e.g. "the bundled attribute classifier's features"."""
    return _EXTRACTORS[name][1]


class PerceptualLoss(nn.Module):
    """A per-image perceptual distance; `name` records which one produced a number.

    Under `torch.autocast` (bfloat16, as the projector's `low_precision` runs it) the feature networks'
    convolutions run in bfloat16; the built-in losses normalise, weight and sum the features in float32.
    """

    name: str = "perceptual"

    def target_features(self, targets: Tensor) -> list[Tensor]:
        """Features of fixed targets, computed once per projection."""
        raise NotImplementedError

    def distance(self, images: Tensor, target_features: list[Tensor]) -> Tensor:
        """Distance `[N]` from `images [N, 3, H, W]` in [-1, 1] to precomputed target features."""
        raise NotImplementedError

    def forward(self, images: Tensor, targets: Tensor) -> Tensor:
        return self.distance(images, self.target_features(targets))


def _unit_channels(features: Tensor, eps: float = 1e-10) -> Tensor:
    features = features.float()  # a trunk run under bfloat16 autocast: normalise and compare in float32
    return features / (features.square().sum(dim=1, keepdim=True).sqrt() + eps)


class FeatureLoss(PerceptualLoss):
    """LPIPS's recipe without learned weights on any feature pyramid: sum over layers of the spatial mean of
    the squared difference of channel-normalised features."""

    def __init__(self, extractor: FeatureExtractor, name: str) -> None:
        super().__init__()
        self.extractor = extractor
        self.name = name

    def target_features(self, targets: Tensor) -> list[Tensor]:
        with torch.no_grad():
            return [_unit_channels(f) for f in self.extractor(targets)]

    def distance(self, images: Tensor, target_features: list[Tensor]) -> Tensor:
        total = torch.zeros(images.shape[0], device=images.device)
        for feature, target in zip(self.extractor(images), target_features, strict=True):
            total = total + (_unit_channels(feature) - target).square().sum(dim=1).mean(dim=(1, 2))
        return total


def lpips_weights_path(trunk: str) -> Path:
    """Where torchvision keeps the ImageNet weights of an LPIPS trunk (`vgg`, `alex`, `squeeze`)."""
    if trunk not in LPIPS_TRUNK_FILES:
        raise ValueError(f"unknown LPIPS trunk {trunk!r} (choose from {', '.join(LPIPS_TRUNK_FILES)})")
    return Path(torch.hub.get_dir()) / "checkpoints" / LPIPS_TRUNK_FILES[trunk]


class LPIPSLoss(PerceptualLoss):
    """LPIPS v0.1 (the `lpips` package's learned linear layers) on a trunk read from the torch hub cache.

    Inputs in [-1, 1]; images larger than 256 px are area-downsampled to 256 (NVIDIA), smaller than 64 px
    bilinearly upsampled to 64: the trunk runs at most at 256 px whatever the generator's size. Raises
    `ValueError` when the trunk weights are not cached; never downloads.
    """

    def __init__(self, trunk: str = "vgg") -> None:
        super().__init__()
        path = lpips_weights_path(trunk)
        if not path.is_file():
            raise ValueError(
                f"LPIPS-{trunk} needs torchvision's ImageNet weights at {path} (nothing is downloaded); "
                "put the file there or choose another loss"
            )
        import warnings

        import lpips

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's deprecation notes about `pretrained`
            model = lpips.LPIPS(net=trunk, pnet_rand=True, verbose=False)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"cannot read the LPIPS trunk weights {path}: {exc}") from None
        trunk_state = {}
        for key in model.net.state_dict():
            match = re.fullmatch(r"slice\d+\.(\d+)\.(.+)", key)
            assert match is not None
            source = f"features.{match.group(1)}.{match.group(2)}"
            if source not in state:
                raise ValueError(f"{path} is not torchvision's {trunk} checkpoint (no {source})")
            trunk_state[key] = state[source]
        model.net.load_state_dict(trunk_state, strict=True)
        self.model = model.eval().requires_grad_(False)
        self.name = f"lpips-{trunk}"

    def _features(self, images: Tensor) -> list[Tensor]:
        side = images.shape[-1]
        if side > LPIPS_MAX_SIDE:
            images = F.interpolate(images, size=(LPIPS_MAX_SIDE, LPIPS_MAX_SIDE), mode="area")
        elif side < LPIPS_MIN_SIDE:
            images = F.interpolate(images, size=(LPIPS_MIN_SIDE, LPIPS_MIN_SIDE), mode="bilinear", align_corners=False)
        images = self.model.scaling_layer(images)
        if torch.is_autocast_enabled(images.device.type):
            images = images.contiguous(memory_format=torch.channels_last)  # oneDNN's faster bfloat16 layout
        return [_unit_channels(f) for f in self.model.net(images)]

    def target_features(self, targets: Tensor) -> list[Tensor]:
        with torch.no_grad():
            return self._features(targets)

    def distance(self, images: Tensor, target_features: list[Tensor]) -> Tensor:
        total = torch.zeros(images.shape[0], device=images.device)
        features = self._features(images)
        with torch.autocast(images.device.type, enabled=False):  # the learned weights and the sum in float32
            for lin, feature, target in zip(self.model.lins, features, target_features, strict=True):
                total = total + lin((feature - target.float()).square()).mean(dim=(1, 2, 3))
        return total


def perceptual_loss(kind: str, network: Network) -> PerceptualLoss:
    """The perceptual loss `kind` for `network`, or a one-line `ValueError` saying why it cannot be had.

    kind: `lpips` (= `lpips-vgg`), `lpips-alex`, `lpips-squeeze`, `disc` (the checkpoint's discriminator
    features) or a registered extractor's name.
    """
    if kind in LPIPS_LOSSES:
        return LPIPSLoss(LPIPS_LOSSES[kind]).to(network.generator.device)
    if kind == "disc":
        discriminator = network.discriminator
        if discriminator is None:
            raise ValueError("the checkpoint has no discriminator, so the 'disc' loss is unavailable; use --loss mse")
        return FeatureLoss(discriminator.features, "disc")
    if kind in _EXTRACTORS:
        extractor = feature_extractor(kind, network)
        if extractor is None:
            raise ValueError(f"the {kind!r} features do not apply to this network")
        return FeatureLoss(extractor, kind)
    known = [*LPIPS_LOSSES, "disc", *_EXTRACTORS]
    raise ValueError(f"unknown perceptual loss {kind!r} (choose from {', '.join(known)})")


def is_synthfaces_network(network: Network) -> bool:
    """Whether a checkpoint's metadata says it was trained on SynthFaces (the classifier's domain), or blended
    from such models (the bundled names appear in a blend's `made_by`)."""
    data = network.metadata.get("data", "")
    return data.startswith("synthfaces") or "synthfaces" in network.metadata.get("made_by", "")


def _classifier_features(network: Network) -> FeatureExtractor | None:
    """The bundled classifier's `feature_maps` for SynthFaces networks (a download-free perceptual feature
    pyramid), or None for other domains or when the classifier is not installed."""
    # Imported on use: the classifier file is read only when a projection asks for it.
    from stylegan_edit.classifiers.attributes import BUNDLED_CLASSIFIER, load_classifier

    if not is_synthfaces_network(network) or not BUNDLED_CLASSIFIER.is_file():
        return None
    return load_classifier(device=network.generator.device).feature_maps


register_feature_extractor(
    "classifier", _classifier_features, description="the bundled attribute classifier's features (a SynthFaces network)"
)
