"""Convert old TensorFlow StyleGAN2 / StyleGAN2-ADA network pickles `(G, D, Gs)` without TensorFlow.

The pickle holds `dnnlib.tflib.network.Network` states: build kwargs plus `(name, numpy array)` variables per
component. The variable rules (transposes, the flipped up-convolution kernels, the +1 on modulation biases)
follow docs/formats.md; the architecture is read from variable names and shapes, the kwargs only fill gaps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from stylegan_edit.files import CheckpointError, build_strict, malformed
from stylegan_edit.formats.foreign import infer_channel_schedule
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Network
from stylegan_edit.generators.config import Architecture

M = TypeVar("M", bound=torch.nn.Module)


def collect_variables(network: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """All variables of a TF network stub, named `component/.../local_name` (e.g. `synthesis/4x4/Conv/weight`)."""
    state = vars(network)
    found = {prefix + str(name): np.asarray(value) for name, value in state.get("variables") or []}
    for name, component in (state.get("components") or {}).items():
        found.update(collect_variables(component, f"{prefix}{name}/"))
    return found


def _conv(value: np.ndarray, flip: bool = False) -> np.ndarray:
    """TF conv `[kh, kw, in, out]` -> PyTorch `[out, in, kh, kw]` (the up-convolutions are also flipped)."""
    if flip:
        value = value[::-1, ::-1]
    return value.transpose(3, 2, 0, 1)


def _layer(tf: dict[str, np.ndarray], nv: str, scope: str, noise: str, flip: bool = False) -> dict[str, np.ndarray]:
    out = {
        f"{nv}.weight": _conv(tf[f"{scope}/weight"], flip),
        f"{nv}.bias": tf[f"{scope}/bias"],
        f"{nv}.affine.weight": tf[f"{scope}/mod_weight"].T,
        f"{nv}.affine.bias": tf[f"{scope}/mod_bias"] + 1,
    }
    if f"{scope}/noise_strength" in tf:
        out[f"{nv}.noise_strength"] = tf[f"{scope}/noise_strength"]
        out[f"{nv}.noise_const"] = tf[noise][0, 0]
    return out


def _generator_tensors(tf: dict[str, np.ndarray], resolutions: list[int], mapping_layers: int) -> dict[str, Any]:
    out: dict[str, Any] = {"mapping.w_avg": tf["dlatent_avg"]}
    for i in range(mapping_layers):
        out[f"mapping.fc{i}.weight"] = tf[f"mapping/Dense{i}/weight"].T
        out[f"mapping.fc{i}.bias"] = tf[f"mapping/Dense{i}/bias"]
    out["synthesis.b4.const"] = tf["synthesis/4x4/Const/const"][0]
    out.update(_layer(tf, "synthesis.b4.conv1", "synthesis/4x4/Conv", "synthesis/noise0"))
    for r in resolutions:
        k, block, scope = int(math.log2(r)), f"synthesis.b{r}", f"synthesis/{r}x{r}"
        if r > 4:
            out.update(_layer(tf, f"{block}.conv0", f"{scope}/Conv0_up", f"synthesis/noise{2 * k - 5}", flip=True))
            out.update(_layer(tf, f"{block}.conv1", f"{scope}/Conv1", f"synthesis/noise{2 * k - 4}"))
            if f"{scope}/Skip/weight" in tf:
                out[f"{block}.skip.weight"] = _conv(tf[f"{scope}/Skip/weight"], flip=True)
        if f"{scope}/ToRGB/weight" in tf:
            out[f"{block}.torgb.weight"] = _conv(tf[f"{scope}/ToRGB/weight"])
            out[f"{block}.torgb.bias"] = tf[f"{scope}/ToRGB/bias"]
            out[f"{block}.torgb.affine.weight"] = tf[f"{scope}/ToRGB/mod_weight"].T
            out[f"{block}.torgb.affine.bias"] = tf[f"{scope}/ToRGB/mod_bias"] + 1
    return out


def _discriminator_tensors(tf: dict[str, np.ndarray], resolutions: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in [*resolutions, 4]:  # a 'skip' D also has 4x4/FromRGB
        for nv, scope in (("fromrgb", "FromRGB"), ("conv0", "Conv0"), ("conv1", "Conv1_down"), ("skip", "Skip")):
            if f"{r}x{r}/{scope}/weight" in tf:
                out[f"b{r}.{nv}.weight"] = _conv(tf[f"{r}x{r}/{scope}/weight"])
            if f"{r}x{r}/{scope}/bias" in tf:
                out[f"b{r}.{nv}.bias"] = tf[f"{r}x{r}/{scope}/bias"]
    out["b4.conv.weight"], out["b4.conv.bias"] = _conv(tf["4x4/Conv/weight"]), tf["4x4/Conv/bias"]
    out["b4.fc.weight"], out["b4.fc.bias"] = tf["4x4/Dense0/weight"].T, tf["4x4/Dense0/bias"]
    out["b4.out.weight"], out["b4.out.bias"] = tf["Output/weight"].T, tf["Output/bias"]
    return out


def _load(factory: Callable[[], M], arrays: dict[str, Any], source: str | Path) -> M:
    """Build the module and fill everything but the derived `resample_filter` buffers from `arrays`, strictly."""
    tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in arrays.items()}  # copies, keeps 0-d
    return build_strict(factory, tensors, source, derived="resample_filter").eval().requires_grad_(False)


def _kwargs(stub: Any) -> dict[str, Any]:
    return dict(vars(stub).get("static_kwargs") or {})


def _convert_generator(gs: Any, source: str | Path) -> Generator:
    kwargs = _kwargs(gs)
    tf = collect_variables(gs)
    if int(kwargs.get("label_size") or 0) > 0 or "mapping/LabelEmbed/weight" in tf:
        raise CheckpointError(f"{source}: conditional networks (c_dim > 0) are not supported yet")
    if any(re.match(r"synthesis/ToRGB_lod\d+/", k) for k in tf):
        raise CheckpointError(f"{source}: progressive-growing ('orig') TF generators are not supported")
    names = [k for k in tf if re.fullmatch(r"synthesis/(\d+)x\1/Conv1?/weight", k)]
    resolutions = sorted({int(re.findall(r"\d+", k)[0]) for k in names})
    if not resolutions or resolutions[0] != 4 or "dlatent_avg" not in tf:
        raise CheckpointError(f"{source}: Gs is not a StyleGAN2 generator (no synthesis/4x4/Conv or dlatent_avg)")
    mapping_layers = sum(1 for k in tf if re.fullmatch(r"mapping/Dense\d+/weight", k))
    channels = {r: int(tf[f"synthesis/{r}x{r}/{'Conv' if r == 4 else 'Conv1'}/weight"].shape[3]) for r in resolutions}
    hints = [(2 * int(kwargs.get("fmap_base", 16384)), int(kwargs.get("fmap_max", 512)))]
    channel_base, channel_max = infer_channel_schedule(channels, hints, source)
    top = resolutions[-1]
    config = GeneratorConfig(
        img_resolution=top,
        img_channels=int(tf[f"synthesis/{top}x{top}/ToRGB/weight"].shape[3]),
        z_dim=int(tf["mapping/Dense0/weight"].shape[0]),
        w_dim=int(tf[f"mapping/Dense{mapping_layers - 1}/weight"].shape[1]),
        mapping_layers=mapping_layers,
        mapping_lr_multiplier=float(kwargs.get("mapping_lrmul", 0.01)),
        w_avg_beta=float(kwargs.get("w_avg_beta") or 0.995),
        channel_base=channel_base,
        channel_max=channel_max,
        conv_clamp=None if kwargs.get("conv_clamp") is None else float(kwargs["conv_clamp"]),
        architecture="resnet" if f"synthesis/{top}x{top}/Skip/weight" in tf else "skip",
        resample_filter=tuple(kwargs.get("resample_kernel") or (1, 3, 3, 1)),
        use_noise="synthesis/4x4/Conv/noise_strength" in tf,
    )
    try:
        arrays = _generator_tensors(tf, resolutions, mapping_layers)
    except KeyError as exc:
        raise CheckpointError(f"{source}: the TF generator has no variable {exc}") from None
    return _load(lambda: Generator(config), arrays, source)


def _convert_discriminator(d: Any, source: str | Path) -> tuple[Discriminator | None, str]:
    kwargs = _kwargs(d)
    tf = collect_variables(d)
    if int(kwargs.get("label_size") or 0) > 0:
        return None, "conditional discriminators are not supported"
    resolutions = sorted(
        {int(m.group(1)) for k in tf if (m := re.fullmatch(r"(\d+)x\1/Conv0/weight", k))}, reverse=True
    )
    if not resolutions:
        return None, "not a StyleGAN2 discriminator"
    top = resolutions[0]
    architecture: Architecture
    if f"{top}x{top}/Skip/weight" in tf:
        architecture = "resnet"
    elif all(f"{r}x{r}/FromRGB/weight" in tf for r in resolutions):
        architecture = "skip"
    else:
        return None, "architecture orig is not supported (skip, resnet)"
    channels = {r: int(tf[f"{r}x{r}/Conv0/weight"].shape[3]) for r in resolutions}
    channels[4] = int(tf["4x4/Conv/weight"].shape[3])
    hints = [(2 * int(kwargs.get("fmap_base", 16384)), int(kwargs.get("fmap_max", 512)))]
    channel_base, channel_max = infer_channel_schedule(channels, hints, source)
    config = DiscriminatorConfig(
        img_resolution=top,
        img_channels=int(tf[f"{top}x{top}/FromRGB/weight"].shape[2]),
        channel_base=channel_base,
        channel_max=channel_max,
        conv_clamp=None if kwargs.get("conv_clamp") is None else float(kwargs["conv_clamp"]),
        architecture=architecture,
        mbstd_group_size=int(kwargs.get("mbstd_group_size", 4)),
        mbstd_num_channels=int(tf["4x4/Conv/weight"].shape[2]) - channels[4],
        resample_filter=tuple(kwargs.get("resample_kernel") or (1, 3, 3, 1)),
    )
    try:
        arrays = _discriminator_tensors(tf, resolutions)
    except KeyError as exc:
        raise CheckpointError(f"{source}: the TF discriminator has no variable {exc}") from None
    return _load(lambda: Discriminator(config), arrays, source), ""


def convert_tf_pickle(networks: tuple[Any, Any, Any], source: str | Path) -> Network:
    """`(G, D, Gs)` TF network stubs -> our `Network` (Gs as the generator, D when expressible)."""
    _, d, gs = networks
    with malformed(source, "TensorFlow network pickle"):
        generator = _convert_generator(gs, source)
        discriminator, note = _convert_discriminator(d, source)
    metadata = {"source_format": "tf-pkl", "source_file": Path(source).name}
    if note:
        metadata["discriminator_note"] = f"not loaded: {note}"
    return Network(generator, discriminator, metadata)
