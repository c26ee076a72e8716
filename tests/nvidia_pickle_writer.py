"""Test helper: write synthetic network pickles in NVIDIA's record layout, without NVIDIA's code.

Each module becomes the call `torch_utils.persistence._reconstruct_persistent_obj(meta)` with
`meta = {type, version, module_src, class_name, state}` exactly as `persistence.persistent_class` reduces it
(docs/formats.md); tensors go through torch's own reduction, i.e. `_rebuild_parameter` / `_rebuild_tensor_v2`
of a legacy-format storage blob decoded by `torch.storage._load_from_bytes`. `module_src` is an unrelated
string (by default one that would create a file if anything executed it).
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch import nn

from stylegan_edit.generators import Discriminator, Generator
from stylegan_edit.generators.discriminator import DiscriminatorBlock, DiscriminatorEpilogue
from stylegan_edit.generators.layers import Conv2dLayer, FullyConnectedLayer, SynthesisLayer, ToRGBLayer
from stylegan_edit.generators.mapping import MappingNetwork
from stylegan_edit.generators.synthesis import SynthesisBlock, SynthesisNetwork

Variant = Literal["ada", "sg3"]
UNRELATED_SOURCE = "open('EXECUTED_MODULE_SRC', 'w').write('module_src was executed')\n"


class Record:
    """One persistent object: NVIDIA's class name and its instance `__dict__`."""

    def __init__(self, class_name: str, state: dict[str, Any], module_src: str) -> None:
        self.meta: dict[str, Any] = dict(
            type="class", version=6, module_src=module_src, class_name=class_name, state=state
        )

    @property
    def state(self) -> dict[str, Any]:
        return self.meta["state"]

    def child(self, name: str) -> Record:
        return self.state["_modules"][name]


class EasyDict(dict[str, Any]):
    """Pickled under NVIDIA's name `dnnlib.util.EasyDict`."""


class _reconstruct_persistent_obj:
    """Marker pickled under NVIDIA's function name; never called (a class, so the pickler asks save_global)."""


_GLOBAL_NAMES = {
    id(_reconstruct_persistent_obj): ("torch_utils.persistence", "_reconstruct_persistent_obj"),
    id(EasyDict): ("dnnlib.util", "EasyDict"),
}


_PurePythonPickler: Any = pickle._Pickler  # type: ignore[attr-defined]


class NvidiaLayoutPickler(_PurePythonPickler):  # the pure-Python pickler lets us name globals freely
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Record):
            return _reconstruct_persistent_obj, (obj.meta,)
        return NotImplemented

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if id(obj) in _GLOBAL_NAMES:
            module, qualname = _GLOBAL_NAMES[id(obj)]
            self.save(module)
            self.save(qualname)
            self.write(pickle.STACK_GLOBAL)
            self.memoize(obj)
            return
        super().save_global(obj, name)


def _module_state(module: nn.Module, attrs: dict[str, Any], init_kwargs: dict[str, Any]) -> dict[str, Any]:
    state = dict(nn.Module().__dict__)
    state["_parameters"] = OrderedDict(
        (k, nn.Parameter(v.detach().clone(), requires_grad=False))
        for k, v in module._parameters.items()
        if v is not None
    )
    state["_buffers"] = OrderedDict((k, v.detach().clone()) for k, v in module._buffers.items() if v is not None)
    state["training"] = False
    state["_init_args"] = ()
    state["_init_kwargs"] = init_kwargs
    state.update(attrs)
    return state


def _attrs(module: nn.Module, variant: Variant, fp16: Collection[int], name: str) -> tuple[str, dict[str, Any]]:
    """NVIDIA's class name and plain attributes for one of our modules (`name`: its attribute name in the parent)."""
    sg3 = variant == "sg3"
    extra: dict[str, Any]
    if isinstance(module, Generator):
        c = module.config
        return "Generator", dict(
            z_dim=c.z_dim,
            c_dim=0,
            w_dim=c.w_dim,
            img_resolution=c.img_resolution,
            img_channels=c.img_channels,
            num_ws=c.num_ws,
        )
    if isinstance(module, MappingNetwork):
        return "MappingNetwork", dict(
            z_dim=module.z_dim,
            c_dim=0,
            w_dim=module.w_dim,
            num_ws=module.num_ws,
            num_layers=module.num_layers,
            w_avg_beta=module.w_avg_beta,
        )
    if isinstance(module, FullyConnectedLayer):
        extra = dict(in_features=module.in_features, out_features=module.out_features) if sg3 else {}
        lr = module.bias_gain
        return "FullyConnectedLayer", dict(
            activation=module.activation, weight_gain=lr / np.sqrt(module.in_features), bias_gain=lr, **extra
        )
    if isinstance(module, SynthesisNetwork):
        c = module.config
        extra = dict(num_fp16_res=len(fp16)) if sg3 else {}
        return "SynthesisNetwork", dict(
            w_dim=c.w_dim,
            img_resolution=c.img_resolution,
            img_resolution_log2=int(np.log2(c.img_resolution)),
            img_channels=c.img_channels,
            block_resolutions=c.block_resolutions,
            num_ws=c.num_ws,
            **extra,
        )
    if isinstance(module, SynthesisBlock):
        extra = dict(fused_modconv_default="inference_only") if sg3 else {}
        return "SynthesisBlock", dict(
            in_channels=module.in_channels,
            w_dim=module.conv1.affine.in_features,
            resolution=module.resolution,
            img_channels=3,
            is_last=module.is_last,
            architecture=module.architecture,
            use_fp16=module.resolution in fp16,
            channels_last=False,
            num_conv=module.num_conv,
            num_torgb=int(module.has_torgb),
            **extra,
        )
    if isinstance(module, SynthesisLayer):
        return "SynthesisLayer", dict(
            resolution=module.resolution,
            up=module.up,
            use_noise=module.use_noise,
            activation="lrelu",
            conv_clamp=module.conv_clamp,
            padding=module.padding,
            act_gain=float(np.sqrt(2)),
        )
    if isinstance(module, ToRGBLayer):
        return "ToRGBLayer", dict(conv_clamp=module.conv_clamp, weight_gain=np.float64(module.weight_gain))
    if isinstance(module, Conv2dLayer):
        return "Conv2dLayer", dict(
            activation=module.activation,
            up=module.up,
            down=module.down,
            conv_clamp=module.conv_clamp,
            padding=module.padding,
            weight_gain=np.float64(module.weight_gain),
            act_gain=float(np.sqrt(2)) if module.activation == "lrelu" else 1.0,
        )
    if isinstance(module, Discriminator):
        d = module.config
        return "Discriminator", dict(
            c_dim=0,
            img_resolution=d.img_resolution,
            img_resolution_log2=int(np.log2(d.img_resolution)),
            img_channels=d.img_channels,
            block_resolutions=d.block_resolutions,
        )
    if isinstance(module, DiscriminatorBlock):
        return "DiscriminatorBlock", dict(
            in_channels=module.in_channels,
            resolution=int(name.removeprefix("b")),
            img_channels=3,
            first_layer_idx=0,
            architecture=module.architecture,
            use_fp16=False,
            channels_last=False,
            num_layers=0,
        )
    if isinstance(module, DiscriminatorEpilogue):
        in_channels = int(module.conv.weight.shape[0])
        return "DiscriminatorEpilogue", dict(
            in_channels=in_channels, cmap_dim=0, resolution=4, img_channels=3, architecture=module.architecture
        )
    raise TypeError(f"no NVIDIA counterpart for {type(module).__name__}")


def to_records(
    module: nn.Module,
    *,
    variant: Variant = "ada",
    fp16: Collection[int] = (),
    module_src: str = UNRELATED_SOURCE,
    init_kwargs: dict[str, Any] | None = None,
    name: str = "",
) -> Record:
    """Translate one of our networks into NVIDIA persistent records (recursively)."""
    class_name, attrs = _attrs(module, variant, fp16, name)
    state = _module_state(module, attrs, init_kwargs if init_kwargs is not None else {})
    children: OrderedDict[str, Any] = OrderedDict()
    for child_name, child in module._modules.items():
        if isinstance(module, DiscriminatorEpilogue) and child_name == "conv":
            mbstd = dict(group_size=module.mbstd_group_size, num_channels=module.mbstd_num_channels)
            children["mbstd"] = Record("MinibatchStdLayer", _module_state(nn.Module(), mbstd, {}), module_src)
        assert child is not None
        children[child_name] = to_records(
            child, variant=variant, fp16=fp16, module_src=module_src, init_kwargs={}, name=child_name
        )
    state["_modules"] = children
    return Record(class_name, state, module_src)


def generator_init_kwargs(generator: Generator, variant: Variant) -> dict[str, Any]:
    """The constructor kwargs each repo's train.py records: nested (ada) or flat without conv_clamp (stylegan3)."""
    c = generator.config
    common = dict(c_dim=0, img_resolution=c.img_resolution, img_channels=c.img_channels)
    mapping = EasyDict(num_layers=c.mapping_layers)
    if variant == "ada":
        synthesis = EasyDict(
            channel_base=c.channel_base, channel_max=c.channel_max, num_fp16_res=0, conv_clamp=c.conv_clamp
        )
        return dict(z_dim=c.z_dim, w_dim=c.w_dim, mapping_kwargs=mapping, synthesis_kwargs=synthesis, **common)
    return dict(
        z_dim=c.z_dim,
        w_dim=c.w_dim,
        mapping_kwargs=mapping,
        channel_base=c.channel_base,
        channel_max=c.channel_max,
        fused_modconv_default="inference_only",
        **common,
    )


def snapshot_records(
    generator: Generator,
    discriminator: Discriminator | None = None,
    *,
    variant: Variant = "ada",
    fp16: Collection[int] = (),
    module_src: str = UNRELATED_SOURCE,
) -> dict[str, Any]:
    """NVIDIA's snapshot dict `{G, D, G_ema, augment_pipe, training_set_kwargs}` made of records (editable)."""
    kwargs = generator_init_kwargs(generator, variant)
    g = to_records(generator, variant=variant, fp16=fp16, module_src=module_src, init_kwargs=kwargs)
    d = None
    if discriminator is not None:
        c = discriminator.config
        d_kwargs = dict(
            c_dim=0,
            img_resolution=c.img_resolution,
            img_channels=3,
            channel_base=c.channel_base,
            channel_max=c.channel_max,
            architecture=c.architecture,
        )
        d = to_records(discriminator, variant=variant, module_src=module_src, init_kwargs=d_kwargs)
    dataset = EasyDict(class_name="training.dataset.ImageFolderDataset", path="faces.zip", use_labels=False)
    return dict(G=g, D=d, G_ema=g, augment_pipe=None, training_set_kwargs=dataset)


def dump_nvidia_pickle(path: Path, obj: Any, *, protocol: int = 4) -> bytes:
    """Pickle `obj` (records, tensors, dicts) the way NVIDIA's training loop does; returns the bytes written."""
    buffer = io.BytesIO()
    NvidiaLayoutPickler(buffer, protocol=protocol).dump(obj)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def write_nvidia_pickle(
    path: Path,
    generator: Generator,
    discriminator: Discriminator | None = None,
    *,
    variant: Variant = "ada",
    fp16: Collection[int] = (),
    module_src: str = UNRELATED_SOURCE,
) -> bytes:
    """Write a synthetic NVIDIA network snapshot of our networks; returns the bytes written."""
    snapshot = snapshot_records(generator, discriminator, variant=variant, fp16=fp16, module_src=module_src)
    return dump_nvidia_pickle(path, snapshot)
