"""stylegan-edit: StyleGAN2 GAN inversion and latent editing in one package.

The public names are imported lazily, so `stylegan-edit --help` does not pay for importing torch.

    import stylegan_edit as se
    G = se.load_generator("synthfaces-64")
    result = se.project(G, ["photo.png"], space="w+", preset="nvidia")
    images = se.render(G, se.edit(result.latents, se.load_direction("age"), strength=2.0))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Latents": "stylegan_edit.latents",
    "LatentSpace": "stylegan_edit.latents",
    "load_latents": "stylegan_edit.latents",
    "Network": "stylegan_edit.generators",
    "Generator": "stylegan_edit.generators",
    "GeneratorConfig": "stylegan_edit.generators",
    "Discriminator": "stylegan_edit.generators",
    "DiscriminatorConfig": "stylegan_edit.generators",
    "load_network": "stylegan_edit.formats",
    "load_generator": "stylegan_edit.formats",
    "save_network": "stylegan_edit.formats",
    "load_encoder": "stylegan_edit.encoders",
    "load_direction": "stylegan_edit.editors",
    "Direction": "stylegan_edit.editors",
    "load_classifier": "stylegan_edit.classifiers",
    "PRESETS": "stylegan_edit.workflow",
    "Preset": "stylegan_edit.workflow",
    "Inversion": "stylegan_edit.workflow",
    "project": "stylegan_edit.workflow",
    "encode": "stylegan_edit.workflow",
    "edit": "stylegan_edit.workflow",
    "render": "stylegan_edit.workflow",
    "generate": "stylegan_edit.workflow",
    "blend": "stylegan_edit.workflow",
    "save_inversion": "stylegan_edit.workflow",
}

__all__ = [
    "PRESETS",
    "Direction",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "Inversion",
    "LatentSpace",
    "Latents",
    "Network",
    "Preset",
    "blend",
    "edit",
    "encode",
    "generate",
    "load_classifier",
    "load_direction",
    "load_encoder",
    "load_generator",
    "load_latents",
    "load_network",
    "project",
    "render",
    "save_inversion",
    "save_network",
]

if TYPE_CHECKING:
    from stylegan_edit.classifiers import load_classifier
    from stylegan_edit.editors import Direction, load_direction
    from stylegan_edit.encoders import load_encoder
    from stylegan_edit.formats import load_generator, load_network, save_network
    from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Network
    from stylegan_edit.latents import Latents, LatentSpace, load_latents
    from stylegan_edit.workflow import (
        PRESETS,
        Inversion,
        Preset,
        blend,
        edit,
        encode,
        generate,
        project,
        render,
        save_inversion,
    )


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'stylegan_edit' has no attribute {name!r}")
