"""rosinality/stylegan2-pytorch <-> NVIDIA tensor names (docs/formats.md), generated from the architecture.

j is the block index (b8 -> 0), k = log2(resolution). Derived kernels (blur, upsample) are listed apart: they
are rebuilt from the FIR taps, never copied as learned weights.
"""

from __future__ import annotations

import math


def _layer_names(nv: str, ros: str, noise_index: int) -> list[tuple[str, str]]:
    return [
        (f"{nv}.weight", f"{ros}.conv.weight"),
        (f"{nv}.affine.weight", f"{ros}.conv.modulation.weight"),
        (f"{nv}.affine.bias", f"{ros}.conv.modulation.bias"),
        (f"{nv}.noise_strength", f"{ros}.noise.weight"),
        (f"{nv}.bias", f"{ros}.activate.bias"),
        (f"{nv}.noise_const", f"noises.noise_{noise_index}"),
    ]


def _torgb_names(nv: str, ros: str) -> list[tuple[str, str]]:
    return [
        (f"{nv}.weight", f"{ros}.conv.weight"),
        (f"{nv}.affine.weight", f"{ros}.conv.modulation.weight"),
        (f"{nv}.affine.bias", f"{ros}.conv.modulation.bias"),
        (f"{nv}.bias", f"{ros}.bias"),
    ]


def generator_key_map(img_resolution: int, mapping_layers: int) -> list[tuple[str, str]]:
    """`(NVIDIA name, rosinality name)` for every learned tensor and noise buffer of the generator."""
    pairs = [(f"mapping.fc{i}.{p}", f"style.{i + 1}.{p}") for i in range(mapping_layers) for p in ("weight", "bias")]
    pairs.append(("synthesis.b4.const", "input.input"))
    pairs += _layer_names("synthesis.b4.conv1", "conv1", 0) + _torgb_names("synthesis.b4.torgb", "to_rgb1")
    for j, k in enumerate(range(3, int(math.log2(img_resolution)) + 1)):
        block = f"synthesis.b{2**k}"
        pairs += _layer_names(f"{block}.conv0", f"convs.{2 * j}", 2 * k - 5)
        pairs += _layer_names(f"{block}.conv1", f"convs.{2 * j + 1}", 2 * k - 4)
        pairs += _torgb_names(f"{block}.torgb", f"to_rgbs.{j}")
    return pairs


def generator_kernels(img_resolution: int) -> list[str]:
    count = int(math.log2(img_resolution)) - 2
    return [f"convs.{2 * j}.conv.blur.kernel" for j in range(count)] + [
        f"to_rgbs.{j}.upsample.kernel" for j in range(count)
    ]


def discriminator_key_map(img_resolution: int) -> list[tuple[str, str]]:
    """`(NVIDIA name, rosinality name)` for every learned tensor of the resnet discriminator."""
    pairs = [
        (f"b{img_resolution}.fromrgb.weight", "convs.0.0.weight"),
        (f"b{img_resolution}.fromrgb.bias", "convs.0.1.bias"),
    ]
    for i, k in enumerate(range(int(math.log2(img_resolution)), 2, -1), start=1):
        nv, ros = f"b{2**k}", f"convs.{i}"
        pairs += [
            (f"{nv}.conv0.weight", f"{ros}.conv1.0.weight"),
            (f"{nv}.conv0.bias", f"{ros}.conv1.1.bias"),
            (f"{nv}.conv1.weight", f"{ros}.conv2.1.weight"),
            (f"{nv}.conv1.bias", f"{ros}.conv2.2.bias"),
            (f"{nv}.skip.weight", f"{ros}.skip.1.weight"),
        ]
    pairs += [("b4.conv.weight", "final_conv.0.weight"), ("b4.conv.bias", "final_conv.1.bias")]
    pairs += [
        (f"b4.{nv}.{p}", f"final_linear.{i}.{p}") for i, nv in enumerate(("fc", "out")) for p in ("weight", "bias")
    ]
    return pairs


def discriminator_kernels(img_resolution: int) -> list[str]:
    count = int(math.log2(img_resolution)) - 2
    return [f"convs.{i}.{n}.0.kernel" for i in range(1, count + 1) for n in ("conv2", "skip")]


def rosinality_channels(resolution: int, channel_multiplier: int) -> int:
    """rosinality's channel count at `resolution` (its `channels` table)."""
    return 512 if resolution <= 32 else 16384 * channel_multiplier // resolution
