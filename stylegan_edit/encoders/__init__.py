"""Encoders that invert images in one pass: pSp (arXiv:2008.00951) and e4e (arXiv:2102.02766), and their training."""

from stylegan_edit.encoders.checkpoint import load_encoder, read_encoder, save_encoder
from stylegan_edit.encoders.config import EncoderConfig, check_generator, generator_fingerprint
from stylegan_edit.encoders.encoder import E4EEncoder, PSPEncoder, StyleEncoder, build_encoder, encoder_for
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
    "LatentDiscriminator",
    "PSPEncoder",
    "StyleEncoder",
    "build_encoder",
    "check_generator",
    "encoder_for",
    "generator_fingerprint",
    "load_encoder",
    "read_encoder",
    "run_encoder_training",
    "save_encoder",
]
