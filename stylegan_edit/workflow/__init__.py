"""The workflow API, what a user imports first: project / encode photos into latents, edit and render them,
generate from seeds, blend two generators. Each call composes the methods below it (encoder codes as a
projection's start, a preset's optimiser and schedule) and returns typed results; the CLI only parses and writes.
"""

from stylegan_edit.workflow.editing import blend, edit, generate, render
from stylegan_edit.workflow.inversion import Inversion, encode, project
from stylegan_edit.workflow.presets import PRESETS, Preset

__all__ = ["PRESETS", "Inversion", "Preset", "blend", "edit", "encode", "generate", "project", "render"]
