"""stylegan-edit: StyleGAN2 GAN inversion and latent editing in one package.

The public names are imported lazily, so `stylegan-edit --help` does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Latents": "stylegan_edit.latents",
    "LatentSpace": "stylegan_edit.latents",
    "load_latents": "stylegan_edit.latents",
    "Network": "stylegan_edit.formats.native",
    "load_network": "stylegan_edit.formats.native",
    "load_generator": "stylegan_edit.formats.native",
    "save_network": "stylegan_edit.formats.native",
    "Generator": "stylegan_edit.generators",
    "GeneratorConfig": "stylegan_edit.generators",
    "Discriminator": "stylegan_edit.generators",
    "DiscriminatorConfig": "stylegan_edit.generators",
}

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "LatentSpace",
    "Latents",
    "Network",
    "load_generator",
    "load_latents",
    "load_network",
    "save_network",
]

if TYPE_CHECKING:
    from stylegan_edit.formats.native import load_generator, load_network, save_network
    from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Network
    from stylegan_edit.latents import Latents, LatentSpace, load_latents


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'stylegan_edit' has no attribute {name!r}")
