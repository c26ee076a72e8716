"""Encoders that invert images in one pass: pSp (arXiv:2008.00951) and e4e (arXiv:2102.02766), and their training."""

from stylegan_edit.encoders.checkpoint import load_encoder, read_encoder, save_encoder
from stylegan_edit.encoders.config import EncoderConfig, check_generator, generator_fingerprint
from stylegan_edit.encoders.encoder import (
    E4EEncoder,
    IterativeEncoder,
    PSPEncoder,
    StyleEncoder,
    build_encoder,
    encoder_for,
    restyle_from,
)
from stylegan_edit.encoders.hyper_trainer import HyperStyleTrainer
from stylegan_edit.encoders.hyperstyle import HyperStyle, HyperStyleResult, build_hyperstyle, materialise
from stylegan_edit.encoders.hyperstyle_config import HyperStyleConfig, HyperStyleTrainingOptions
from stylegan_edit.encoders.hyperstyle_files import read_hyperstyle, save_hyperstyle
from stylegan_edit.encoders.latent_discriminator import LatentDiscriminator
from stylegan_edit.encoders.loop import EncoderProgress, run_encoder_training
from stylegan_edit.encoders.options import EncoderTrainingOptions
from stylegan_edit.encoders.trainer import EncoderStepStats, EncoderTrainer

__all__ = [
    "E4EEncoder",
    "EncoderConfig",
    "EncoderProgress",
    "EncoderStepStats",
    "EncoderTrainer",
    "EncoderTrainingOptions",
    "HyperStyle",
    "HyperStyleConfig",
    "HyperStyleResult",
    "HyperStyleTrainer",
    "HyperStyleTrainingOptions",
    "IterativeEncoder",
    "LatentDiscriminator",
    "PSPEncoder",
    "StyleEncoder",
    "build_encoder",
    "build_hyperstyle",
    "check_generator",
    "encoder_for",
    "generator_fingerprint",
    "load_encoder",
    "materialise",
    "read_encoder",
    "read_hyperstyle",
    "restyle_from",
    "run_encoder_training",
    "save_encoder",
    "save_hyperstyle",
]
