"""The two generator families the toolkit runs, StyleGAN2 (arXiv:1912.04958) and StyleGAN3 (arXiv:2106.12423),
behind one small vocabulary: a union type, a name per family, and a builder from a config."""

from __future__ import annotations

from typing import TypeAlias

from stylegan_edit.generators.alias_free import StyleGAN3Generator
from stylegan_edit.generators.alias_free_config import StyleGAN3Config
from stylegan_edit.generators.config import GeneratorConfig
from stylegan_edit.generators.generator import Generator

AnyGenerator: TypeAlias = Generator | StyleGAN3Generator
AnyGeneratorConfig: TypeAlias = GeneratorConfig | StyleGAN3Config

# The name stored beside a config in file metadata (`generator_class`); files without one hold StyleGAN2.
GENERATOR_CLASSES: dict[str, type[GeneratorConfig] | type[StyleGAN3Config]] = {
    "stylegan2": GeneratorConfig,
    "stylegan3": StyleGAN3Config,
}


def generator_class(config: AnyGeneratorConfig) -> str:
    """`stylegan2` or `stylegan3`: the family of `config`, as stored in file metadata."""
    return "stylegan3" if isinstance(config, StyleGAN3Config) else "stylegan2"


def config_from_json(text: str, family: str | None = None) -> AnyGeneratorConfig:
    """The generator config stored as JSON `text` in a file of generator family `family` (None: stylegan2).
    Raises ValueError for an unknown family or fields."""
    name = family or "stylegan2"
    if name not in GENERATOR_CLASSES:
        raise ValueError(f"unknown generator class {name!r} (known: {', '.join(GENERATOR_CLASSES)})")
    return GENERATOR_CLASSES[name].from_json(text)


def build_generator(config: AnyGeneratorConfig) -> AnyGenerator:
    """A freshly initialised generator of `config`'s family."""
    if isinstance(config, StyleGAN3Config):
        return StyleGAN3Generator(config)
    return Generator(config)


def is_stylegan3(generator: object) -> bool:
    return isinstance(generator, StyleGAN3Generator)
