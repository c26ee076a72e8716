"""The generator inside an official pSp / e4e / ReStyle encoder checkpoint (`{state_dict, opts, latent_avg}`): its
`decoder.*` tensors are a rosinality StyleGAN2 generator of `opts` size (512-d W, 8 mapping layers, multiplier 2)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stylegan_edit.files import CheckpointError, malformed
from stylegan_edit.generators import Network

DECODER_PREFIX = "decoder."


def checkpoint_opts(checkpoint: dict[str, Any], source: str | Path) -> dict[str, Any]:
    """The training options of an official encoder checkpoint as a dict (stored as a dict or a Namespace)."""
    opts = checkpoint.get("opts")
    if isinstance(opts, argparse.Namespace):
        opts = vars(opts)
    if not isinstance(opts, dict):
        raise CheckpointError(f"{source}: opts is a {type(opts).__name__}, not the dict of training options")
    return opts


def is_official_encoder_checkpoint(checkpoint: Any) -> bool:
    """True for a dict holding a `state_dict` of `encoder.*` / `decoder.*` tensors and the training `opts`."""
    if not isinstance(checkpoint, dict) or "opts" not in checkpoint:
        return False
    state = checkpoint.get("state_dict")
    return isinstance(state, dict) and any(str(k).startswith(("encoder.", DECODER_PREFIX)) for k in state)


def decoder_size(opts: dict[str, Any], source: str | Path) -> int:
    """The generator's resolution: pSp's and ReStyle's `output_size` (1024 when absent, as pSp's inference
    assumes), e4e's `stylegan_size`."""
    size = opts.get("output_size", opts.get("stylegan_size", 1024))
    if not isinstance(size, int) or isinstance(size, bool) or size < 4 or size > 2**14 or size & (size - 1):
        raise CheckpointError(f"{source}: opts output size {size!r} is not a power of two in [4, 16384]")
    return size


def average_w(latent_avg: Tensor, source: str | Path) -> Tensor:
    """`latent_avg` (`[512]`, or `[k, 512]` of equal rows as the projects store it) as one W `[512]`."""
    if not isinstance(latent_avg, Tensor) or latent_avg.numel() == 0 or latent_avg.shape[-1] != 512:
        raise CheckpointError(f"{source}: latent_avg is not a [..., 512] tensor")
    rows = latent_avg.detach().to(torch.float32).reshape(-1, 512)
    return rows[0] if bool((rows == rows[:1]).all()) else rows.mean(dim=0)


def read_official_decoder(checkpoint: dict[str, Any], path: str | Path) -> Network:
    """The decoder as a `Network` (no discriminator). The noise buffers become the generator's constant noise;
    `w_avg` is `latent_avg` (else computed, as for a rosinality training checkpoint, and noted)."""
    from stylegan_edit.formats.rosinality import read_generator

    source = str(path)
    opts = checkpoint_opts(checkpoint, source)
    state = checkpoint["state_dict"]
    decoder = {k[len(DECODER_PREFIX) :]: v for k, v in state.items() if str(k).startswith(DECODER_PREFIX)}
    if not decoder:
        raise CheckpointError(f"{source} is an encoder checkpoint without decoder.* tensors")
    size = decoder_size(opts, source)
    ros: dict[str, Any] = {
        "g_ema": decoder,
        "args": argparse.Namespace(size=size, latent=512, n_mlp=8, channel_multiplier=2),
    }
    if checkpoint.get("latent_avg") is not None:
        ros["latent_avg"] = average_w(checkpoint["latent_avg"], source)
    with malformed(path, "official encoder checkpoint's decoder"):
        try:
            generator, note = read_generator(ros, source)
        except KeyError as exc:
            raise CheckpointError(
                f"{source}: decoder.* does not match rosinality's StyleGAN2 layout (no {exc})"
            ) from None
    metadata = {"source_format": "official-encoder-decoder", "source_file": Path(path).name}
    if note:
        metadata["note"] = note
    return Network(generator, None, metadata)
