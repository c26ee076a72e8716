"""Test helper: write synthetic TensorFlow StyleGAN2 pickles `(G, D, Gs)` as `dnnlib.tflib.network.Network` states.

The variables are our networks' tensors put back into TF layouts by inverting docs/formats.md (dense `[in, out]`,
conv `[kh, kw, in, out]`, flipped up-convolutions, modulation biases without the +1).
"""

from __future__ import annotations

import copyreg
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from stylegan_edit.generators import Discriminator, Generator
from tests import nvidia_pickle_writer


class Network:
    """Pickled under TF's name `dnnlib.tflib.network.Network`: NEWOBJ + BUILD with the `__getstate__` dict."""

    def __init__(self, name: str, variables: dict[str, np.ndarray], components: dict[str, Network], **kwargs: Any):
        self.state = dict(
            version=4,
            name=name,
            static_kwargs=kwargs,
            components=components,
            build_module_src="raise SystemExit('TF build code was executed')\n",
            build_func_name=f"training.networks_stylegan2.{name}",
            variables=list(variables.items()),
        )


nvidia_pickle_writer._GLOBAL_NAMES[id(Network)] = ("dnnlib.tflib.network", "Network")


class TFPickler(nvidia_pickle_writer.NvidiaLayoutPickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Network):
            return copyreg.__newobj__, (Network,), obj.state  # type: ignore[attr-defined]
        return NotImplemented


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float32)


def _conv(t: Tensor, flip: bool = False) -> np.ndarray:
    value = _np(t).transpose(2, 3, 1, 0)
    return np.ascontiguousarray(value[::-1, ::-1] if flip else value)


def _layer(sd: dict[str, Tensor], nv: str, scope: str, flip: bool = False) -> dict[str, np.ndarray]:
    return {
        f"{scope}/weight": _conv(sd[f"{nv}.weight"], flip),
        f"{scope}/bias": _np(sd[f"{nv}.bias"]),
        f"{scope}/noise_strength": _np(sd[f"{nv}.noise_strength"]),
        f"{scope}/mod_weight": _np(sd[f"{nv}.affine.weight"]).T.copy(),
        f"{scope}/mod_bias": _np(sd[f"{nv}.affine.bias"]) - 1,
    }


def tf_generator(generator: Generator, name: str = "G") -> Network:
    sd, c = generator.state_dict(), generator.config
    mapping = {}
    for i in range(c.mapping_layers):
        mapping[f"Dense{i}/weight"] = _np(sd[f"mapping.fc{i}.weight"]).T.copy()
        mapping[f"Dense{i}/bias"] = _np(sd[f"mapping.fc{i}.bias"])
    synthesis = {"4x4/Const/const": _np(sd["synthesis.b4.const"])[None]}
    for r in c.block_resolutions:
        k, block = int(math.log2(r)), f"synthesis.b{r}"
        if r == 4:
            synthesis.update(_layer(sd, f"{block}.conv1", "4x4/Conv"))
            synthesis["noise0"] = _np(sd[f"{block}.conv1.noise_const"])[None, None]
        else:
            synthesis.update(_layer(sd, f"{block}.conv0", f"{r}x{r}/Conv0_up", flip=True))
            synthesis.update(_layer(sd, f"{block}.conv1", f"{r}x{r}/Conv1"))
            synthesis[f"noise{2 * k - 5}"] = _np(sd[f"{block}.conv0.noise_const"])[None, None]
            synthesis[f"noise{2 * k - 4}"] = _np(sd[f"{block}.conv1.noise_const"])[None, None]
        synthesis[f"{r}x{r}/ToRGB/weight"] = _conv(sd[f"{block}.torgb.weight"])
        synthesis[f"{r}x{r}/ToRGB/bias"] = _np(sd[f"{block}.torgb.bias"])
        synthesis[f"{r}x{r}/ToRGB/mod_weight"] = _np(sd[f"{block}.torgb.affine.weight"]).T.copy()
        synthesis[f"{r}x{r}/ToRGB/mod_bias"] = _np(sd[f"{block}.torgb.affine.bias"]) - 1
    components = {
        "mapping": Network("G_mapping", mapping, {}),
        "synthesis": Network("G_synthesis", synthesis, {}),
    }
    top = {"dlatent_avg": _np(sd["mapping.w_avg"]), "lod": np.zeros([], np.float32)}
    return Network(name, top, components, resolution=c.img_resolution, fmap_base=c.channel_base // 2, label_size=0)


def tf_discriminator(discriminator: Discriminator) -> Network:
    sd, c = discriminator.state_dict(), discriminator.config
    variables = {}
    for r in c.block_resolutions:
        for nv, scope in (("fromrgb", "FromRGB"), ("conv0", "Conv0"), ("conv1", "Conv1_down"), ("skip", "Skip")):
            if f"b{r}.{nv}.weight" in sd:
                variables[f"{r}x{r}/{scope}/weight"] = _conv(sd[f"b{r}.{nv}.weight"])
            if f"b{r}.{nv}.bias" in sd:
                variables[f"{r}x{r}/{scope}/bias"] = _np(sd[f"b{r}.{nv}.bias"])
    variables["4x4/Conv/weight"], variables["4x4/Conv/bias"] = _conv(sd["b4.conv.weight"]), _np(sd["b4.conv.bias"])
    variables["4x4/Dense0/weight"], variables["4x4/Dense0/bias"] = (
        _np(sd["b4.fc.weight"]).T.copy(),
        _np(sd["b4.fc.bias"]),
    )
    variables["Output/weight"], variables["Output/bias"] = _np(sd["b4.out.weight"]).T.copy(), _np(sd["b4.out.bias"])
    return Network("D", variables, {}, resolution=c.img_resolution, fmap_base=c.channel_base // 2, label_size=0)


def write_tf_pickle(path: Path, generator: Generator, discriminator: Discriminator) -> None:
    """`(G, D, Gs)` as the TF training loop pickled them (G and Gs share the weights here)."""
    buffer = io.BytesIO()
    TFPickler(buffer, protocol=3).dump(
        (tf_generator(generator), tf_discriminator(discriminator), tf_generator(generator, "Gs"))
    )
    path.write_bytes(buffer.getvalue())
