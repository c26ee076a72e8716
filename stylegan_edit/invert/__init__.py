"""GAN inversion by optimisation (Image2StyleGAN, arXiv:1904.03189): the projector, its batched L-BFGS and
schedules, and FFHQ-style face alignment."""

from stylegan_edit.invert.projector import ProjectionResult, ProjectionStep, Projector

__all__ = ["ProjectionResult", "ProjectionStep", "Projector"]
