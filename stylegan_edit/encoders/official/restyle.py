"""ReStyle (arXiv:2104.02699) checkpoints: `BackboneEncoder` (ReStyle-pSp), `ProgressiveBackboneEncoder` (ReStyle-e4e)
under the project's module names, and its iterative inference: each iteration adds the encoder's residual for
(photo ‖ current reconstruction) at 256 px to the W+ code, starting from `latent_avg` and its image."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.encoders.config import check_generator_shape, generator_fingerprint
from stylegan_edit.encoders.official.encoder import ENCODER_PREFIX, INPUT_SIDE, STYLE_DIM, OfficialSpec, official_input
from stylegan_edit.encoders.official.irse import GradualStyleBlock, InputLayer, IRSEBody
from stylegan_edit.files import CheckpointError, build_strict, malformed
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace

logger = logging.getLogger(__name__)

DEFAULT_ITERATIONS = 5
"""The official `--n_iters_per_batch` default."""
INPUT_NC = 6
FEATURE_SIDE = 16
RESTYLE_TYPES = {"BackboneEncoder": "restyle_psp", "ProgressiveBackboneEncoder": "restyle_e4e"}


class BackboneEncoder(nn.Module):
    """ReStyle-pSp's encoder: stem and IR-SE-50 body, then one map2style head per W+ layer, all on the last
    16x16 features. Input `[N, input_nc, 256, 256]` -> residual codes `[N, n_styles, 512]`."""

    def __init__(self, *, n_styles: int, input_nc: int = INPUT_NC) -> None:
        super().__init__()
        self.input_layer = InputLayer(input_nc)
        self.body = IRSEBody(50, "ir_se")
        self.styles = nn.ModuleList(GradualStyleBlock(STYLE_DIM, STYLE_DIM, FEATURE_SIDE) for _ in range(n_styles))
        self.style_count = n_styles

    def features(self, x: Tensor) -> Tensor:
        """`[N, input_nc, 256, 256]` -> the body's last features `[N, 512, 16, 16]`."""
        return self.body(self.input_layer(x))

    def forward(self, x: Tensor) -> Tensor:
        features = self.features(x)
        return torch.stack([style(features) for style in self.styles], dim=1)


class ProgressiveBackboneEncoder(BackboneEncoder):
    """ReStyle-e4e's encoder at its inference stage (every offset on): `w[:, 0] = head_0`, `w[:, i] = head_0 +
    head_i` for i >= 1, all heads on the last 16x16 features."""

    def forward(self, x: Tensor) -> Tensor:
        features = self.features(x)
        base = self.styles[0](features)
        return torch.stack([base, *(base + style(features) for style in self.styles[1:])], dim=1)


class ReStyleEncoder(nn.Module):
    """A ReStyle checkpoint behind our encoder interface: `encoder` (its `encoder.*` tensors), `decoder` (its
    `decoder.*` generator, which the iterations render with; constant noise as `randomize_noise=False`) and
    `latent_avg` `[n_styles, 512]`, the first iteration's code."""

    def __init__(
        self, encoder: BackboneEncoder, decoder: AnyGenerator, latent_avg: Tensor, spec: OfficialSpec, source: str
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.spec = spec
        self.source = source
        self.register_buffer("latent_avg", latent_avg)
        self.latent_avg: Tensor
        self.metadata: dict[str, str] = {"source_format": spec.project, "encoder_type": spec.encoder_type}

    @property
    def arch(self) -> str:
        """`restyle-psp` or `restyle-e4e`."""
        return self.spec.project.replace("_", "-")

    @property
    def device(self) -> torch.device:
        return self.latent_avg.device

    @property
    def num_ws(self) -> int:
        return self.spec.n_styles

    def reconstruct(self, codes: Tensor) -> Tensor:
        """W+ `[N, n_styles, 512]` -> the decoder's images pooled to the encoder's input `[N, 3, 256, 256]`
        (`AdaptiveAvgPool2d(256)`, the official `face_pool`)."""
        images = self.decoder.synthesis(codes, noise_mode="const")
        return F.adaptive_avg_pool2d(images, (INPUT_SIDE, INPUT_SIDE))

    def average_image(self) -> Tensor:
        """The first iteration's reconstruction: `latent_avg`'s image `[1, 3, 256, 256]`."""
        return self.reconstruct(self.latent_avg.unsqueeze(0))

    def residual(self, inputs: Tensor, current: Tensor) -> Tensor:
        """What one iteration adds: the encoder on (photo ‖ current reconstruction), both `[N, 3, 256, 256]`."""
        return self.encoder(torch.cat([inputs, current], dim=1))

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
        """W+ latents `[N, n_styles, 512]` of the decoder for images `[N, 3, R, R]` in [-1, 1] after `iterations`
        refinements (the codes after each one too, the last equal to the result, when `return_steps`).

        The photo is resized to 256 px as the official test transform does (`official_input`); iteration k adds
        `encoder(photo ‖ pool(decoder(code_{k-1})))` to `code_{k-1}`, with `code_0 = latent_avg`.
        """
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a whole number of at least 1, got {iterations!r}")
        inputs = official_input(images, channels=3, device=self.device)
        count = inputs.shape[0]
        current = self.average_image().expand(count, -1, -1, -1)
        codes = self.latent_avg.expand(count, -1, -1)
        steps = []
        for k in range(iterations):
            codes = self.residual(inputs, current) + codes
            steps.append(Latents(codes.contiguous(), LatentSpace.W_PLUS))
            if k + 1 < iterations:
                current = self.reconstruct(codes)
        return (steps[-1], steps) if return_steps else steps[-1]

    def check_generator(self, generator: AnyGenerator, source: str = "the encoder") -> None:
        """Raise a one-line `ValueError` when `generator` is not of the decoder's shape; log a warning when it has
        the shape but other weights (the codes are fitted to the decoder's images, not to its)."""
        check_generator_shape(
            generator,
            source,
            resolution=self.decoder.img_resolution,
            num_ws=self.num_ws,
            w_dim=STYLE_DIM,
            img_channels=3,
        )
        if generator is not self.decoder and generator_fingerprint(generator) != generator_fingerprint(self.decoder):
            logger.warning(
                "%s iterates with the decoder of %s, which differs from this generator; codes may be poor",
                source,
                self.source,
            )


def restyle_spec(opts: dict[str, Any], source: str) -> OfficialSpec:
    """The ReStyle architecture `opts` describe (IR-SE-50 backbones only; faces and other square domains)."""
    from stylegan_edit.formats.official_decoder import decoder_size

    encoder_type = opts.get("encoder_type")
    if encoder_type not in RESTYLE_TYPES:
        known = ", ".join(RESTYLE_TYPES)
        raise CheckpointError(f"{source}: ReStyle encoder_type {encoder_type!r} is not supported (only {known})")
    if opts.get("input_nc", INPUT_NC) != INPUT_NC:
        raise CheckpointError(f"{source}: ReStyle iterates on 6 input channels, opts say {opts.get('input_nc')!r}")
    if opts.get("dataset_type") == "cars_encode":
        raise CheckpointError(f"{source}: ReStyle's cars_encode models (192x256 crops) are not supported")
    size = decoder_size(opts, source)
    return OfficialSpec(
        project=RESTYLE_TYPES[encoder_type],  # type: ignore[arg-type]
        encoder_type=encoder_type,
        output_size=size,
        input_nc=INPUT_NC,
        n_styles=2 * int(math.log2(size)) - 2,
        start_from_latent_avg=True,
        learn_in_w=False,
    )


def build_restyle(
    opts: dict[str, Any],
    state_dict: dict[str, Tensor],
    latent_avg: Tensor | None,
    source: str | Path,
    *,
    decoder: AnyGenerator | None = None,
) -> ReStyleEncoder:
    """The `ReStyleEncoder` of a checkpoint's `opts`, whole `state_dict` (`encoder.*` loaded strictly; the
    `decoder.*` generator read unless `decoder` is given) and `latent_avg` (`[512]`, `[1, 512]` or `[n_styles,
    512]`; ReStyle always starts from it). Raises a one-line `CheckpointError` naming `source` otherwise."""
    name = str(source)
    spec = restyle_spec(opts, name)
    if not isinstance(latent_avg, Tensor):
        raise CheckpointError(f"{name}: a ReStyle checkpoint needs latent_avg, its first iteration's code")
    rows = latent_avg.detach().to(torch.float32)
    if (
        rows.shape[-1:] != (STYLE_DIM,)
        or rows.ndim > 2
        or rows.reshape(-1, STYLE_DIM).shape[0] not in (1, spec.n_styles)
    ):
        raise CheckpointError(
            f"{name}: latent_avg has shape {list(rows.shape)}; expected [512], [1, 512] or [{spec.n_styles}, 512]"
        )
    average = rows.reshape(-1, STYLE_DIM).expand(spec.n_styles, -1).clone()
    tensors = {k[len(ENCODER_PREFIX) :]: v for k, v in state_dict.items() if k.startswith(ENCODER_PREFIX)}
    kind = ProgressiveBackboneEncoder if spec.project == "restyle_e4e" else BackboneEncoder
    with malformed(name, "ReStyle checkpoint"):
        network = build_strict(lambda: kind(n_styles=spec.n_styles), tensors, name)
    if decoder is None:
        from stylegan_edit.formats.official_decoder import read_official_decoder

        checkpoint = {"state_dict": state_dict, "opts": opts, "latent_avg": latent_avg}
        decoder = read_official_decoder(checkpoint, name).generator
    logger.info("read %s: %s for %d px, %d W+ layers", name, spec.encoder_type, spec.output_size, spec.n_styles)
    return ReStyleEncoder(network, decoder, average, spec, name).eval().requires_grad_(False)
