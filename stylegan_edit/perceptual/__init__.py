"""Perceptual distances that never download anything (LPIPS, NVIDIA's VGG16 recipe, feature distances on the
classifier's or discriminator's features), pixel losses, and reconstruction metrics (PSNR, SSIM)."""

from stylegan_edit.perceptual.losses import (
    FeatureLoss,
    LPIPSLoss,
    PerceptualLoss,
    auto_perceptual_loss,
    perceptual_loss,
    register_feature_extractor,
)
from stylegan_edit.perceptual.reconstruction import mse, psnr, reconstruction_metrics, ssim

__all__ = [
    "FeatureLoss",
    "LPIPSLoss",
    "PerceptualLoss",
    "auto_perceptual_loss",
    "mse",
    "perceptual_loss",
    "psnr",
    "reconstruction_metrics",
    "register_feature_extractor",
    "ssim",
]
