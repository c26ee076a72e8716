"""Perceptual distances that never download anything (LPIPS, feature distances on the classifier's or the
discriminator's features), pixel losses, reconstruction metrics (PSNR, SSIM), and the choice among them."""

from stylegan_edit.perceptual.choice import LossChoice, auto_perceptual_loss, choose_loss, loss_names
from stylegan_edit.perceptual.losses import (
    FeatureLoss,
    LPIPSLoss,
    PerceptualLoss,
    perceptual_loss,
    register_feature_extractor,
)
from stylegan_edit.perceptual.reconstruction import mse, psnr, reconstruction_metrics, ssim

__all__ = [
    "FeatureLoss",
    "LPIPSLoss",
    "LossChoice",
    "PerceptualLoss",
    "auto_perceptual_loss",
    "choose_loss",
    "loss_names",
    "mse",
    "perceptual_loss",
    "psnr",
    "reconstruction_metrics",
    "register_feature_extractor",
    "ssim",
]
