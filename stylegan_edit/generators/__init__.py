"""StyleGAN2 (arXiv:1912.04958) and StyleGAN3 (arXiv:2106.12423) networks with NVIDIA's parameter names and
numerics."""

from stylegan_edit.generators.alias_free import StyleGAN3Generator, make_transform
from stylegan_edit.generators.alias_free_config import StyleGAN3Config
from stylegan_edit.generators.config import DiscriminatorConfig, GeneratorConfig
from stylegan_edit.generators.discriminator import Discriminator
from stylegan_edit.generators.generator import Generator
from stylegan_edit.generators.kinds import (
    AnyGenerator,
    AnyGeneratorConfig,
    build_generator,
    config_from_json,
    generator_class,
    is_stylegan3,
)
from stylegan_edit.generators.mapping import MappingNetwork
from stylegan_edit.generators.network import Network
from stylegan_edit.generators.synthesis import SynthesisNetwork

__all__ = [
    "AnyGenerator",
    "AnyGeneratorConfig",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MappingNetwork",
    "Network",
    "StyleGAN3Config",
    "StyleGAN3Generator",
    "SynthesisNetwork",
    "build_generator",
    "config_from_json",
    "generator_class",
    "is_stylegan3",
    "make_transform",
]
