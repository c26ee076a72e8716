"""The StyleGAN2 synthesis network: per-layer W codes -> image (arXiv:1912.04958, config e/f)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from stylegan_edit.generators.config import GeneratorConfig
from stylegan_edit.generators.layers import Conv2dLayer, SynthesisLayer, ToRGBLayer
from stylegan_edit.generators.mapping import check_synthesis_input
from stylegan_edit.generators.ops import setup_filter, upsample2d


class SynthesisBlock(nn.Module):
    """One resolution: (const or up-conv0) + conv1, and a torgb for `skip` (or the last `resnet`) block."""

    def __init__(self, config: GeneratorConfig, resolution: int) -> None:
        super().__init__()
        in_channels = config.channels(resolution // 2) if resolution > 4 else 0
        out_channels = config.channels(resolution)
        self.resolution = resolution
        self.in_channels = in_channels
        self.architecture = config.architecture
        self.is_last = resolution == config.img_resolution
        self.register_buffer("resample_filter", setup_filter(config.resample_filter))
        self.resample_filter: Tensor

        def layer(channels_in: int, up: int) -> SynthesisLayer:
            return SynthesisLayer(
                channels_in,
                out_channels,
                config.w_dim,
                resolution,
                up=up,
                use_noise=config.use_noise,
                resample_filter=config.resample_filter,
                conv_clamp=config.conv_clamp,
            )

        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = layer(in_channels, 2)
        self.conv1 = layer(out_channels, 1)
        self.num_conv = 1 if in_channels == 0 else 2
        self.has_torgb = self.is_last or config.architecture == "skip"
        if self.has_torgb:
            self.torgb = ToRGBLayer(out_channels, config.img_channels, config.w_dim, conv_clamp=config.conv_clamp)
        if in_channels != 0 and config.architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels, out_channels, 1, bias=False, up=2, resample_filter=config.resample_filter
            )

    @property
    def layers(self) -> list[SynthesisLayer]:
        return [self.conv1] if self.in_channels == 0 else [self.conv0, self.conv1]

    @property
    def weight_layers(self) -> list[SynthesisLayer | ToRGBLayer]:
        """The modulated convolutions in order: the layers, then the torgb (if any)."""
        return [*self.layers, *([self.torgb] if self.has_torgb else [])]

    def forward(
        self,
        x: Tensor | None,
        img: Tensor | None,
        ws: Tensor,
        *,
        noise_mode: str,
        noise: Sequence[Tensor | None],
        fused: bool | None,
        memory_format: torch.memory_format = torch.contiguous_format,
        weight_deltas: Sequence[Tensor | None] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        w_iter = iter(ws.unbind(dim=1))
        deltas = iter(weight_deltas if weight_deltas is not None else [None] * len(self.weight_layers))
        kwargs = dict(noise_mode=noise_mode, fused=fused)
        if x is None:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = x.contiguous(memory_format=memory_format)
            x = self.conv1(x, next(w_iter), noise=noise[0], weight_delta=next(deltas), **kwargs)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), noise=noise[0], weight_delta=next(deltas), **kwargs)
            x = self.conv1(x, next(w_iter), noise=noise[1], gain=math.sqrt(0.5), weight_delta=next(deltas), **kwargs)
            x = y + x
        else:
            x = self.conv0(x, next(w_iter), noise=noise[0], weight_delta=next(deltas), **kwargs)
            x = self.conv1(x, next(w_iter), noise=noise[1], weight_delta=next(deltas), **kwargs)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.has_torgb:
            y = self.torgb(x, next(w_iter), fused=fused, weight_delta=next(deltas)).to(torch.float32)
            img = y if img is None else img + y
        return x, img


LOW_PRECISION_MIN_RES = 64
"""`low_precision` runs the blocks from this resolution up in bfloat16 (a 1024 px render of random config-f weights
against float32: about 42 dB PSNR; from 8 px: 38 dB, hardly faster)."""


class SynthesisNetwork(nn.Module):
    """`ws [N, num_ws, w_dim]` -> image `[N, C, H, W]`, nominally in [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.num_ws = config.num_ws
        self.block_resolutions = config.block_resolutions
        # oneDNN convolutions run faster on NHWC activations, at inference (benchmarks/bench_generator.py) and in
        # training (benchmarks/bench_train.py).
        self.channels_last = True
        for res in self.block_resolutions:
            setattr(self, f"b{res}", SynthesisBlock(config, res))

    @property
    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def noise_layers(self) -> list[SynthesisLayer]:
        """The noise-carrying layers in W+ order (b4.conv1, b8.conv0, b8.conv1, ...)."""
        return [layer for block in self.blocks for layer in block.layers]

    def weight_layers(self) -> list[SynthesisLayer | ToRGBLayer]:
        """Every modulated convolution in execution order (b4.conv1, b4.torgb, b8.conv0, b8.conv1, b8.torgb, ...):
        the order of `weight_deltas` and of HyperStyle's outputs."""
        return [layer for block in self.blocks for layer in block.weight_layers]

    def forward(
        self,
        ws: Tensor,
        *,
        noise_mode: str = "const",
        noise: Sequence[Tensor] | None = None,
        fused_modconv: bool | None = None,
        weight_deltas: Sequence[Tensor | None] | None = None,
        low_precision: bool = False,
    ) -> Tensor:
        """Render `ws [N, num_ws, w_dim]`.

        noise_mode: `const` (the stored `noise_const` maps, deterministic), `random` (fresh draws) or `none`.
        noise: explicit maps, one per noise layer (`[H, W]` or `[N, 1, H, W]`), overriding `noise_mode`.
        fused_modconv: grouped-convolution path; None picks per layer (`layers.use_fused`): fused in eval mode, but
            on CPU non-fused for batches and, with gradients at batch 1, for layers wider than 128 channels;
            non-fused when training (both are exact up to float rounding).
        weight_deltas: HyperStyle's per-sample offsets, one entry (`[N, O, I, k, k]` or None) per `weight_layers()`
            layer; a layer's weight becomes `weight * (1 + delta)`. Zero offsets render exactly the base image.
        low_precision: run the blocks from `LOW_PRECISION_MIN_RES` px up in bfloat16 (activations and modulated
            weights; the mapping, styles, demodulation, the RGB sum and the output stay float32). Fast on CPUs with
            native bfloat16 (AMX, AVX512-BF16); the output differs from float32 by about 42 dB PSNR at 1024 px.
        """
        check_synthesis_input(ws, self.num_ws, self.config.w_dim, noise_mode)
        num_layers = len(self.noise_layers())
        if noise is not None and len(noise) != num_layers:
            raise ValueError(f"expected {num_layers} noise maps, got {len(noise)}")
        num_weight_layers = len(self.weight_layers())
        if weight_deltas is not None and len(weight_deltas) != num_weight_layers:
            raise ValueError(f"expected {num_weight_layers} weight deltas (or None), got {len(weight_deltas)}")
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        ws = ws.to(torch.float32)
        x: Tensor | None = None
        img: Tensor | None = None
        w_idx = 0
        layer_idx = 0
        delta_idx = 0
        for block in self.blocks:
            num_used = block.num_conv + int(block.has_torgb)
            block_noise: list[Tensor | None] = (
                list(noise[layer_idx : layer_idx + block.num_conv]) if noise is not None else [None] * block.num_conv
            )
            if low_precision and x is not None and block.resolution >= LOW_PRECISION_MIN_RES:
                x = x.to(torch.bfloat16)
            x, img = block(
                x,
                img,
                ws.narrow(1, w_idx, num_used),
                noise_mode=noise_mode,
                noise=block_noise,
                fused=fused_modconv,
                memory_format=memory_format,
                weight_deltas=None if weight_deltas is None else weight_deltas[delta_idx : delta_idx + num_used],
            )
            delta_idx += num_used
            w_idx += block.num_conv
            layer_idx += block.num_conv
        assert img is not None
        return img
