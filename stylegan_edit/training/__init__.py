"""Training StyleGAN2 (arXiv:1912.04958, config e): options, losses, data, resumable state, the trainer and its run."""

from stylegan_edit.training.data import ImageFolder, StepBatches, open_dataset
from stylegan_edit.training.distributed import Distributed, setup_distributed, shutdown_distributed
from stylegan_edit.training.loop import Progress, run_training
from stylegan_edit.training.options import PRESETS, TrainingOptions, preset
from stylegan_edit.training.state import LoadedState, load_state, save_state
from stylegan_edit.training.trainer import StepStats, Trainer

__all__ = [
    "PRESETS",
    "Distributed",
    "ImageFolder",
    "LoadedState",
    "Progress",
    "StepBatches",
    "StepStats",
    "Trainer",
    "TrainingOptions",
    "load_state",
    "open_dataset",
    "preset",
    "run_training",
    "save_state",
    "setup_distributed",
    "shutdown_distributed",
]
