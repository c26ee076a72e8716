"""Which reconstruction objective a projection uses, chosen by name or by the `auto` rule, and why, in one line.

The `auto` rule: LPIPS-VGG when torchvision's VGG16 weights are in the torch hub cache (`checkpoints/vgg16-397923af.pth`
under `torch.hub.get_dir()`); otherwise the first registered download-free feature extractor that applies to the
network (built in: the bundled attribute classifier, for SynthFaces networks); otherwise the checkpoint's
discriminator features; otherwise pixel MSE. Nothing is ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from stylegan_edit.generators import Network
from stylegan_edit.perceptual.losses import (
    LPIPS_LOSSES,
    FeatureLoss,
    PerceptualLoss,
    feature_extractor,
    feature_extractor_description,
    lpips_weights_path,
    perceptual_loss,
    registered_feature_extractors,
)

PIXEL_LOSSES = ("mse", "l1")


@dataclass(frozen=True)
class LossChoice:
    """The projection objective (`perceptual` times `perceptual_weight` plus the pixel terms), the perceptual
    distance reported in the metrics (`metric`; None: not available), the loss's `name` and the `reason`."""

    perceptual: PerceptualLoss | None
    perceptual_weight: float
    mse_weight: float
    l1_weight: float
    metric: PerceptualLoss | None
    name: str
    reason: str

    def describe(self) -> str:
        """One line for the user, e.g. `loss: lpips-vgg (auto: torchvision's VGG16 weights are at <path>)`."""
        return f"loss: {self.name} ({self.reason})"


def loss_names() -> list[str]:
    """Every name `choose_loss` accepts, `auto` first; registered extractors included."""
    return ["auto", *PIXEL_LOSSES, *LPIPS_LOSSES, "disc", *registered_feature_extractors()]


def choose_loss(spec: str, network: Network) -> LossChoice:
    """`spec` (one of `loss_names()`: `auto`, `mse`, `l1`, `lpips`, `lpips-vgg`, `lpips-alex`, `lpips-squeeze`,
    `disc` or a registered extractor's name) -> the objective for `network`. Logs nothing; a one-line
    `ValueError` when the name is unknown or the named loss cannot be had (it names the missing file)."""
    if spec not in loss_names():
        raise ValueError(f"unknown loss {spec!r} (choose from {', '.join(loss_names())})")
    if spec == "auto":
        return _auto(network)
    if spec in PIXEL_LOSSES:
        weights = (1.0, 0.0) if spec == "mse" else (0.0, 1.0)
        return LossChoice(None, 0.0, *weights, _auto(network).perceptual, spec, "chosen explicitly")
    return _perceptual(perceptual_loss(spec, network), "chosen explicitly")


def _auto(network: Network) -> LossChoice:
    """The module docstring's rule, step by step; each reason names what the earlier steps looked for."""
    vgg = lpips_weights_path("vgg")
    if vgg.is_file():
        return _perceptual(perceptual_loss("lpips-vgg", network), f"auto: torchvision's VGG16 weights are at {vgg}")
    missing = f"auto: no VGG16 weights at {vgg}, nothing is downloaded"
    extractors = registered_feature_extractors()
    for name in extractors:
        extractor = feature_extractor(name, network)
        if extractor is not None:
            return _perceptual(FeatureLoss(extractor, name), f"{missing}; using {feature_extractor_description(name)}")
    names = ", ".join(extractors) or "none registered"
    not_applicable = f"no feature extractor ({names}) applies to this network"
    if network.discriminator is not None:
        reason = f"{missing}; {not_applicable}, so using the checkpoint's discriminator features"
        return _perceptual(FeatureLoss(network.discriminator.features, "disc"), reason)
    reason = f"{missing}; {not_applicable} and the checkpoint has no discriminator, so pixel MSE only"
    return LossChoice(None, 0.0, 1.0, 0.0, None, "mse", reason)


def _perceptual(loss: PerceptualLoss, reason: str) -> LossChoice:
    return LossChoice(loss, 1.0, 0.0, 0.0, loss, loss.name, reason)


def auto_perceptual_loss(network: Network) -> PerceptualLoss | None:
    """The perceptual loss `choose_loss("auto", network)` picks, or None for pixel MSE only. Logs nothing: a caller
    that wants to say why uses `choose_loss(...).describe()`."""
    return choose_loss("auto", network).perceptual
