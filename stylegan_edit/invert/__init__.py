"""GAN inversion by optimisation (Image2StyleGAN, arXiv:1904.03189), its losses, and FFHQ-style face alignment."""

from stylegan_edit.invert.losses import (
    FeatureLoss,
    LPIPSLoss,
    PerceptualLoss,
    auto_perceptual_loss,
    perceptual_loss,
    register_feature_extractor,
)
from stylegan_edit.invert.projector import ProjectionResult, ProjectionStep, Projector, render
from stylegan_edit.invert.wstats import WStats, w_stats

__all__ = [
    "FeatureLoss",
    "LPIPSLoss",
    "PerceptualLoss",
    "ProjectionResult",
    "ProjectionStep",
    "Projector",
    "WStats",
    "auto_perceptual_loss",
    "perceptual_loss",
    "register_feature_extractor",
    "render",
    "w_stats",
]
