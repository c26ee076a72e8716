"""Which reconstruction objective a projection uses, chosen explicitly and said in one line.

The rule for `auto`: LPIPS-VGG when torchvision's VGG16 weights are in the torch hub cache; otherwise a registered
download-free feature extractor that applies to the network (built in: the bundled attribute classifier, for
SynthFaces models); otherwise the checkpoint's discriminator features; otherwise pixel MSE. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from stylegan_edit.generators import Network
from stylegan_edit.perceptual.losses import PerceptualLoss, auto_perceptual_loss, lpips_weights_path, perceptual_loss

PIXEL_LOSSES = ("mse", "l1")


@dataclass(frozen=True)
class LossChoice:
    """The projection objective, the perceptual distance reported in the metrics (None: not available), and why."""

    perceptual: PerceptualLoss | None
    perceptual_weight: float
    mse_weight: float
    l1_weight: float
    metric: PerceptualLoss | None
    name: str
    reason: str

    def describe(self) -> str:
        """One line for the user, e.g. `loss: lpips-vgg (auto: torchvision's VGG16 weights are at ...)`."""
        return f"loss: {self.name} ({self.reason})"


def choose_loss(spec: str, network: Network) -> LossChoice:
    """`spec` (`auto`, `mse`, `l1`, `lpips`, `lpips-alex`, `lpips-squeeze`, `disc`, or a registered extractor's
    name) -> the objective for `network`. A one-line `ValueError` when the named loss cannot be had."""
    if spec in PIXEL_LOSSES:
        metric = auto_perceptual_loss(network, log_fallback=False)
        weights = (1.0, 0.0) if spec == "mse" else (0.0, 1.0)
        return LossChoice(None, 0.0, *weights, metric, spec, "chosen with --loss")
    if spec != "auto":
        loss = perceptual_loss(spec, network)
        return LossChoice(loss, 1.0, 0.0, 0.0, loss, loss.name, "chosen with --loss")
    loss = auto_perceptual_loss(network, log_fallback=False)
    vgg = lpips_weights_path("vgg")
    if loss is None:
        reason = f"auto: no VGG16 weights at {vgg} and the checkpoint has no discriminator; nothing is downloaded"
        return LossChoice(None, 0.0, 1.0, 0.0, None, "mse", reason)
    if loss.name.startswith("lpips"):
        reason = f"auto: torchvision's VGG16 weights are at {vgg}"
    else:
        source = "the checkpoint's discriminator" if loss.name == "disc" else f"the {loss.name!r} feature extractor"
        reason = f"auto: no VGG16 weights at {vgg}, nothing is downloaded; using {source}"
    return LossChoice(loss, 1.0, 0.0, 0.0, loss, loss.name, reason)
