"""The workflow API, what a user imports first: project / encode photos into latents, edit and render them,
generate from seeds, blend two generators, fit directions, train and evaluate. Each call composes the methods below
it (encoder codes as a projection's start, a preset's optimiser and schedule) and returns typed results; the CLI
only parses and writes. Names are imported lazily, so `from stylegan_edit.workflow.presets import ...` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "PRESETS": "presets",
    "Preset": "presets",
    "get_preset": "presets",
    "Inversion": "inversion",
    "project": "inversion",
    "encode": "inversion",
    "save_inversion": "outputs",
    "edit": "editing",
    "render": "editing",
    "generate": "editing",
    "style_mix": "editing",
    "truncate": "editing",
    "blend": "mixing",
    "interpolate": "mixing",
    "fit_direction": "directions",
    "fid": "evaluation",
    "separability": "evaluation",
    "eqt": "equivariance",
    "small_data_metrics": "small_data",
    "edit_fidelity": "edit_evaluation",
    "ppl": "edit_evaluation",
    "train_gan": "training",
    "resume_options": "training",
    "train_encoder": "encoder_training",
    "invert_hyperstyle": "hyperstyle",
    "load_hyperstyle": "hyperstyle",
    "save_hyperstyle_inversion": "hyperstyle",
    "train_hyperstyle": "hyperstyle_training",
    "train_classifier": "classification",
    "make_dataset": "datasets",
    "convert_network": "conversion",
}

__all__ = [
    "PRESETS",
    "Inversion",
    "Preset",
    "blend",
    "convert_network",
    "edit",
    "edit_fidelity",
    "encode",
    "eqt",
    "fid",
    "fit_direction",
    "generate",
    "get_preset",
    "interpolate",
    "invert_hyperstyle",
    "load_hyperstyle",
    "make_dataset",
    "ppl",
    "project",
    "render",
    "resume_options",
    "save_hyperstyle_inversion",
    "save_inversion",
    "separability",
    "small_data_metrics",
    "style_mix",
    "train_classifier",
    "train_encoder",
    "train_gan",
    "train_hyperstyle",
    "truncate",
]

if TYPE_CHECKING:
    from stylegan_edit.workflow.classification import train_classifier
    from stylegan_edit.workflow.conversion import convert_network
    from stylegan_edit.workflow.datasets import make_dataset
    from stylegan_edit.workflow.directions import fit_direction
    from stylegan_edit.workflow.edit_evaluation import edit_fidelity, ppl
    from stylegan_edit.workflow.editing import edit, generate, render, style_mix, truncate
    from stylegan_edit.workflow.encoder_training import train_encoder
    from stylegan_edit.workflow.equivariance import eqt
    from stylegan_edit.workflow.evaluation import fid, separability
    from stylegan_edit.workflow.hyperstyle import invert_hyperstyle, load_hyperstyle, save_hyperstyle_inversion
    from stylegan_edit.workflow.hyperstyle_training import train_hyperstyle
    from stylegan_edit.workflow.inversion import Inversion, encode, project
    from stylegan_edit.workflow.mixing import blend, interpolate
    from stylegan_edit.workflow.outputs import save_inversion
    from stylegan_edit.workflow.presets import PRESETS, Preset, get_preset
    from stylegan_edit.workflow.small_data import small_data_metrics
    from stylegan_edit.workflow.training import resume_options, train_gan


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"stylegan_edit.workflow.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'stylegan_edit.workflow' has no attribute {name!r}")
