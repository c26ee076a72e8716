"""Latent editing: directions (InterFaceGAN, GANSpace, SeFa, and the community's files), applying them, and mixing
whole models."""

from stylegan_edit.editors.blend import blend_layers, check_same_architecture, interpolate_models
from stylegan_edit.editors.community import read_community_direction
from stylegan_edit.editors.direction import (
    Direction,
    GeneratorSignature,
    load_direction,
)
from stylegan_edit.editors.edit import ComponentEdit, LinearEdit, make_edit
from stylegan_edit.editors.ganspace import GANSpace
from stylegan_edit.editors.interfacegan import InterFaceGAN, conditional_direction
from stylegan_edit.editors.sampling import ScoredSamples, load_scores, sample_and_score, sample_latents
from stylegan_edit.editors.sefa import SeFa, style_layers

__all__ = [
    "ComponentEdit",
    "Direction",
    "GANSpace",
    "GeneratorSignature",
    "InterFaceGAN",
    "LinearEdit",
    "ScoredSamples",
    "SeFa",
    "blend_layers",
    "check_same_architecture",
    "conditional_direction",
    "interpolate_models",
    "load_direction",
    "load_scores",
    "make_edit",
    "read_community_direction",
    "sample_and_score",
    "sample_latents",
    "style_layers",
]
