"""Test helper: official HyperStyle checkpoints in the project's exact layout, and its hypernet forward written
functionally over those names.

Names and shapes are listed here by hand from yuval-alaluf/hyperstyle (`models/hypernetworks/hypernetwork.py`,
`refinement_blocks.py`, `shared_weights_hypernet.py`, `models/encoders/w_encoder.py`, `training/coach_hyperstyle.py`
`__get_save_dict`), not from our modules: torchvision's ResNet34 `layer1..4` blocks become `body.0..15`, the
shared hypernet appears under `shared_weight_hypernet.*` and again under each sharing block's `hypernet.*`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tests.official_checkpoints import decoder_state, encoder_state

# layer_idx: [kernel_size, in_channels, out_channels] (the official PARAMETERS, 1024 px)
PARAMETERS = {
    0: (3, 512, 512), 1: (1, 512, 3), 2: (3, 512, 512), 3: (3, 512, 512), 4: (1, 512, 3), 5: (3, 512, 512),
    6: (3, 512, 512), 7: (1, 512, 3), 8: (3, 512, 512), 9: (3, 512, 512), 10: (1, 512, 3), 11: (3, 512, 512),
    12: (3, 512, 512), 13: (1, 512, 3), 14: (3, 512, 256), 15: (3, 256, 256), 16: (1, 256, 3), 17: (3, 256, 128),
    18: (3, 128, 128), 19: (1, 128, 3), 20: (3, 128, 64), 21: (3, 64, 64), 22: (1, 64, 3), 23: (3, 64, 32),
    24: (3, 32, 32), 25: (1, 32, 3),
}  # fmt: skip
TO_RGB_LAYERS = (1, 4, 7, 10, 13, 16, 19, 22, 25)
SHARED_LAYERS = (0, 2, 3, 5, 6, 8, 9, 11, 12)
RESNET34 = ((64, 3), (128, 4), (256, 6), (512, 3))  # (planes, blocks) of layer1..layer4


def resnet_blocks() -> list[tuple[int, int, int]]:
    """(in, planes, stride) of the 16 BasicBlocks of torchvision's ResNet34."""
    blocks, channels = [], 64
    for stage, (planes, count) in enumerate(RESNET34):
        for j in range(count):
            blocks.append((channels, planes, 2 if stage > 0 and j == 0 else 1))
            channels = planes
    return blocks


class _Weights:
    """Random tensors of a fixed seed (`meta`: shapes only, no memory)."""

    def __init__(self, seed: int, *, meta: bool = False) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.meta = meta
        self.state: dict[str, Tensor] = {}

    def randn(self, *shape: int, scale: float = 1.0, dtype: torch.dtype = torch.float32) -> Tensor:
        if self.meta:
            return torch.empty(shape, device="meta", dtype=dtype)
        return (torch.randn(shape, generator=self.gen) * scale).to(dtype)

    def conv(self, name: str, cout: int, cin: int, k: int, *, bias: bool, gain: float = 1.0) -> None:
        self.state[f"{name}.weight"] = self.randn(cout, cin, k, k, scale=gain / math.sqrt(cin * k * k))
        if bias:
            self.state[f"{name}.bias"] = self.randn(cout, scale=0.1)

    def bn(self, name: str, c: int) -> None:
        self.state[f"{name}.weight"] = 1 + self.randn(c, scale=0.2)
        self.state[f"{name}.bias"] = self.randn(c, scale=0.2)
        self.state[f"{name}.running_mean"] = self.randn(c, scale=0.3)
        self.state[f"{name}.running_var"] = 0.5 + 1.5 * self.randn(c).abs()
        self.state[f"{name}.num_batches_tracked"] = torch.tensor(777, dtype=torch.long)


def hypernet_state(
    *, output_size: int, layers_to_tune: list[int], separable: bool = False, seed: int = 0, meta: bool = False
) -> dict[str, Tensor]:
    """The `hypernet.*` tensors (without the prefix); tensors of a million values or more in float16, to keep the
    file small (`load_state_dict` casts them, in the official code too)."""
    n_outputs = {1024: 26, 512: 23, 256: 20}[output_size]
    w = _Weights(seed, meta=meta)
    w.conv("conv1", 64, 6, 7, bias=False)
    w.bn("bn1", 64)
    w.state["relu.weight"] = 0.25 + w.randn(64, scale=0.05)
    for i, (cin, planes, stride) in enumerate(resnet_blocks()):
        w.conv(f"body.{i}.conv1", planes, cin, 3, bias=False)
        w.bn(f"body.{i}.bn1", planes)
        w.conv(f"body.{i}.conv2", planes, planes, 3, bias=False, gain=0.5)
        w.bn(f"body.{i}.bn2", planes)
        if stride != 1 or cin != planes:
            w.conv(f"body.{i}.downsample.0", planes, cin, 1, bias=False)
            w.bn(f"body.{i}.downsample.1", planes)
    # The shared hypernet's 134M-value w2 / b2 are stored as one random row viewed on every row (stride 0): the
    # file keeps one row, the module still gets the full official shapes.
    shared = {
        "w1": w.randn(512, 512 * 9, scale=0.05 / math.sqrt(512)),
        "b1": w.randn(512 * 9, scale=0.01),
        "w2": w.randn(512 * 512, scale=1 / math.sqrt(512)).expand(512, -1),
        "b2": w.randn(512 * 512, scale=0.1),
    }
    w.state.update({f"shared_weight_hypernet.{k}": v for k, v in shared.items()})
    for i in range(n_outputs):
        if i not in layers_to_tune:
            continue
        p = f"refinement_blocks.{i}"
        k, cin, cout = PARAMETERS[i]
        if i in SHARED_LAYERS:
            widths = [512, 128, 128, 128, 128, 512]
            for j in range(5):
                w.conv(f"{p}.convs.{2 * j}", widths[j + 1], widths[j], 3, bias=True, gain=1.4)
            w.state[f"{p}.linear.weight"] = w.randn(512, 512)
            w.state[f"{p}.linear.bias"] = w.randn(512, scale=0.1)
            w.state.update({f"{p}.hypernet.{name}": v for name, v in shared.items()})
            continue
        pools = 3 if separable or i in TO_RGB_LAYERS else 2
        widths = [512] + [256] * pools + [512]
        for j in range(pools + 1):
            w.conv(f"{p}.convs.{2 * j}", widths[j + 1], widths[j], 3, bias=True, gain=1.4)
        if i in TO_RGB_LAYERS:
            w.conv(f"{p}.output.0", cin * cout, 512, 1, bias=True, gain=0.1)
        elif separable:
            for name, fan_out, fan_in in (
                ("make_kernel_in", k * k * cin, 512),
                ("make_kernel_out", k * k * cout, 512),
                ("kernel_linear_in", cin, cin),
                ("kernel_linear_out", cout, cout),
            ):
                w.state[f"{p}.output.0.{name}.weight"] = w.randn(fan_out, fan_in, scale=0.3 / math.sqrt(fan_in))
                w.state[f"{p}.output.0.{name}.bias"] = w.randn(fan_out, scale=0.01)
        else:
            w.conv(f"{p}.output.1", cin * cout, 512, 1, bias=True, gain=0.1)
    return {k: _small(v) for k, v in w.state.items()}


def _small(value: Tensor) -> Tensor:
    """Tensors of a million values or more (but stride-0 views, which the file keeps small anyway) in float16."""
    return value.half() if value.numel() >= 1 << 20 and value.stride()[0] else value


def write_hyperstyle_checkpoint(
    path: str | Path,
    *,
    output_size: int = 256,
    layers_to_tune: str = "0,2,17,18,19",
    encoder_type: str = "SharedWeightsHyperNetResNet",
    seed: int = 0,
) -> dict[str, Any]:
    """An official HyperStyle checkpoint as the coach's `__get_save_dict` writes it; returns the dict written."""
    layers = [int(v) for v in layers_to_tune.split(",")] if layers_to_tune else list(range(20))
    separable = encoder_type.endswith("Separable")
    state = {
        f"hypernet.{k}": v
        for k, v in hypernet_state(
            output_size=output_size, layers_to_tune=layers, separable=separable, seed=seed
        ).items()
    }
    state.update({f"decoder.{k}": _small(v) for k, v in decoder_state(output_size, seed).items()})
    n_styles = int(math.log(output_size, 2)) * 2 - 2
    opts = {
        "exp_dir": "experiments/hyperstyle",
        "dataset_type": "ffhq_hypernet",
        "encoder_type": encoder_type,
        "input_nc": 6,
        "output_size": output_size,
        "batch_size": 8,
        "learning_rate": 0.0001,
        "optim_name": "ranger",
        "lpips_lambda": 0.8,
        "l2_lambda": 1.0,
        "id_lambda": 0.1,
        "n_iters_per_batch": 5,
        "load_w_encoder": True,
        "w_encoder_checkpoint_path": "pretrained_models/faces_w_encoder.pt",
        "w_encoder_type": "WEncoder",
        "layers_to_tune": layers_to_tune,
        "checkpoint_path": None,
        "device": "cuda:0",
        "n_hypernet_outputs": {1024: 26, 512: 23, 256: 20}[output_size],
    }
    row = torch.randn(512, generator=torch.Generator().manual_seed(seed + 7)) * 0.5
    checkpoint = {
        "state_dict": state,
        "opts": opts,
        "latent_avg": row.repeat(n_styles, 1),
        "global_step": 500000,
        "best_val_loss": 0.1,
    }
    torch.save(checkpoint, path)
    return checkpoint


def write_w_encoder_checkpoint(path: str | Path, *, seed: int = 1) -> dict[str, Any]:
    """HyperStyle's `faces_w_encoder.pt` layout: a pSp-style checkpoint of a `WEncoder` (IR-SE-50 `input_layer`,
    `body`, `linear`); its own latent_avg is not what HyperStyle adds."""
    tensors = encoder_state("SingleStyleCodeEncoder", output_size=1024, seed=seed)
    state = {f"encoder.{k}": _small(v) for k, v in tensors.items()}
    opts = {"encoder_type": "WEncoder", "output_size": 1024, "input_nc": 3, "dataset_type": "ffhq_encode"}
    checkpoint = {"state_dict": state, "opts": opts, "latent_avg": torch.zeros(18, 512)}
    torch.save(checkpoint, path)
    return checkpoint


# --- the official hypernet forward, functionally -----------------------------------------------------------------


def _bn(s: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    return F.batch_norm(
        x, s[f"{name}.running_mean"], s[f"{name}.running_var"], s[f"{name}.weight"], s[f"{name}.bias"], False, 0.1, 1e-5
    )


def reference_features(s: dict[str, Tensor], x: Tensor) -> Tensor:
    """conv1 (7x7, stride 2, pad 3), bn1, PReLU, then the 16 BasicBlocks: `[N, 6, 256, 256]` -> `[N, 512, 16, 16]`."""
    x = F.prelu(_bn(s, "bn1", F.conv2d(x, s["conv1.weight"], stride=2, padding=3)), s["relu.weight"])
    for i, (_, _, stride) in enumerate(resnet_blocks()):
        p = f"body.{i}"
        out = F.relu(_bn(s, f"{p}.bn1", F.conv2d(x, s[f"{p}.conv1.weight"], stride=stride, padding=1)))
        out = _bn(s, f"{p}.bn2", F.conv2d(out, s[f"{p}.conv2.weight"], padding=1))
        identity = x
        if f"{p}.downsample.0.weight" in s:
            identity = _bn(s, f"{p}.downsample.1", F.conv2d(x, s[f"{p}.downsample.0.weight"], stride=stride))
        x = F.relu(out + identity)
    return x


def _convs(s: dict[str, Tensor], p: str, x: Tensor, first_stride: int) -> Tensor:
    j = 0
    while f"{p}.convs.{j}.weight" in s:
        stride = first_stride if j == 0 else 2
        x = F.leaky_relu(F.conv2d(x, s[f"{p}.convs.{j}.weight"], s[f"{p}.convs.{j}.bias"], stride, 1), 0.01)
        j += 2
    return x


def reference_block(s: dict[str, Tensor], i: int, features: Tensor, *, separable: bool = False) -> Tensor:
    """`refinement_blocks.i` on the body's features `[N, 512, 16, 16]` (float32 tensors `s`)."""
    p = f"refinement_blocks.{i}"
    k, cin, cout = PARAMETERS[i]
    if i in SHARED_LAYERS:
        code = _convs(s, p, features, 1).view(-1, 512)
        code = F.linear(code, s[f"{p}.linear.weight"] / math.sqrt(512), s[f"{p}.linear.bias"])
        h_in = (code @ s[f"{p}.hypernet.w2"] + s[f"{p}.hypernet.b2"]).view(-1, 512, 512)
        h_final = h_in @ s[f"{p}.hypernet.w1"] + s[f"{p}.hypernet.b1"]
        return h_final.view(-1, 512, 512, 3, 3)
    y = _convs(s, p, features, 2)
    if i in TO_RGB_LAYERS:
        y = F.conv2d(y, s[f"{p}.output.0.weight"], s[f"{p}.output.0.bias"])
        return y.view(-1, cout, cin, k, k)
    if not separable:
        y = F.conv2d(y.mean(dim=(2, 3), keepdim=True), s[f"{p}.output.1.weight"], s[f"{p}.output.1.bias"])
        return y.view(-1, cout, cin)[..., None, None].expand(-1, -1, -1, k, k)
    q = f"{p}.output.0"
    f = y.view(-1, 512)
    kin = F.linear(f, s[f"{q}.make_kernel_in.weight"], s[f"{q}.make_kernel_in.bias"]).view(-1, k, k, 1, cin)
    kout = F.linear(f, s[f"{q}.make_kernel_out.weight"], s[f"{q}.make_kernel_out.bias"]).view(-1, k, k, cout, 1)
    kernel = F.linear(kout @ kin, s[f"{q}.kernel_linear_in.weight"], s[f"{q}.kernel_linear_in.bias"])
    kernel = kernel.permute(0, 1, 2, 4, 3)
    kernel = F.linear(kernel, s[f"{q}.kernel_linear_out.weight"], s[f"{q}.kernel_linear_out.bias"])
    return kernel.permute(0, 4, 3, 1, 2)


def reference_deltas(
    state: dict[str, Tensor], x: Tensor, n_outputs: int, *, separable: bool = False
) -> list[Tensor | None]:
    """Every refinement block's output for the 6-channel input `x` (None for layers not tuned)."""
    s = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    features = reference_features(s, x)
    return [
        reference_block(s, i, features, separable=separable) if f"refinement_blocks.{i}.convs.0.weight" in s else None
        for i in range(n_outputs)
    ]


def reference_w_codes(state: dict[str, Tensor], x: Tensor, n_styles: int) -> Tensor:
    """HyperStyle's `WEncoder` on the 256 px photo: IR-SE-50, mean over space, EqualLinear, repeated per layer."""
    from tests.official_checkpoints import reference_features as irse_features

    s = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    pooled = irse_features(s, x)[-1].mean(dim=(2, 3))
    code = F.linear(pooled, s["linear.weight"] / math.sqrt(512), s["linear.bias"])
    return code[:, None].expand(-1, n_styles, -1)
