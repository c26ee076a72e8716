"""pSp (arXiv:2008.00951) and e4e (arXiv:2102.02766) encoders: images -> W+ codes of the generator they belong to.

pSp predicts every layer's code from its pyramid level; e4e predicts one base code from the coarsest level plus
per-layer offsets, of which training enables one more at a time. Both add their output to the generator's mean W,
which the encoder keeps as the buffer `w_avg` so that it needs no generator at inference.

Their ReStyle variants (arXiv:2104.02699; arch `restyle-psp` / `restyle-e4e`) read (target ‖ current
reconstruction) and add their output to the previous iteration's codes, starting from the mean W and its image;
they need the generator to render between iterations (`restyle_steps`, or `bind` for an `encode` like the others).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.encoders.backbone import INPUT_CONV, FeaturePyramid, Map2Style, build_backbone
from stylegan_edit.encoders.config import (
    DEFAULT_ITERATIONS,
    RESTYLE_PREFIX,
    Arch,
    EncoderConfig,
    check_generator,
    generator_fingerprint,
)
from stylegan_edit.files import load_strict
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace

if TYPE_CHECKING:
    from stylegan_edit.classifiers.attributes import AttributeClassifier

logger = logging.getLogger(__name__)


class StyleEncoder(nn.Module):
    """The shared architecture: backbone, feature pyramid, one map2style head per W+ layer, and the mean W.

    `generator_fingerprint` names the generator the encoder was trained against and `metadata` holds a loaded
    file's extra strings (training data, steps); both travel in checkpoint metadata, not in the state dict.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config)
        self.pyramid = FeaturePyramid(config)
        sides = [config.input_resolution // 16, config.input_resolution // 8, config.input_resolution // 4]
        self.heads = nn.ModuleList(
            Map2Style(config.pyramid_channels, config.head_channels, config.w_dim, sides[config.pyramid_level(i)])
            for i in range(config.num_ws)
        )
        self.register_buffer("w_avg", torch.zeros([config.w_dim]))
        self.w_avg: Tensor
        self.generator_fingerprint = ""
        self.metadata: dict[str, str] = {}

    @property
    def arch(self) -> Arch:
        return self.config.arch

    @property
    def device(self) -> torch.device:
        return self.w_avg.device

    def pyramid_features(self, images: Tensor) -> list[Tensor]:
        """Images `[N, C, R, R]` in [-1, 1] at the generator's resolution (ReStyle: target ‖ reconstruction, 2C
        channels) -> levels `[coarse, medium, fine]`."""
        res, channels = self.config.img_resolution, self.config.input_channels
        if images.ndim != 4 or tuple(images.shape[1:]) != (channels, res, res):
            raise ValueError(
                f"the encoder takes images of shape [N, {channels}, {res}, {res}], got {list(images.shape)}"
            )
        side = self.config.input_resolution
        images = images.to(self.device, torch.float32)
        if res > side:
            images = F.interpolate(images, size=(side, side), mode="area")
        elif res < side:
            images = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)
        return self.pyramid(self.backbone(images))

    def head(self, layer: int, levels: list[Tensor]) -> Tensor:
        """Head `layer`'s output `[N, w_dim]` from the pyramid level of its group."""
        return self.heads[layer](levels[self.config.pyramid_level(layer)])

    def forward(self, images: Tensor, *, previous: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def codes(self, inputs: Tensor, num_offsets: int | None = None, *, previous: Tensor | None = None) -> Tensor:
        """The codes for backbone `inputs` (e4e: with its first `num_offsets` offsets on, None: all), added to
        `previous` `[N, num_ws, w_dim]` (None: the mean W)."""
        if isinstance(self, E4EEncoder):
            return self(inputs, num_offsets=num_offsets, previous=previous)
        return self(inputs, previous=previous)

    @torch.no_grad()
    def encode(self, images: Tensor) -> Latents:
        """W+ latents `[N, num_ws, w_dim]` for images `[N, C, R, R]` in [-1, 1] (inference: all layers on)."""
        if self.config.restyle:
            raise ValueError(f"a {self.arch} encoder iterates with its generator: use restyle_steps or with_generator")
        return Latents(self(images), LatentSpace.W_PLUS)

    def average_image(self, generator: AnyGenerator) -> Tensor:
        """ReStyle's first reconstruction: the generator's image `[1, C, R, R]` of the mean W (constant noise)."""
        with torch.no_grad():
            return generator.synthesis(self.w_avg.expand(1, self.config.num_ws, -1), noise_mode="const")

    def restyle_steps(
        self,
        images: Tensor,
        generator: AnyGenerator,
        iterations: int,
        *,
        num_offsets: int | None = None,
        render_last: bool = True,
    ) -> Iterator[tuple[Tensor, Tensor | None]]:
        """ReStyle's loop for targets `images [N, C, R, R]`: yields each iteration's codes and their render (with
        gradients to this iteration's encoder pass: training back-propagates each iteration alone; the last render
        is None unless `render_last`). An iteration reads the previous codes and render detached; the first starts
        from the mean W and its image, so that it is the base pSp / e4e pass of a warm-started encoder."""
        if not self.config.restyle:
            raise ValueError(f"a {self.arch} encoder encodes in one pass; only ReStyle encoders iterate")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a whole number of at least 1, got {iterations!r}")
        images = images.to(self.device, torch.float32)
        count = images.shape[0]
        current = self.average_image(generator).expand(count, -1, -1, -1)
        codes = self.w_avg.expand(count, self.config.num_ws, -1)
        for k in range(iterations):
            codes = self.codes(torch.cat([images, current], dim=1), num_offsets, previous=codes)
            render = generator.synthesis(codes, noise_mode="const") if render_last or k + 1 < iterations else None
            yield codes, render
            if render is not None:
                codes, current = codes.detach(), render.detach()

    def with_generator(self, generator: AnyGenerator) -> IterativeEncoder:
        """This ReStyle encoder with the generator it renders with between iterations: `encode(images,
        iterations)` like an official ReStyle checkpoint's."""
        if not self.config.restyle:
            raise ValueError(f"a {self.arch} encoder encodes in one pass; only ReStyle encoders iterate")
        self.check_generator(generator)
        return IterativeEncoder(self, generator)

    def check_generator(self, generator: AnyGenerator, source: str = "the encoder") -> None:
        """Raise when `generator` has another shape (naming resolution, num_ws or w_dim); log a warning when it
        has the right shape but is not the generator the encoder was trained against."""
        check_generator(self.config, generator, source)
        if self.generator_fingerprint and self.generator_fingerprint != generator_fingerprint(generator):
            logger.warning(
                "%s was trained against another generator of the same shape (fingerprint %s); codes may be poor",
                source,
                self.generator_fingerprint,
            )

    def bind(self, generator: AnyGenerator, w_avg: Tensor) -> None:
        """Make this encoder belong to `generator`: record its fingerprint and start from `w_avg [w_dim]`."""
        check_generator(self.config, generator, "the encoder")
        self.generator_fingerprint = generator_fingerprint(generator)
        with torch.no_grad():
            self.w_avg.copy_(w_avg.to(self.w_avg))


class PSPEncoder(StyleEncoder):
    """pSp: `ws[:, i] = w_avg + head_i(level of layer i)` (ReStyle: `previous[:, i] + head_i`)."""

    def forward(self, images: Tensor, *, previous: Tensor | None = None) -> Tensor:
        """Images `[N, C, R, R]` in [-1, 1] -> ws `[N, num_ws, w_dim]`."""
        levels = self.pyramid_features(images)
        offsets = torch.stack([self.head(i, levels) for i in range(self.config.num_ws)], dim=1)
        return (self.w_avg if previous is None else previous) + offsets


class E4EEncoder(StyleEncoder):
    """e4e: `ws[:, i] = w_avg + head_0(coarse) + (head_i(level of layer i) if 1 <= i <= num_offsets else 0)`
    (ReStyle: `previous[:, i]` in place of `w_avg`)."""

    @property
    def max_offsets(self) -> int:
        return self.config.num_ws - 1

    def forward(self, images: Tensor, *, num_offsets: int | None = None, previous: Tensor | None = None) -> Tensor:
        """Images `[N, C, R, R]` in [-1, 1] -> ws `[N, num_ws, w_dim]` with offsets on layers 1..num_offsets
        (None: all, as at inference; 0: one W code repeated on every layer)."""
        count = self.max_offsets if num_offsets is None else num_offsets
        if not 0 <= count <= self.max_offsets:
            raise ValueError(f"num_offsets must lie in [0, {self.max_offsets}], got {count}")
        levels = self.pyramid_features(images)
        if previous is None:
            base = self.w_avg + self.head(0, levels)
            ws = base.unsqueeze(1).repeat(1, self.config.num_ws, 1)
        else:
            ws = previous + self.head(0, levels).unsqueeze(1)
        if count == 0:
            return ws
        offsets = torch.stack([self.head(i, levels) for i in range(1, count + 1)], dim=1)
        return torch.cat([ws[:, :1], ws[:, 1 : count + 1] + offsets, ws[:, count + 1 :]], dim=1)


class IterativeEncoder:
    """One of our ReStyle encoders with the generator it renders with: `encode(images, iterations)`, as an
    official ReStyle checkpoint's `ReStyleEncoder` (which carries its decoder) runs."""

    def __init__(self, encoder: StyleEncoder, generator: AnyGenerator) -> None:
        self.encoder = encoder
        self.generator = generator

    @property
    def arch(self) -> str:
        return self.encoder.arch

    @overload
    def encode(self, images: Tensor, iterations: int = ..., *, return_steps: Literal[False] = ...) -> Latents: ...

    @overload
    def encode(
        self, images: Tensor, iterations: int = ..., *, return_steps: Literal[True]
    ) -> tuple[Latents, list[Latents]]: ...

    @torch.no_grad()
    def encode(
        self, images: Tensor, iterations: int = DEFAULT_ITERATIONS, *, return_steps: bool = False
    ) -> Latents | tuple[Latents, list[Latents]]:
        """W+ latents after `iterations` refinements (and the codes after each one when `return_steps`)."""
        steps = [
            Latents(codes.contiguous(), LatentSpace.W_PLUS)
            for codes, _ in self.encoder.restyle_steps(images, self.generator, iterations, render_last=False)
        ]
        return (steps[-1], steps) if return_steps else steps[-1]

    def check_generator(self, generator: AnyGenerator, source: str = "the encoder") -> None:
        self.encoder.check_generator(generator, source)

    def to(self, device: torch.device | str) -> IterativeEncoder:
        return IterativeEncoder(self.encoder.to(device), self.generator.to(device))


def build_encoder(config: EncoderConfig) -> StyleEncoder:
    """An untrained encoder of `config.arch` (`psp`, `e4e` or a ReStyle variant of either)."""
    return E4EEncoder(config) if config.base_arch == "e4e" else PSPEncoder(config)


def restyle_from(encoder: StyleEncoder) -> StyleEncoder:
    """The ReStyle variant of a trained pSp / e4e `encoder`, warm-started from its weights: the backbone's first
    convolution reads the reconstruction's channels with zero weights, so the first iteration (from the mean W)
    gives the base encoder's codes. (The paper trains ReStyle from a backbone alone; this starts closer.)"""
    if encoder.config.restyle:
        raise ValueError(f"the encoder is a {encoder.arch} encoder already")
    config = dataclasses.replace(encoder.config, arch=f"{RESTYLE_PREFIX}{encoder.arch}")  # type: ignore[arg-type]
    state = encoder.state_dict()
    key = f"backbone.{INPUT_CONV}"
    state[key] = torch.cat([state[key], torch.zeros_like(state[key])], dim=1)
    restyle = build_encoder(config).to(encoder.device)
    load_strict(restyle, state, "the base encoder")
    restyle.generator_fingerprint = encoder.generator_fingerprint
    restyle.metadata = dict(encoder.metadata)
    return restyle


def encoder_for(generator: AnyGenerator, arch: Arch, *, num_w_samples: int = 10000, **changes: object) -> StyleEncoder:
    """A fresh encoder bound to `generator`: its shape, fingerprint and mean W (NVIDIA's 10,000-sample estimate,
    `invert.w_stats`). `changes` override architecture fields of `EncoderConfig.for_generator`."""
    from stylegan_edit.generators.wstats import w_stats

    encoder = build_encoder(EncoderConfig.for_generator(generator, arch=arch, **changes))
    encoder.bind(generator, w_stats(generator, num_samples=num_w_samples).mean)
    return encoder.to(generator.device)


def classifier_backbone_settings(classifier: AttributeClassifier) -> dict[str, Any]:
    """The `EncoderConfig` fields that make the backbone the attribute classifier's stem and stages."""
    channels = classifier.config.channels
    if len(channels) != 5:
        raise ValueError(
            f"the attribute classifier has {len(channels) - 1} stride-2 stages; the encoder's pyramid needs 4"
        )
    return {
        "backbone": "classifier",
        "input_resolution": classifier.config.resolution,
        "stem_channels": channels[0],
        "stage_channels": tuple(channels[1:]),
    }


def init_backbone_from_classifier(encoder: StyleEncoder, classifier: AttributeClassifier) -> None:
    """Copy the attribute classifier's stem and stages into the encoder's backbone (`--backbone-init classifier`),
    as pSp and e4e start theirs from a face-recognition network. The encoder must have been built with
    `classifier_backbone_settings(classifier)`."""
    wanted = classifier_backbone_settings(classifier)
    actual = {name: getattr(encoder.config, name) for name in wanted}
    if actual != wanted:
        shown = ", ".join(f"{name} {actual[name]} (classifier: {wanted[name]})" for name in wanted)
        raise ValueError(f"the encoder's backbone does not match the attribute classifier's: {shown}")
    state = {k: v for k, v in classifier.state_dict().items() if k.startswith(("stem.", "stages."))}
    load_strict(encoder.backbone, state, "the attribute classifier")
