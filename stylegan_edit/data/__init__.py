"""Datasets, including SynthFaces, the bundled procedural face domain with exact ground-truth attributes."""

from stylegan_edit.data.factors import ATTRIBUTES, FaceFactors, sample_factors
from stylegan_edit.data.render import STYLES, Style, foreground_mask, render_face
from stylegan_edit.data.synthfaces import SynthFaces, face_factors, read_labels, render_seed, write_dataset

__all__ = [
    "ATTRIBUTES",
    "STYLES",
    "FaceFactors",
    "Style",
    "SynthFaces",
    "face_factors",
    "foreground_mask",
    "read_labels",
    "render_face",
    "render_seed",
    "sample_factors",
    "write_dataset",
]
