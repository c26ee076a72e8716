"""StyleGAN2 networks (arXiv:1912.04958) with NVIDIA's parameter names and numerics."""

from stylegan_edit.generators.config import DiscriminatorConfig, GeneratorConfig
from stylegan_edit.generators.discriminator import Discriminator
from stylegan_edit.generators.generator import Generator
from stylegan_edit.generators.mapping import MappingNetwork
from stylegan_edit.generators.network import Network
from stylegan_edit.generators.synthesis import SynthesisNetwork

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MappingNetwork",
    "Network",
    "SynthesisNetwork",
]
