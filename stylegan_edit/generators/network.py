"""A loaded network file: the generator (the EMA one, for inference; StyleGAN2 or StyleGAN3), its discriminator
when the file has one, and the file's metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

from stylegan_edit.generators.discriminator import Discriminator
from stylegan_edit.generators.kinds import AnyGenerator


@dataclass
class Network:
    """A generator with its discriminator when the file has one, and the file's string metadata."""

    generator: AnyGenerator
    discriminator: Discriminator | None = None
    metadata: dict[str, str] = field(default_factory=dict)
