"""A loaded network file: the generator (the EMA one, for inference), its discriminator when the file has one,
and the file's metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

from stylegan_edit.generators.discriminator import Discriminator
from stylegan_edit.generators.generator import Generator


@dataclass
class Network:
    """A generator with its discriminator when the file has one, and the file's string metadata."""

    generator: Generator
    discriminator: Discriminator | None = None
    metadata: dict[str, str] = field(default_factory=dict)
