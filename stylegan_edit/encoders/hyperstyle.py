"""HyperStyle (Alaluf et al., arXiv:2111.15666): a hypernetwork that refines an e4e / pSp inversion by per-image
offsets of the generator's weights, each tuned convolution's weight becoming `weight * (1 + delta)`.

The hypernetwork sees (target ‖ current reconstruction), 6 channels, and is iterated: each pass adds its offsets
to the previous ones while the W encoder's codes stay fixed. Its output layers start at zero, so an untrained
HyperStyle renders exactly the W encoder's reconstruction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.encoders.backbone import IRSEBackbone, Map2Style
from stylegan_edit.encoders.config import EncoderConfig, check_generator, generator_fingerprint
from stylegan_edit.encoders.encoder import StyleEncoder
from stylegan_edit.encoders.hyperstyle_config import PAPER_ITERATIONS, HyperStyleConfig, LayerShape, layer_shapes
from stylegan_edit.generators import AnyGenerator, Generator
from stylegan_edit.latents import Latents, LatentSpace

Deltas = list[Tensor | None]
"""One entry per modulated convolution of the generator (`weight_layers()` order): `[N, O, I, k, k]` or None."""


@dataclass(frozen=True, eq=False)
class HyperStyleResult:
    """What `invert` gives: the W encoder's codes `[N, num_ws, w_dim]` (fixed through the iterations), the summed
    offsets of every iteration (`Deltas`), the reconstruction after each iteration `[N, C, R, R]` in [-1, 1] (the
    last is the result) and the W encoder's own reconstruction `initial`."""

    latents: Latents
    deltas: Deltas
    images: list[Tensor]
    initial: Tensor


def accumulate(deltas: Deltas | None, offsets: Deltas) -> Deltas:
    """The official accumulation: `deltas[i] + offsets[i]` (a layer without offsets stays None)."""
    if deltas is None:
        return list(offsets)
    return [None if d is None or o is None else d + o for d, o in zip(deltas, offsets, strict=True)]


def iterate(
    inputs: Tensor,
    current: Tensor,
    hypernet: Callable[[Tensor], Deltas],
    render: Callable[[Deltas], Tensor],
    iterations: int,
    *,
    resize: Callable[[Tensor], Tensor] = lambda images: images,
) -> tuple[Deltas, list[Tensor]]:
    """HyperStyle's inference loop: `iterations` passes of `deltas += hypernet(inputs ‖ current)`, `current =
    resize(render(deltas))`. Returns the final offsets and every pass's full-size render."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a whole number of at least 1, got {iterations!r}")
    deltas: Deltas | None = None
    images = []
    for _ in range(iterations):
        deltas = accumulate(deltas, hypernet(torch.cat([inputs, current], dim=1)))
        images.append(render(deltas))
        current = resize(images[-1])
    assert deltas is not None
    return deltas, images


class SharedHypernet(nn.Module):
    """A code `[N, code_dim]` -> full kernel offsets `[N, O, I, k, k]` for every layer of one shape (the official
    `SharedWeightsHypernet`): a linear map to I vectors of `code_dim`, then one linear map of each to its O*k*k
    kernel entries. The second map starts at zero."""

    def __init__(self, code_dim: int, shape: LayerShape) -> None:
        super().__init__()
        self.shape = shape
        out_channels, in_channels, kernel = shape
        self.code_dim = code_dim
        self.weight_in = nn.Parameter(torch.randn(code_dim, in_channels * code_dim) / math.sqrt(code_dim))
        self.bias_in = nn.Parameter(torch.zeros(in_channels * code_dim))
        self.weight_out = nn.Parameter(torch.zeros(code_dim, out_channels * kernel * kernel))
        self.bias_out = nn.Parameter(torch.zeros(out_channels * kernel * kernel))

    def forward(self, code: Tensor) -> Tensor:
        out_channels, in_channels, kernel = self.shape
        per_input = (code @ self.weight_in + self.bias_in).view(-1, in_channels, self.code_dim)
        kernels = per_input @ self.weight_out + self.bias_out  # [N, I, O * k * k]
        return kernels.view(-1, in_channels, out_channels, kernel, kernel).transpose(1, 2)


class HyperNetwork(nn.Module):
    """(target ‖ reconstruction) `[N, 2C, R, R]` in [-1, 1] -> `Deltas` for every generator layer.

    An IR-SE backbone (`encoders.backbone`) down to input / 16, then per tuned layer a map2style head: for a layer
    of a shared shape, a code for the shape's `SharedHypernet`; otherwise `O * I` per-channel offsets (zero-
    initialised), repeated over the k x k kernel.
    """

    def __init__(self, config: HyperStyleConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = IRSEBackbone(
            EncoderConfig(
                img_resolution=config.img_resolution,
                img_channels=2 * config.img_channels,
                input_resolution=config.input_resolution,
                stem_channels=config.stem_channels,
                stage_channels=config.stage_channels,
                stage_blocks=config.stage_blocks,
            )
        )
        groups = config.shared_groups()
        self.shared = nn.ModuleDict({_key(shape): SharedHypernet(config.shared_code_dim, shape) for shape in groups})
        self.shared_of = {i: _key(shape) for shape, layers in groups.items() for i in layers}
        side, channels = config.input_resolution // 16, config.stage_channels[-1]
        heads = {}
        for i in config.layers_to_tune:
            out_channels, in_channels, _ = config.layer_shapes[i]
            size = config.shared_code_dim if i in self.shared_of else out_channels * in_channels
            heads[str(i)] = Map2Style(channels, config.head_channels, size, side)
            if i not in self.shared_of:
                for tensor in heads[str(i)].linear.parameters():
                    nn.init.zeros_(tensor)
        self.heads = nn.ModuleDict(heads)

    def features(self, x: Tensor) -> Tensor:
        """The backbone's last features `[N, c, input/16, input/16]` of `x` (resized to `input_resolution`)."""
        res, channels = self.config.img_resolution, 2 * self.config.img_channels
        if x.ndim != 4 or tuple(x.shape[1:]) != (channels, res, res):
            raise ValueError(f"the hypernetwork takes [N, {channels}, {res}, {res}], got {list(x.shape)}")
        side = self.config.input_resolution
        if res > side:
            x = F.interpolate(x, size=(side, side), mode="area")
        elif res < side:
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        return self.backbone(x)[-1]

    def forward(self, x: Tensor) -> Deltas:
        features = self.features(x)
        deltas: Deltas = [None] * len(self.config.layer_shapes)
        for i in self.config.layers_to_tune:
            out = self.heads[str(i)](features)
            if i in self.shared_of:
                deltas[i] = self.shared[self.shared_of[i]](out)
            else:
                out_channels, in_channels, kernel = self.config.layer_shapes[i]
                deltas[i] = out.view(-1, out_channels, in_channels, 1, 1).expand(-1, -1, -1, kernel, kernel)
        return deltas


def _key(shape: LayerShape) -> str:
    return "x".join(map(str, shape))


class HyperStyle(nn.Module):
    """Our HyperStyle: `hypernet` (the trained part), `w_encoder` (a frozen e4e / pSp encoder of the generator)
    and `generator` (frozen; its tensors are not part of HyperStyle files). Build with `build_hyperstyle`."""

    def __init__(self, hypernet: HyperNetwork, w_encoder: StyleEncoder, generator: Generator) -> None:
        super().__init__()
        config = hypernet.config
        check_generator(w_encoder.config, generator, "the W encoder")
        if (config.num_ws, config.w_dim, config.layer_shapes) != (
            generator.num_ws,
            generator.w_dim,
            layer_shapes(generator)[0],
        ):
            raise ValueError("the hypernetwork was made for a generator of another shape")
        self.hypernet = hypernet
        self.w_encoder = w_encoder.eval().requires_grad_(False)
        self.generator = generator.eval().requires_grad_(False)
        self.generator_fingerprint = generator_fingerprint(generator)
        self.metadata: dict[str, str] = {}

    @property
    def config(self) -> HyperStyleConfig:
        return self.hypernet.config

    @property
    def arch(self) -> str:
        return "hyperstyle"

    @property
    def device(self) -> torch.device:
        return self.w_encoder.device

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    def render(self, codes: Tensor, deltas: Deltas | None) -> Tensor:
        """The generator's images of W+ `codes` with offsets `deltas` (constant noise, always the fused modulated
        convolution, so zero offsets and None render the same bits)."""
        return self.generator.synthesis(codes, noise_mode="const", fused_modconv=True, weight_deltas=deltas)

    @torch.no_grad()
    def initial(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The W encoder's codes `[N, num_ws, w_dim]` for images `[N, C, R, R]` in [-1, 1] and their render."""
        codes = self.w_encoder(images.to(self.device, torch.float32))
        return codes, self.render(codes, None)

    @torch.no_grad()
    def invert(self, images: Tensor, iterations: int = PAPER_ITERATIONS) -> HyperStyleResult:
        """Invert images `[N, C, R, R]` in [-1, 1] at the generator's resolution: the W encoder's codes, then
        `iterations` hypernetwork passes (official inference: 5)."""
        targets = images.to(self.device, torch.float32)
        codes, current = self.initial(targets)
        deltas, renders = iterate(targets, current, self.hypernet, lambda d: self.render(codes, d), iterations)
        return HyperStyleResult(Latents(codes, LatentSpace.W_PLUS), deltas, renders, current)

    def encode(self, images: Tensor) -> Latents:
        """The W+ codes alone (the W encoder's): what an inversion that ignores the offsets starts from."""
        return Latents(self.initial(images)[0], LatentSpace.W_PLUS)

    def check_generator(self, generator: AnyGenerator, source: str = "the HyperStyle") -> None:
        """Raise a one-line `ValueError` unless `generator` is the one this HyperStyle tunes (same fingerprint)."""
        if not isinstance(generator, Generator) or generator_fingerprint(generator) != self.generator_fingerprint:
            raise ValueError(f"{source} was trained for another generator; pass the network it was trained with")


def build_hyperstyle(config: HyperStyleConfig, w_encoder: StyleEncoder, generator: Generator) -> HyperStyle:
    """A HyperStyle with an untrained (zero-output) hypernetwork of `config`, on the generator's device."""
    return HyperStyle(HyperNetwork(config), w_encoder, generator).to(generator.device)


def materialise(generator: Generator, deltas: Sequence[Tensor | None], index: int = 0) -> Generator:
    """A copy of `generator` whose tuned weights are `weight * (1 + delta[index])`: image `index`'s generator,
    which renders (fused) exactly what synthesis with the offsets renders."""
    import copy

    layers = generator.synthesis.weight_layers()
    if len(deltas) != len(layers):
        raise ValueError(f"expected {len(layers)} weight deltas (or None), got {len(deltas)}")
    tuned = copy.deepcopy(generator).requires_grad_(False)
    with torch.no_grad():
        for layer, delta in zip(tuned.synthesis.weight_layers(), deltas, strict=True):
            if delta is not None:
                offset = delta[index].to(layer.weight.device, layer.weight.dtype)
                layer.weight.copy_(layer.weight * (1 + offset))
    return tuned.eval()
