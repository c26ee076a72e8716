"""Read an official pSp / e4e / ReStyle checkpoint (`{state_dict, opts, latent_avg}`, `torch.save`d) weights-only:
its `opts` pick the architecture, its `encoder.*` tensors load strictly, its `latent_avg` finishes the codes."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from stylegan_edit.encoders.official.e4e import Encoder4Editing, SingleStyleCodeEncoder
from stylegan_edit.encoders.official.encoder import ENCODER_PREFIX, STYLE_DIM, OfficialEncoder, OfficialSpec, Project
from stylegan_edit.encoders.official.psp import (
    BackboneEncoderUsingLastLayerIntoW,
    BackboneEncoderUsingLastLayerIntoWPlus,
    GradualStyleEncoder,
)
from stylegan_edit.encoders.official.restyle import build_restyle
from stylegan_edit.files import CheckpointError, build_strict, malformed
from stylegan_edit.formats.official_decoder import (
    DECODER_PREFIX,
    checkpoint_opts,
    decoder_size,
    is_official_encoder_checkpoint,
)
from stylegan_edit.formats.rosinality import load_torch_checkpoint

logger = logging.getLogger(__name__)

PSP_TYPES = ("GradualStyleEncoder", "BackboneEncoderUsingLastLayerIntoW", "BackboneEncoderUsingLastLayerIntoWPlus")
E4E_TYPES = ("Encoder4Editing", "SingleStyleCodeEncoder", "GradualStyleEncoder")
RESTYLE_TYPES = (
    "BackboneEncoder",
    "ProgressiveBackboneEncoder",
    "ResNetBackboneEncoder",
    "ResNetProgressiveBackboneEncoder",
)


def read_official_encoder(path: str | Path, *, device: torch.device | str = "cpu") -> Any:
    """The encoder of an official checkpoint (eval mode, no gradients): an `OfficialEncoder` for pSp / e4e, the
    ReStyle builder's encoder for ReStyle. Anything else raises a one-line `CheckpointError` naming the file."""
    path = Path(path)
    source = str(path)
    checkpoint = load_torch_checkpoint(path, what="official encoder checkpoints")
    if not is_official_encoder_checkpoint(checkpoint):
        found = (
            ", ".join(sorted(map(str, checkpoint))[:6]) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        )
        raise CheckpointError(
            f"{path} is not an official pSp / e4e / ReStyle checkpoint (expected state_dict with encoder.* tensors "
            f"and opts; found {found})"
        )
    opts = checkpoint_opts(checkpoint, source)
    state: dict[str, Any] = checkpoint["state_dict"]
    stray = [str(k) for k in state if not str(k).startswith((ENCODER_PREFIX, DECODER_PREFIX))]
    if stray:
        raise CheckpointError(
            f"{path}: state_dict holds tensors outside encoder.* and decoder.*: {', '.join(stray[:3])}"
        )
    tensors = {str(k)[len(ENCODER_PREFIX) :]: v for k, v in state.items() if str(k).startswith(ENCODER_PREFIX)}
    if not tensors or not all(isinstance(v, Tensor) for v in tensors.values()):
        raise CheckpointError(f"{path}: state_dict has no encoder.* tensors (or holds non-tensors)")
    latent_avg = checkpoint.get("latent_avg")
    if latent_avg is not None and not isinstance(latent_avg, Tensor):
        raise CheckpointError(f"{path}: latent_avg is a {type(latent_avg).__name__}, not a tensor")
    if opts.get("encoder_type") in RESTYLE_TYPES or opts.get("input_nc") == 6:
        return _restyle(opts, state, latent_avg, source, device)
    spec = official_spec(opts, source)
    with malformed(path, "official encoder checkpoint"):
        network = build_strict(lambda: _build(spec), tensors, path)
        average = _latent_avg(spec, latent_avg, checkpoint, source)
    encoder = OfficialEncoder(network, spec, average, source)
    logger.info(
        "read %s: %s %s for %d px, %d W+ layers", path, spec.project, spec.encoder_type, spec.output_size, spec.n_styles
    )
    return encoder.to(device).eval().requires_grad_(False)


def official_spec(opts: dict[str, Any], source: str) -> OfficialSpec:
    """The pSp / e4e architecture that `opts` describe (pSp's inference defaults for keys old files lack)."""
    e4e = "stylegan_size" in opts and "output_size" not in opts
    project: Project = "e4e" if e4e else "psp"
    encoder_type = opts.get("encoder_type", "Encoder4Editing" if e4e else "GradualStyleEncoder")
    known = E4E_TYPES if e4e else PSP_TYPES
    if encoder_type not in known:
        raise CheckpointError(f"{source}: encoder_type {encoder_type!r} is not one of {project}'s ({', '.join(known)})")
    size = decoder_size(opts, source)
    input_nc = 3 if e4e else opts.get("input_nc", 3)
    if not isinstance(input_nc, int) or isinstance(input_nc, bool) or not 1 <= input_nc <= 64:
        raise CheckpointError(f"{source}: opts input_nc {input_nc!r} is not a channel count")
    return OfficialSpec(
        project=project,
        encoder_type=encoder_type,
        output_size=size,
        input_nc=input_nc,
        n_styles=int(math.log(size, 2)) * 2 - 2,
        start_from_latent_avg=bool(opts.get("start_from_latent_avg", False)),
        learn_in_w=not e4e and bool(opts.get("learn_in_w", False)),
    )


def _build(spec: OfficialSpec) -> nn.Module:
    if spec.encoder_type == "Encoder4Editing":
        return Encoder4Editing(n_styles=spec.n_styles)
    if spec.encoder_type == "SingleStyleCodeEncoder":
        return SingleStyleCodeEncoder(n_styles=spec.n_styles)
    if spec.encoder_type == "BackboneEncoderUsingLastLayerIntoW":
        return BackboneEncoderUsingLastLayerIntoW(input_nc=spec.input_nc)
    if spec.encoder_type == "BackboneEncoderUsingLastLayerIntoWPlus":
        return BackboneEncoderUsingLastLayerIntoWPlus(input_nc=spec.input_nc, n_styles=spec.n_styles)
    return GradualStyleEncoder(input_nc=spec.input_nc, n_styles=spec.n_styles)


def _latent_avg(
    spec: OfficialSpec, latent_avg: Tensor | None, checkpoint: dict[str, Any], source: str
) -> Tensor | None:
    """`latent_avg` shaped for adding to the raw codes: `[512]` in W, else `[1 or n_styles, 512]`."""
    if not spec.start_from_latent_avg:
        return None
    if latent_avg is None:
        if spec.project != "e4e":
            raise CheckpointError(f"{source}: opts say start_from_latent_avg but the file has no latent_avg")
        from stylegan_edit.formats.official_decoder import read_official_decoder

        logger.warning("%s has no latent_avg: using the mean W of its decoder, as e4e computes one", source)
        latent_avg = read_official_decoder(checkpoint, source).generator.mapping.w_avg.reshape(1, STYLE_DIM)
    value = latent_avg.detach().to(torch.float32)
    if spec.learn_in_w:
        if value.numel() != STYLE_DIM:
            raise CheckpointError(f"{source}: learn_in_w needs a latent_avg of 512 values, got {list(value.shape)}")
        return value.reshape(STYLE_DIM)
    rows = value.reshape(-1, STYLE_DIM) if value.ndim <= 2 and value.shape[-1] == STYLE_DIM else None
    if rows is None or rows.shape[0] not in (1, spec.n_styles):
        raise CheckpointError(
            f"{source}: latent_avg has shape {list(value.shape)}; expected [512], [1, 512] or [{spec.n_styles}, 512]"
        )
    return rows.clone()


def _restyle(
    opts: dict[str, Any], state: dict[str, Tensor], latent_avg: Tensor | None, source: str, device: torch.device | str
) -> Any:
    """ReStyle's builder gets the whole `state_dict` (`encoder.*` and `decoder.*`: its iterations render with the
    decoder, `formats.official_decoder.read_official_decoder` reads it), the raw `latent_avg` and the file's name."""
    return build_restyle(opts, state, latent_avg, source).to(device).eval().requires_grad_(False)
