"""Test helper: official ReStyle checkpoints in the project's exact layout, and its iterative inference written
functionally over those names.

Key names follow yuval-alaluf/restyle-encoder's `restyle_psp_encoders.BackboneEncoder` / `restyle_e4e_encoders.
ProgressiveBackboneEncoder` (IR-SE-50 `input_layer` / `body`, then `styles.i` = GradualStyleBlock(512, 512, 16)),
listed here by hand, not from our modules. `reference_restyle` recomputes `utils/inference_utils.run_on_batch`
with the functional IR-SE-50 of `tests/official_checkpoints.py` and rosinality's synthesis math.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tests import rosinality_reference
from tests.official_checkpoints import bottlenecks, decoder_state, latent_avg_for, n_styles_for, reference_features

RESTYLE_TYPES = ("BackboneEncoder", "ProgressiveBackboneEncoder")


def restyle_encoder_state(n_styles: int, *, seed: int = 0) -> dict[str, Tensor]:
    """The `encoder.*` tensors (without the prefix): 6-channel IR-SE-50, `n_styles` 16x16 map2style heads;
    BatchNorms with non-trivial running statistics, weights scaled so the codes stay O(1)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=gen)

    def conv(name: str, cout: int, cin: int, k: int, *, bias: bool = False, gain: float = 1.0) -> None:
        state[f"{name}.weight"] = randn(cout, cin, k, k) * gain / math.sqrt(cin * k * k)
        if bias:
            state[f"{name}.bias"] = randn(cout) * 0.1

    def bn(name: str, c: int) -> None:
        state[f"{name}.weight"] = 1 + 0.2 * randn(c)
        state[f"{name}.bias"] = 0.2 * randn(c)
        state[f"{name}.running_mean"] = 0.3 * randn(c)
        state[f"{name}.running_var"] = 0.5 + 1.5 * torch.rand(c, generator=gen)
        state[f"{name}.num_batches_tracked"] = torch.tensor(4321, dtype=torch.long)

    conv("input_layer.0", 64, 6, 3)
    bn("input_layer.1", 64)
    state["input_layer.2.weight"] = 0.25 + 0.1 * randn(64)
    for i, (cin, depth, _) in enumerate(bottlenecks()):
        if cin != depth:
            conv(f"body.{i}.shortcut_layer.0", depth, cin, 1)
            bn(f"body.{i}.shortcut_layer.1", depth)
        bn(f"body.{i}.res_layer.0", cin)
        conv(f"body.{i}.res_layer.1", depth, cin, 3)
        state[f"body.{i}.res_layer.2.weight"] = 0.25 + 0.1 * randn(depth)
        conv(f"body.{i}.res_layer.3", depth, depth, 3, gain=0.3)
        bn(f"body.{i}.res_layer.4", depth)
        conv(f"body.{i}.res_layer.5.fc1", depth // 16, depth, 1)
        conv(f"body.{i}.res_layer.5.fc2", depth, depth // 16, 1)
    for i in range(n_styles):
        for j in range(4):  # log2(16) stride-2 convs: 16 -> 1
            conv(f"styles.{i}.convs.{2 * j}", 512, 512, 3, bias=True, gain=1.4)
        state[f"styles.{i}.linear.weight"] = randn(512, 512) * 0.3
        state[f"styles.{i}.linear.bias"] = 0.05 * randn(512)
    return state


def write_restyle_checkpoint(
    path: str | Path,
    *,
    encoder_type: str = "BackboneEncoder",
    output_size: int = 16,
    seed: int = 0,
    latent_avg_rows: int | None = None,
) -> dict[str, Any]:
    """An official ReStyle checkpoint `{state_dict, opts, latent_avg}` as its coach saves it (latent_avg `[n_styles,
    512]` unless `latent_avg_rows`); returns the dict written."""
    if encoder_type not in RESTYLE_TYPES:
        raise ValueError(f"unknown ReStyle encoder_type {encoder_type}")
    n_styles = n_styles_for(output_size)
    state = {f"encoder.{k}": v for k, v in restyle_encoder_state(n_styles, seed=seed).items()}
    state.update({f"decoder.{k}": v for k, v in decoder_state(output_size, seed).items()})
    opts = {
        "exp_dir": "experiment",
        "dataset_type": "ffhq_encode",
        "encoder_type": encoder_type,
        "input_nc": 6,
        "label_nc": 0,
        "output_size": output_size,
        "batch_size": 8,
        "n_iters_per_batch": 5,
        "start_from_latent_avg": True,
        "checkpoint_path": None,
        "device": "cuda:0",
    }
    checkpoint = {
        "state_dict": state,
        "opts": opts,
        "latent_avg": latent_avg_for(latent_avg_rows or n_styles, seed),
    }
    torch.save(checkpoint, Path(path))
    return checkpoint


def split(checkpoint: dict[str, Any], prefix: str) -> dict[str, Tensor]:
    """The `prefix.*` tensors of a checkpoint's state dict, without the prefix."""
    return {k[len(prefix) + 1 :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix + ".")}


def reference_residual(encoder: dict[str, Tensor], x: Tensor, progressive: bool) -> Tensor:
    """The official encoder on a 6-channel 256 px input: every head on the last 16x16 features (e4e: head 0
    plus head i on layers i >= 1)."""
    features = reference_features(encoder, x)[-1]
    count = sum(1 for k in encoder if k.endswith(".linear.weight"))
    heads = []
    for i in range(count):
        y = features
        for j in range(0, 8, 2):
            y = F.leaky_relu(
                F.conv2d(y, encoder[f"styles.{i}.convs.{j}.weight"], encoder[f"styles.{i}.convs.{j}.bias"], 2, 1), 0.01
            )
        w = encoder[f"styles.{i}.linear.weight"]
        heads.append(F.linear(y.reshape(-1, 512), w / math.sqrt(512), encoder[f"styles.{i}.linear.bias"]))
    if progressive:
        heads = [heads[0]] + [heads[0] + h for h in heads[1:]]
    return torch.stack(heads, dim=1)


def reference_render(decoder: dict[str, Tensor], codes: Tensor) -> Tensor:
    """rosinality's `decoder([codes], input_is_latent=True, randomize_noise=False)` pooled by `face_pool`."""
    return F.adaptive_avg_pool2d(rosinality_reference.synthesis(decoder, codes), (256, 256))


def reference_restyle(checkpoint: dict[str, Any], inputs: Tensor, iterations: int) -> list[Tensor]:
    """`run_on_batch` on 256 px inputs `[N, 3, 256, 256]`: the codes after each iteration."""
    encoder, decoder = split(checkpoint, "encoder"), split(checkpoint, "decoder")
    progressive = checkpoint["opts"]["encoder_type"] == "ProgressiveBackboneEncoder"
    latent_avg = checkpoint["latent_avg"]
    n_styles = n_styles_for(checkpoint["opts"]["output_size"])
    average = latent_avg.reshape(-1, 512).expand(n_styles, -1)
    current = reference_render(decoder, average[None]).repeat(inputs.shape[0], 1, 1, 1)
    codes: Tensor | None = None
    steps = []
    for _ in range(iterations):
        residual = reference_residual(encoder, torch.cat([inputs, current], dim=1), progressive)
        codes = residual + (average if codes is None else codes)
        steps.append(codes)
        current = reference_render(decoder, codes)
    return steps
