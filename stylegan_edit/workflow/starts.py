"""What an inversion starts from: the network (an object, or a bundled name / checkpoint to load), the encoder
(and a ReStyle encoder's iterations), and the starting latents of a projection (the mean W, an encoder's codes, or
given latents), checked up front."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from stylegan_edit.assets import DEFAULT_NETWORK
from stylegan_edit.encoders.checkpoint import load_encoder
from stylegan_edit.encoders.encoder import IterativeEncoder, StyleEncoder
from stylegan_edit.encoders.official.encoder import OfficialEncoder
from stylegan_edit.encoders.official.restyle import DEFAULT_ITERATIONS, ReStyleEncoder
from stylegan_edit.generators import AnyGenerator, Generator, Network, StyleGAN3Generator
from stylegan_edit.invert.initial import Init, check_init
from stylegan_edit.latents import Latents, LatentSpace, load_latents
from stylegan_edit.workflow.checks import at_least
from stylegan_edit.workflow.presets import Preset


class ImageEncoder(Protocol):
    """What an inversion needs of an encoder object: ours (`StyleEncoder`), an official pSp / e4e checkpoint's
    (`OfficialEncoder`) or a ReStyle one's (`ReStyleEncoder`)."""

    @property
    def arch(self) -> str: ...

    def encode(self, images: Tensor) -> Latents: ...

    def check_generator(self, generator: AnyGenerator, source: str = ...) -> None: ...

    def to(self, device: torch.device) -> Any: ...


NetworkInput = Network | Generator | StyleGAN3Generator | str | Path | None
EncoderInput = ImageEncoder | str | Path
LatentsInput = Latents | str | Path


@dataclass(frozen=True)
class Start:
    """A projection's start: `init` for the projector (None: the mean W), and in words (`the mean W`, the file,
    `the psp encoder's codes`); encoder / encoder_arch name the encoder when one gave the codes."""

    init: Init
    text: str
    encoder: str | None = None
    encoder_arch: str | None = None
    iterations: int | None = None


def load(network: NetworkInput, device: torch.device | str | None) -> tuple[Network, str | None]:
    """The network and its name: a `Network` or generator (StyleGAN2 or StyleGAN3) as given (no name; a bare
    generator has no discriminator), or a bundled name / checkpoint path loaded on `device` (None: the default model,
    on the CPU when `device` is None). `device` moves nothing already loaded."""
    if isinstance(network, Network):
        return network, None
    if isinstance(network, Generator | StyleGAN3Generator):
        return Network(network), None
    from stylegan_edit.formats.native import load_network

    return load_network(network, device=device or "cpu"), DEFAULT_NETWORK if network is None else str(network)


def network_of(network: NetworkInput, encoder: EncoderInput) -> NetworkInput:
    """`network`; when None and `encoder` is an official pSp / e4e / ReStyle checkpoint (a file, or its encoder
    object), the generator that checkpoint holds (its decoder, which the encoder was trained with)."""
    if network is not None:
        return network
    if isinstance(encoder, ReStyleEncoder):
        return encoder.decoder
    if isinstance(encoder, OfficialEncoder):
        return Path(encoder.source)
    if not isinstance(encoder, str | Path):
        return None
    from stylegan_edit.assets import resolve_encoder
    from stylegan_edit.formats.native import sniff_format

    path = resolve_encoder(encoder, None)
    return path.resolve() if sniff_format(path) == "torch-zip" else None


def load_checked_encoder(
    encoder: EncoderInput, generator: AnyGenerator, network_name: str | None
) -> tuple[ImageEncoder, str]:
    """The encoder (`psp` / `e4e`: the one shipped for the bundled `network_name`, the default model when None; a
    bundled encoder's name; a file: ours or an official pSp / e4e / ReStyle checkpoint; or an encoder object), on
    the generator's device and checked against it. One of our ReStyle encoders comes with `generator`, which it
    renders with between iterations."""
    model: ImageEncoder
    if isinstance(encoder, str | Path):
        model, label = load_encoder(encoder, network=network_name, device=generator.device), str(encoder)
    else:
        model, label = encoder.to(generator.device), f"a {encoder.arch} encoder"
    model.check_generator(generator, f"the encoder {label}")
    if isinstance(model, StyleEncoder) and model.config.restyle:
        model = model.with_generator(generator)
    return model, label


def encoder_pass(
    model: ImageEncoder, label: str, iterations: int | None
) -> tuple[Callable[[Tensor], Latents], int | None]:
    """`model`'s images -> codes and the ReStyle iterations it runs (`iterations`, None: ReStyle's 5; None for
    one-pass encoders, which refuse `iterations` in one line)."""
    if not isinstance(model, ReStyleEncoder | IterativeEncoder):
        if iterations is not None:
            raise ValueError(
                f"the encoder {label} ({model.arch}) encodes in one pass; iterations apply to ReStyle encoders only"
            )
        return model.encode, None
    count = DEFAULT_ITERATIONS if iterations is None else at_least("iterations", iterations, 1)
    return partial(model.encode, iterations=count), count


def projection_start(
    preset: Preset,
    init: LatentsInput | None,
    encoder: EncoderInput,
    *,
    generator: AnyGenerator,
    space: str,
    num_images: int,
    network_name: str | None,
    iterations: int | None = None,
) -> Start:
    """`init` when given (latents or a latents file: one code, or one per image), else the preset's start;
    `iterations`: a ReStyle encoder's (None: 5), refused for any other start."""
    target_space = LatentSpace(space)
    if iterations is not None and (init is not None or preset.start == "mean"):
        start = "the given latents" if init is not None else "the mean W"
        raise ValueError(f"iterations apply to a ReStyle encoder's codes; preset {preset.name} starts from {start}")
    if init is not None:
        if isinstance(init, Latents):
            latents, source, text = init, "init", "the given latents"
        else:
            latents, source = load_latents(init)[0], str(init)
            text = source
        check_init(latents, generator, target_space, num_images, source)
        return Start(latents.to("cpu"), text)
    if preset.start == "mean":
        return Start(None, "the mean W")
    model, label = load_checked_encoder(encoder, generator, network_name)
    run, count = encoder_pass(model, label, iterations)
    text = f"the {label} encoder's codes" + (f" ({count} iterations)" if count is not None else "")
    return Start(run, text, label, model.arch, count)
