"""The encoder's typed config and the generator it belongs to: shape (num_ws, w_dim, resolution) and fingerprint.

pSp (arXiv:2008.00951) and e4e (arXiv:2102.02766) share the architecture; `arch` picks how the heads' outputs
become W+ codes, and its `restyle-` variants (ReStyle, arXiv:2104.02699) read the target and the current
reconstruction (twice the image channels) and add the heads' outputs to the previous codes. The W+ layers split
into StyleGAN's coarse (4-8 px), medium (16-32 px) and fine (64 px and up) groups, which read the matching
feature-pyramid level; a StyleGAN3 generator's codes split at the same indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from stylegan_edit.files import JsonConfig
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.generators.fingerprint import fingerprint

Arch = Literal["psp", "e4e", "restyle-psp", "restyle-e4e"]
ARCHS: tuple[Arch, ...] = ("psp", "e4e", "restyle-psp", "restyle-e4e")
BaseArch = Literal["psp", "e4e"]
RESTYLE_PREFIX = "restyle-"
DEFAULT_ITERATIONS = 5  # ReStyle's n_iters_per_batch, for training and inference alike
BackboneKind = Literal["ir-se", "classifier"]
BACKBONES: tuple[BackboneKind, ...] = ("ir-se", "classifier")
COARSE_END = 3  # ws[0:3] drive the 4 and 8 px convolutions
MEDIUM_END = 7  # ws[3:7] drive 16 and 32 px; the rest are fine
MIN_INPUT_RESOLUTION = 16  # the coarsest pyramid level is input / 16
DEFAULT_INPUT_RESOLUTION = 64


def _power_of_two(value: int) -> bool:
    return value >= 1 and not value & (value - 1)


@dataclass(frozen=True)
class EncoderConfig(JsonConfig):
    """Architecture of a pSp / e4e encoder (or its ReStyle variant) for one generator shape.

    arch: `psp`, `e4e`, `restyle-psp` or `restyle-e4e` (the heads of the base arch, 2 * img_channels input
    channels, outputs added to the previous iteration's codes). img_resolution, img_channels, num_ws, w_dim: the
    generator's. input_resolution: the side images are resized to before the backbone (a power of two >= 16).
    backbone: `ir-se` (pSp's residual blocks) or `classifier` (the bundled attribute classifier's conv-BN-ReLU
    stages, so that its weights can start the encoder). stem_channels,
    stage_channels: the widths of the stem and the four stride-2 stages (pyramid levels after stages 2, 3 and 4).
    stage_blocks, squeeze_excitation: residual blocks per stage and SE gates (`ir-se` only; a classifier stage is
    always two convolutions). pyramid_channels: the feature pyramid's width; head_channels: the map2style
    convolutions' width.
    """

    arch: Arch = "psp"
    img_resolution: int = 64
    img_channels: int = 3
    num_ws: int = 10
    w_dim: int = 128
    input_resolution: int = DEFAULT_INPUT_RESOLUTION
    backbone: BackboneKind = "ir-se"
    stem_channels: int = 32
    stage_channels: tuple[int, ...] = field(default=(32, 48, 64, 128))
    stage_blocks: tuple[int, ...] = field(default=(1, 2, 2, 1))
    squeeze_excitation: bool = True
    pyramid_channels: int = 64
    head_channels: int = 64

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"encoder arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if not _power_of_two(self.input_resolution) or self.input_resolution < MIN_INPUT_RESOLUTION:
            raise ValueError(
                f"input_resolution must be a power of two of at least {MIN_INPUT_RESOLUTION}, "
                f"got {self.input_resolution}"
            )
        if self.backbone not in BACKBONES:
            raise ValueError(f"encoder backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if not _power_of_two(self.img_resolution):
            raise ValueError(f"img_resolution must be a power of two, got {self.img_resolution}")
        if len(self.stage_channels) != 4 or len(self.stage_blocks) != 4:
            raise ValueError("stage_channels and stage_blocks need one entry per backbone stage (4)")
        if min(self.num_ws, self.w_dim, self.stem_channels, *self.stage_channels, *self.stage_blocks) < 1:
            raise ValueError("num_ws, w_dim, channel counts and block counts must be positive")
        if min(self.pyramid_channels, self.head_channels, self.img_channels) < 1:
            raise ValueError("pyramid_channels, head_channels and img_channels must be positive")

    @property
    def restyle(self) -> bool:
        """Whether the encoder iterates (ReStyle): its input is (target ‖ current reconstruction)."""
        return self.arch.startswith(RESTYLE_PREFIX)

    @property
    def base_arch(self) -> BaseArch:
        """How the heads' outputs form W+ codes: `psp` or `e4e` (a ReStyle arch's base)."""
        return "e4e" if self.arch.endswith("e4e") else "psp"

    @property
    def input_channels(self) -> int:
        """Channels of the backbone's input: the image's, twice for ReStyle (target and reconstruction)."""
        return 2 * self.img_channels if self.restyle else self.img_channels

    @classmethod
    def for_generator(cls, generator: AnyGenerator, *, arch: Arch, **changes: object) -> EncoderConfig:
        """The default config for `generator`'s shape; `changes` override architecture fields."""
        config = generator.config
        settings: dict[str, object] = {
            "arch": arch,
            "img_resolution": config.img_resolution,
            "img_channels": config.img_channels,
            "num_ws": config.num_ws,
            "w_dim": config.w_dim,
            "input_resolution": min(max(config.img_resolution, MIN_INPUT_RESOLUTION), 256),
        }
        settings.update(changes)
        return cls(**settings)  # type: ignore[arg-type]

    def pyramid_level(self, layer: int) -> int:
        """Which pyramid level feeds W+ layer `layer`: 0 = coarse (input/16), 1 = medium, 2 = fine (input/4)."""
        if layer < COARSE_END:
            return 0
        return 1 if layer < MEDIUM_END else 2


def generator_fingerprint(generator: AnyGenerator) -> str:
    """The fingerprint of the generator an encoder is trained against: its tensors, salted with its config."""
    return fingerprint(generator, salt=generator.config.to_json())


def check_generator(config: EncoderConfig, generator: AnyGenerator, source: str) -> None:
    """Raise a one-line `ValueError` naming the fields (resolution, num_ws, w_dim) in which `generator` differs
    from the generator the encoder `source` was built for."""
    check_generator_shape(
        generator,
        source,
        resolution=config.img_resolution,
        num_ws=config.num_ws,
        w_dim=config.w_dim,
        img_channels=config.img_channels,
    )


def check_generator_shape(
    generator: AnyGenerator, source: str, *, resolution: int, num_ws: int, w_dim: int, img_channels: int
) -> None:
    """Raise a one-line `ValueError` naming the fields in which `generator` differs from the shape an encoder
    `source` was made for (every encoder kind checks the same four)."""
    fields = [
        ("resolution", resolution, generator.img_resolution),
        ("num_ws", num_ws, generator.num_ws),
        ("w_dim", w_dim, generator.w_dim),
        ("img_channels", img_channels, generator.config.img_channels),
    ]
    wrong = [(name, ours, theirs) for name, ours, theirs in fields if ours != theirs]
    if wrong:
        needed = ", ".join(f"{name} {ours}" for name, ours, _ in wrong)
        given = ", ".join(f"{name} {theirs}" for name, _, theirs in wrong)
        raise ValueError(f"{source} was made for a generator with {needed}, but this generator has {given}")
