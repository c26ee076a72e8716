"""Test helper: official pSp / e4e checkpoints written in the projects' exact layout, and their forward math.

Key names and shapes are listed here by hand from the official module definitions (pixel2style2pixel's
`models/encoders/helpers.py` and `psp_encoders.py`, encoder4editing's `psp_encoders.py`), not from our modules,
so a wrong name or shape in our readers fails to load. `reference_*` recompute the official forward with
functional calls over those names, independently of our modules.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from stylegan_edit.formats.rosinality import to_rosinality
from stylegan_edit.generators import Generator, GeneratorConfig, Network

IR_SE_50 = [
    (64, 64, 3),
    (64, 128, 4),
    (128, 256, 14),
    (256, 512, 3),
]  # (in, depth, units); each stage starts at stride 2


def bottlenecks() -> list[tuple[int, int, int]]:
    """(in_channel, depth, stride) of the 24 body units of IR-SE-50."""
    return [
        (cin if u == 0 else depth, depth, 2 if u == 0 else 1) for cin, depth, units in IR_SE_50 for u in range(units)
    ]


def n_styles_for(size: int) -> int:
    return int(math.log(size, 2)) * 2 - 2


class _Weights:
    """Random tensors of a fixed seed, scaled so activations stay O(1) through the 24 residual units."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.state: dict[str, Tensor] = {}

    def randn(self, *shape: int) -> Tensor:
        return torch.randn(shape, generator=self.gen)

    def conv(self, name: str, cout: int, cin: int, k: int, *, bias: bool, gain: float = 1.0) -> None:
        self.state[f"{name}.weight"] = self.randn(cout, cin, k, k) * gain / math.sqrt(cin * k * k)
        if bias:
            self.state[f"{name}.bias"] = self.randn(cout) * 0.1

    def bn(self, name: str, c: int) -> None:
        """BatchNorm with non-trivial running statistics (mean ~ 0.3, var in [0.5, 2])."""
        self.state[f"{name}.weight"] = 1 + 0.2 * self.randn(c)
        self.state[f"{name}.bias"] = 0.2 * self.randn(c)
        self.state[f"{name}.running_mean"] = 0.3 * self.randn(c)
        self.state[f"{name}.running_var"] = 0.5 + 1.5 * torch.rand(c, generator=self.gen)
        self.state[f"{name}.num_batches_tracked"] = torch.tensor(1234, dtype=torch.long)

    def prelu(self, name: str, c: int) -> None:
        self.state[f"{name}.weight"] = 0.25 + 0.1 * self.randn(c)

    def equal_linear(self, name: str, cout: int, cin: int) -> None:
        self.state[f"{name}.weight"] = self.randn(cout, cin)
        self.state[f"{name}.bias"] = 0.1 * self.randn(cout)

    def backbone(self, input_nc: int) -> None:
        self.conv("input_layer.0", 64, input_nc, 3, bias=False)
        self.bn("input_layer.1", 64)
        self.prelu("input_layer.2", 64)
        for i, (cin, depth, _) in enumerate(bottlenecks()):
            if cin != depth:
                self.conv(f"body.{i}.shortcut_layer.0", depth, cin, 1, bias=False)
                self.bn(f"body.{i}.shortcut_layer.1", depth)
            self.bn(f"body.{i}.res_layer.0", cin)
            self.conv(f"body.{i}.res_layer.1", depth, cin, 3, bias=False)
            self.prelu(f"body.{i}.res_layer.2", depth)
            self.conv(f"body.{i}.res_layer.3", depth, depth, 3, bias=False, gain=0.3)
            self.bn(f"body.{i}.res_layer.4", depth)
            self.conv(f"body.{i}.res_layer.5.fc1", depth // 16, depth, 1, bias=False)
            self.conv(f"body.{i}.res_layer.5.fc2", depth, depth // 16, 1, bias=False)

    def styles(self, n_styles: int) -> None:
        for i in range(n_styles):
            spatial = 16 if i < 3 else 32 if i < 7 else 64
            for j in range(int(math.log2(spatial))):
                self.conv(f"styles.{i}.convs.{2 * j}", 512, 512, 3, bias=True, gain=1.4)
            self.equal_linear(f"styles.{i}.linear", 512, 512)
        self.conv("latlayer1", 512, 256, 1, bias=True)
        self.conv("latlayer2", 512, 128, 1, bias=True)


def encoder_state(encoder_type: str, *, output_size: int, input_nc: int = 3, seed: int = 0) -> dict[str, Tensor]:
    """The `encoder.*` tensors (without the prefix) of an official encoder of `encoder_type`."""
    w = _Weights(seed)
    w.backbone(input_nc)
    n_styles = n_styles_for(output_size)
    if encoder_type in ("GradualStyleEncoder", "Encoder4Editing"):
        w.styles(n_styles)
    elif encoder_type in ("BackboneEncoderUsingLastLayerIntoW", "SingleStyleCodeEncoder"):
        w.equal_linear("linear", 512, 512)
    elif encoder_type == "BackboneEncoderUsingLastLayerIntoWPlus":
        w.bn("output_layer_2.0", 512)
        w.state["output_layer_2.3.weight"] = w.randn(512, 512 * 7 * 7) / math.sqrt(512 * 7 * 7)
        w.state["output_layer_2.3.bias"] = 0.1 * w.randn(512)
        w.equal_linear("linear", 512 * n_styles, 512)
    else:
        raise ValueError(f"unknown encoder_type {encoder_type}")
    return w.state


def decoder_state(output_size: int, seed: int = 0) -> dict[str, Tensor]:
    """A rosinality `Generator(output_size, 512, 8)` state dict (random weights, non-zero noise strengths)."""
    torch.manual_seed(seed)
    generator = Generator(GeneratorConfig(img_resolution=output_size)).eval()
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if name.endswith("noise_strength") or (name.endswith("bias") and "affine" not in name):
                p.copy_(torch.randn(p.shape) * 0.2)
    return to_rosinality(Network(generator, None))["g_ema"]


def latent_avg_for(n_rows: int, seed: int = 0) -> Tensor:
    """`latent_avg` as the projects save it: one W `[512]` repeated on `n_rows` rows."""
    row = torch.randn(512, generator=torch.Generator().manual_seed(seed + 99)) * 0.5
    return row.repeat(n_rows, 1)


def _save(path: Path, checkpoint: dict[str, Any]) -> dict[str, Any]:
    torch.save(checkpoint, path)
    return checkpoint


def write_psp_checkpoint(
    path: str | Path,
    *,
    encoder_type: str = "GradualStyleEncoder",
    output_size: int = 16,
    input_nc: int = 3,
    start_from_latent_avg: bool = True,
    learn_in_w: bool = False,
    seed: int = 0,
    opts_as_namespace: bool = False,
) -> dict[str, Any]:
    """An official pSp checkpoint `{state_dict, opts, latent_avg}` (pSp's coach: latent_avg `[n_styles, 512]`,
    `[1, 512]` when learning in W); returns the dict written."""
    n_styles = n_styles_for(output_size)
    state = {
        f"encoder.{k}": v
        for k, v in encoder_state(encoder_type, output_size=output_size, input_nc=input_nc, seed=seed).items()
    }
    state.update({f"decoder.{k}": v for k, v in decoder_state(output_size, seed).items()})
    opts = {
        "exp_dir": "experiment",
        "dataset_type": "ffhq_encode",
        "encoder_type": encoder_type,
        "input_nc": input_nc,
        "label_nc": 0,
        "output_size": output_size,
        "batch_size": 8,
        "start_from_latent_avg": start_from_latent_avg,
        "learn_in_w": learn_in_w,
        "checkpoint_path": None,
        "device": "cuda:0",
        "n_styles": n_styles,
    }
    checkpoint: dict[str, Any] = {
        "state_dict": state,
        "opts": argparse.Namespace(**opts) if opts_as_namespace else opts,
    }
    if start_from_latent_avg:
        checkpoint["latent_avg"] = latent_avg_for(1 if learn_in_w else n_styles, seed)
    return _save(Path(path), checkpoint)


def write_e4e_checkpoint(
    path: str | Path,
    *,
    encoder_type: str = "Encoder4Editing",
    stylegan_size: int = 16,
    start_from_latent_avg: bool = True,
    with_latent_avg: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """An official e4e checkpoint: opts name the size `stylegan_size`, inputs are RGB; returns the dict written."""
    n_styles = n_styles_for(stylegan_size)
    state = {f"encoder.{k}": v for k, v in encoder_state(encoder_type, output_size=stylegan_size, seed=seed).items()}
    state.update({f"decoder.{k}": v for k, v in decoder_state(stylegan_size, seed).items()})
    opts = {
        "exp_dir": "experiment",
        "dataset_type": "ffhq_encode",
        "encoder_type": encoder_type,
        "stylegan_size": stylegan_size,
        "start_from_latent_avg": start_from_latent_avg,
        "progressive_steps": [0, 20000, 22000],
        "progressive_start": 20000,
        "w_discriminator_lambda": 0.1,
        "checkpoint_path": None,
        "device": "cuda:0",
    }
    checkpoint: dict[str, Any] = {"state_dict": state, "opts": opts}
    if start_from_latent_avg and with_latent_avg:
        checkpoint["latent_avg"] = latent_avg_for(n_styles, seed)
    return _save(Path(path), checkpoint)


# --- the official forward, functionally -------------------------------------------------------------------------


def _bn(s: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    return F.batch_norm(
        x, s[f"{name}.running_mean"], s[f"{name}.running_var"], s[f"{name}.weight"], s[f"{name}.bias"], False, 0.1, 1e-5
    )


def reference_features(s: dict[str, Tensor], x: Tensor) -> list[Tensor]:
    """IR-SE-50 (`input_layer` then `body`) on `x`: the outputs of every body unit."""
    x = F.prelu(_bn(s, "input_layer.1", F.conv2d(x, s["input_layer.0.weight"], padding=1)), s["input_layer.2.weight"])
    outputs = []
    for i, (cin, depth, stride) in enumerate(bottlenecks()):
        p = f"body.{i}"
        if cin == depth:
            shortcut = x[:, :, ::stride, ::stride]
        else:
            shortcut = _bn(s, f"{p}.shortcut_layer.1", F.conv2d(x, s[f"{p}.shortcut_layer.0.weight"], stride=stride))
        r = F.conv2d(_bn(s, f"{p}.res_layer.0", x), s[f"{p}.res_layer.1.weight"], padding=1)
        r = F.prelu(r, s[f"{p}.res_layer.2.weight"])
        r = _bn(s, f"{p}.res_layer.4", F.conv2d(r, s[f"{p}.res_layer.3.weight"], stride=stride, padding=1))
        se = r.mean(dim=(2, 3), keepdim=True)
        se = torch.sigmoid(
            F.conv2d(F.relu(F.conv2d(se, s[f"{p}.res_layer.5.fc1.weight"])), s[f"{p}.res_layer.5.fc2.weight"])
        )
        x = r * se + shortcut
        outputs.append(x)
    return outputs


def reference_style(s: dict[str, Tensor], i: int, x: Tensor) -> Tensor:
    """GradualStyleBlock `styles.i`: stride-2 convs with LeakyReLU(0.01), then EqualLinear (scale 1/sqrt(512))."""
    j = 0
    while f"styles.{i}.convs.{j}.weight" in s:
        x = F.leaky_relu(F.conv2d(x, s[f"styles.{i}.convs.{j}.weight"], s[f"styles.{i}.convs.{j}.bias"], 2, 1), 0.01)
        j += 2
    w = s[f"styles.{i}.linear.weight"]
    return F.linear(x.reshape(-1, 512), w / math.sqrt(w.shape[1]), s[f"styles.{i}.linear.bias"])


def reference_pyramid(s: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(c3, p2, p1): the coarse map and the two FPN merges (bilinear, align_corners=True)."""
    outs = reference_features(s, x)
    c1, c2, c3 = outs[6], outs[20], outs[23]
    p2 = F.interpolate(c3, size=c2.shape[-2:], mode="bilinear", align_corners=True) + F.conv2d(
        c2, s["latlayer1.weight"], s["latlayer1.bias"]
    )
    p1 = F.interpolate(p2, size=c1.shape[-2:], mode="bilinear", align_corners=True) + F.conv2d(
        c1, s["latlayer2.weight"], s["latlayer2.bias"]
    )
    return c3, p2, p1


def reference_gradual_codes(s: dict[str, Tensor], x: Tensor, n_styles: int) -> Tensor:
    """pSp's GradualStyleEncoder: raw codes `[N, n_styles, 512]` for the 256 px input `x`."""
    c3, p2, p1 = reference_pyramid(s, x)
    return torch.stack([reference_style(s, i, c3 if i < 3 else p2 if i < 7 else p1) for i in range(n_styles)], dim=1)


def reference_e4e_codes(s: dict[str, Tensor], x: Tensor, n_styles: int) -> Tensor:
    """e4e's Encoder4Editing at its inference stage: `styles[0](c3)` on all layers plus every offset."""
    c3, p2, p1 = reference_pyramid(s, x)
    w0 = reference_style(s, 0, c3)
    rows = [w0] + [w0 + reference_style(s, i, c3 if i < 3 else p2 if i < 7 else p1) for i in range(1, n_styles)]
    return torch.stack(rows, dim=1)
