"""What an inversion starts from: the network (an object, or a bundled name / checkpoint to load), the encoder,
and the starting latents of a projection (the mean W, an encoder's codes, or given latents), checked up front."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from stylegan_edit.assets import DEFAULT_NETWORK
from stylegan_edit.encoders.checkpoint import load_encoder
from stylegan_edit.encoders.encoder import StyleEncoder
from stylegan_edit.generators import Generator, Network
from stylegan_edit.invert.initial import Init, check_compatible, convert
from stylegan_edit.latents import Latents, LatentSpace, load_latents
from stylegan_edit.workflow.presets import Preset

NetworkInput = Network | Generator | str | Path | None
EncoderInput = StyleEncoder | str | Path
LatentsInput = Latents | str | Path


@dataclass(frozen=True)
class Start:
    """A projection's start: `init` for the projector (None: the mean W), and in words (`the mean W`, the file,
    `the psp encoder's codes`); encoder / encoder_arch name the encoder when one gave the codes."""

    init: Init
    text: str
    encoder: str | None = None
    encoder_arch: str | None = None


def load(network: NetworkInput, device: torch.device | str | None) -> tuple[Network, str | None]:
    """The network and its name: a `Network` or `Generator` as given (no name; a bare generator has no
    discriminator), or a bundled name / checkpoint path loaded on `device` (None: the default model, on the CPU
    when `device` is None). `device` moves nothing already loaded."""
    if isinstance(network, Network):
        return network, None
    if isinstance(network, Generator):
        return Network(network), None
    from stylegan_edit.formats.native import load_network

    return load_network(network, device=device or "cpu"), DEFAULT_NETWORK if network is None else str(network)


def load_checked_encoder(
    encoder: EncoderInput, generator: Generator, network_name: str | None
) -> tuple[StyleEncoder, str]:
    """The encoder (`psp` / `e4e`: the one shipped for the bundled `network_name`, the default model when None; a
    bundled encoder's name; a file; or a `StyleEncoder`), on the generator's device and checked against it."""
    if isinstance(encoder, StyleEncoder):
        model, label = encoder.to(generator.device), f"a {encoder.arch} encoder"
    else:
        model, label = load_encoder(encoder, network=network_name, device=generator.device), str(encoder)
    model.check_generator(generator, f"the encoder {label}")
    return model, label


def projection_start(
    preset: Preset,
    init: LatentsInput | None,
    encoder: EncoderInput,
    *,
    generator: Generator,
    space: str,
    num_images: int,
    network_name: str | None,
) -> Start:
    """`init` when given (latents or a latents file: one code, or one per image), else the preset's start."""
    target_space = LatentSpace(space)
    if init is not None:
        if isinstance(init, Latents):
            latents, source, text = init, "init", "the given latents"
        else:
            latents, source = load_latents(init)[0], str(init)
            text = source
        check_compatible(latents, generator, source)
        convert(latents.to(generator.device), generator, target_space, source)
        if len(latents) not in (1, num_images):
            raise ValueError(f"{source}: {len(latents)} codes for {num_images} images (give one, or one per image)")
        return Start(latents.to("cpu"), text)
    if preset.start == "mean":
        return Start(None, "the mean W")
    if target_space is not LatentSpace.W_PLUS:
        raise ValueError(f"encoders give w+ codes, so preset {preset.name} needs space w+, not {target_space.value}")
    model, label = load_checked_encoder(encoder, generator, network_name)
    return Start(model.encode, f"the {label} encoder's codes", label, model.arch)
