"""Official HyperStyle checkpoints (arXiv:2111.15666; `hyperstyle_ffhq.pt`: `{state_dict, opts, latent_avg}` with
`hypernet.*` and `decoder.*` tensors), read weights-only, with the separate W encoder they need (`faces_w_encoder.pt`,
an e4e-style W encoder's `encoder.*` tensors), and the official iterative inference.

Inference as `utils/inference_utils.run_inversion`: the photo at 256 px (the test transform); codes = W encoder
+ the HyperStyle file's `latent_avg` (not the W encoder's); then per iteration the hypernet sees (photo ‖ the
current reconstruction pooled to 256 px) and its offsets are added to the previous ones; constant noise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.encoders.config import check_generator_shape, generator_fingerprint
from stylegan_edit.encoders.hyperstyle import Deltas, HyperStyleResult, iterate
from stylegan_edit.encoders.hyperstyle_config import PAPER_ITERATIONS
from stylegan_edit.encoders.official.e4e import SingleStyleCodeEncoder
from stylegan_edit.encoders.official.encoder import ENCODER_PREFIX, INPUT_SIDE, STYLE_DIM, official_input
from stylegan_edit.encoders.official.hyperstyle_hypernet import HYPERNET_TYPES, OUTPUTS
from stylegan_edit.files import CheckpointError, build_strict, malformed
from stylegan_edit.formats.official_decoder import DECODER_PREFIX, checkpoint_opts, read_official_decoder
from stylegan_edit.formats.rosinality import load_torch_checkpoint
from stylegan_edit.generators import AnyGenerator, Generator
from stylegan_edit.latents import Latents, LatentSpace

logger = logging.getLogger(__name__)

HYPERNET_PREFIX = "hypernet."
W_ENCODER_TYPES = ("WEncoder", "SingleStyleCodeEncoder", "BackboneEncoderUsingLastLayerIntoW")
"""W encoders with one layout: IR-SE-50 `input_layer` / `body`, `linear` (HyperStyle's `WEncoder`, e4e's)."""
INPUT_NC = 6


@dataclass(frozen=True)
class HyperStyleSpec:
    """What a checkpoint's `opts` decide: the hypernet class, the decoder's size, the tuned layers."""

    encoder_type: str
    output_size: int
    layers_to_tune: tuple[int, ...]

    @property
    def n_styles(self) -> int:
        return 2 * self.output_size.bit_length() - 4


def is_official_hyperstyle_checkpoint(checkpoint: Any) -> bool:
    """True for a dict with `opts` and a `state_dict` holding `hypernet.*` tensors."""
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    return isinstance(state, dict) and "opts" in checkpoint and any(str(k).startswith(HYPERNET_PREFIX) for k in state)


def hyperstyle_spec(opts: dict[str, Any], source: str) -> HyperStyleSpec:
    """The architecture `opts` describe; a one-line `CheckpointError` for anything the official code refuses."""
    encoder_type = opts.get("encoder_type")
    if encoder_type not in HYPERNET_TYPES:
        raise CheckpointError(f"{source}: encoder_type {encoder_type!r} is not one of {', '.join(HYPERNET_TYPES)}")
    size = opts.get("output_size", 1024)
    if size not in OUTPUTS:
        raise CheckpointError(f"{source}: output_size {size!r} is not one of HyperStyle's {sorted(OUTPUTS)}")
    if opts.get("input_nc", INPUT_NC) != INPUT_NC:
        raise CheckpointError(f"{source}: HyperStyle takes 6 input channels, opts say {opts.get('input_nc')!r}")
    if "cars" in str(opts.get("dataset_type", "")):
        raise CheckpointError(f"{source}: HyperStyle's cars models (192x256 crops) are not supported")
    text = opts.get("layers_to_tune", "")
    try:
        layers = tuple(int(part) for part in str(text).split(",")) if text else tuple(range(OUTPUTS[size]))
    except ValueError:
        raise CheckpointError(f"{source}: layers_to_tune {text!r} is not a comma-separated list of layers") from None
    if any(not 0 <= i < OUTPUTS[size] for i in layers):
        raise CheckpointError(f"{source}: layers_to_tune {text!r} names layers outside [0, {OUTPUTS[size]})")
    return HyperStyleSpec(encoder_type, size, layers)


class OfficialHyperStyle(nn.Module):
    """An official HyperStyle behind our HyperStyle interface: `hypernet` (its `hypernet.*` names), `decoder`
    (its `decoder.*` generator), `w_encoder` (the W encoder file's network) and `latent_avg` `[n_styles, 512]`."""

    def __init__(
        self,
        hypernet: nn.Module,
        decoder: Generator,
        w_encoder: nn.Module,
        latent_avg: Tensor,
        spec: HyperStyleSpec,
        source: str,
    ) -> None:
        super().__init__()
        self.hypernet = hypernet
        self.generator = decoder
        self.w_encoder = w_encoder
        self.spec = spec
        self.source = source
        self.register_buffer("latent_avg", latent_avg)
        self.latent_avg: Tensor
        self.metadata: dict[str, str] = {"source_format": "hyperstyle", "encoder_type": spec.encoder_type}

    @property
    def arch(self) -> str:
        return "hyperstyle"

    @property
    def device(self) -> torch.device:
        return self.latent_avg.device

    @property
    def num_ws(self) -> int:
        return self.spec.n_styles

    def render(self, codes: Tensor, deltas: Deltas | None) -> Tensor:
        """The decoder's full-size images (constant noise, fused modulated convolutions)."""
        return self.generator.synthesis(codes, noise_mode="const", fused_modconv=True, weight_deltas=deltas)

    @staticmethod
    def pool(images: Tensor) -> Tensor:
        """The official `face_pool`: `AdaptiveAvgPool2d((256, 256))`."""
        return F.adaptive_avg_pool2d(images, (INPUT_SIDE, INPUT_SIDE))

    @torch.no_grad()
    def initial(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """W+ codes `[N, n_styles, 512]` (W encoder + `latent_avg`) of images `[N, 3, R, R]` and their render."""
        codes = self.w_encoder(official_input(images, channels=3, device=self.device)) + self.latent_avg
        return codes, self.render(codes, None)

    @torch.no_grad()
    def invert(self, images: Tensor, iterations: int = PAPER_ITERATIONS) -> HyperStyleResult:
        """Images `[N, 3, R, R]` in [-1, 1] -> the W encoder's codes, the summed offsets and every iteration's
        full-size reconstruction (official inference: 5 iterations)."""
        inputs = official_input(images, channels=3, device=self.device)
        codes, current = self.initial(images)
        deltas, renders = iterate(
            inputs, self.pool(current), self.hypernet, lambda d: self.render(codes, d), iterations, resize=self.pool
        )
        return HyperStyleResult(Latents(codes, LatentSpace.W_PLUS), deltas, renders, current)

    def encode(self, images: Tensor) -> Latents:
        return Latents(self.initial(images)[0], LatentSpace.W_PLUS)

    def check_generator(self, generator: AnyGenerator, source: str = "the HyperStyle") -> None:
        """Raise unless `generator` has the decoder's shape; warn when its weights differ (the offsets tune them)."""
        check_generator_shape(
            generator,
            source,
            resolution=self.spec.output_size,
            num_ws=self.num_ws,
            w_dim=STYLE_DIM,
            img_channels=3,
        )
        if generator is not self.generator and generator_fingerprint(generator) != generator_fingerprint(
            self.generator
        ):
            logger.warning("%s tunes the decoder of %s, which differs from this generator", source, self.source)


def read_official_hyperstyle(
    path: str | Path, w_encoder_path: str | Path, *, device: torch.device | str = "cpu"
) -> OfficialHyperStyle:
    """An official HyperStyle checkpoint and its W encoder file (both `.pt`, read weights-only), eval mode, no
    gradients. A one-line `CheckpointError` naming the file for anything that is not of their layout."""
    source = str(path)
    checkpoint = load_torch_checkpoint(path, what="official HyperStyle checkpoints")
    if not is_official_hyperstyle_checkpoint(checkpoint):
        raise CheckpointError(f"{path} is not an official HyperStyle checkpoint (no state_dict of hypernet.* and opts)")
    spec = hyperstyle_spec(checkpoint_opts(checkpoint, source), source)
    state: dict[str, Any] = checkpoint["state_dict"]
    stray = [str(k) for k in state if not str(k).startswith((HYPERNET_PREFIX, DECODER_PREFIX))]
    if stray:
        raise CheckpointError(f"{path}: state_dict holds tensors outside hypernet.* and decoder.*: {stray[:3]}")
    tensors = {str(k)[len(HYPERNET_PREFIX) :]: v for k, v in state.items() if str(k).startswith(HYPERNET_PREFIX)}
    kind = HYPERNET_TYPES[spec.encoder_type]
    latent_avg = _latent_avg(checkpoint.get("latent_avg"), spec.n_styles, source)
    w_encoder = read_w_encoder(w_encoder_path, spec.n_styles)  # before the big build: a wrong file fails fast
    with malformed(path, "official HyperStyle checkpoint"):
        hypernet = build_strict(
            lambda: kind(output_size=spec.output_size, layers_to_tune=list(spec.layers_to_tune)), tensors, path
        )
    decoder = read_official_decoder(checkpoint, path).generator
    assert isinstance(decoder, Generator)
    logger.info("read %s: %s for %d px, layers %s", path, spec.encoder_type, spec.output_size, spec.layers_to_tune)
    model = OfficialHyperStyle(hypernet, decoder, w_encoder, latent_avg, spec, source)
    return model.to(device).eval().requires_grad_(False)


def read_w_encoder(path: str | Path, n_styles: int) -> nn.Module:
    """The W encoder of an official checkpoint (`encoder.*` of HyperStyle's `WEncoder` or e4e's W-only encoder):
    the 256 px photo -> one code repeated on `n_styles` layers, before `latent_avg`."""
    checkpoint = load_torch_checkpoint(path, what="official W encoder checkpoints")
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not any(str(k).startswith(ENCODER_PREFIX) for k in state):
        raise CheckpointError(f"{path} is not an official W encoder checkpoint (no state_dict of encoder.* tensors)")
    opts = checkpoint_opts(checkpoint, str(path)) if "opts" in checkpoint else {}
    if opts.get("encoder_type", "WEncoder") not in W_ENCODER_TYPES:
        raise CheckpointError(
            f"{path}: encoder_type {opts.get('encoder_type')!r} is not a W encoder ({', '.join(W_ENCODER_TYPES)})"
        )
    tensors = {str(k)[len(ENCODER_PREFIX) :]: v for k, v in state.items() if str(k).startswith(ENCODER_PREFIX)}
    with malformed(path, "official W encoder checkpoint"):
        return build_strict(lambda: SingleStyleCodeEncoder(n_styles=n_styles), tensors, path)


def _latent_avg(value: Any, n_styles: int, source: str) -> Tensor:
    """`latent_avg` (`[512]`, `[1, 512]` or `[n_styles, 512]`) as `[n_styles, 512]`."""
    if not isinstance(value, Tensor):
        raise CheckpointError(f"{source}: a HyperStyle checkpoint needs latent_avg, the W encoder codes' offset")
    rows = value.detach().to(torch.float32)
    if rows.ndim > 2 or rows.shape[-1:] != (STYLE_DIM,) or rows.reshape(-1, STYLE_DIM).shape[0] not in (1, n_styles):
        raise CheckpointError(
            f"{source}: latent_avg has shape {list(rows.shape)}; expected [512], [1, 512] or [{n_styles}, 512]"
        )
    return rows.reshape(-1, STYLE_DIM).expand(n_styles, -1).clone()
