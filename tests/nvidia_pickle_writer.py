"""Test helper: write synthetic network pickles in NVIDIA's record layout, without NVIDIA's code.

Each module becomes the call `torch_utils.persistence._reconstruct_persistent_obj(meta)` with
`meta = {type, version, module_src, class_name, state}` exactly as `persistence.persistent_class` reduces it
(docs/formats.md); tensors go through torch's own reduction, i.e. `_rebuild_parameter` / `_rebuild_tensor_v2`
of a legacy-format storage blob decoded by `torch.storage._load_from_bytes`. `module_src` is an unrelated
string (by default one that would create a file if anything executed it). StyleGAN2 generators are written as
stylegan2-ada-pytorch's or stylegan3's `networks_stylegan2`, StyleGAN3 ones as `networks_stylegan3`.
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

from stylegan_edit.generators import Discriminator, Generator, StyleGAN3Config, StyleGAN3Generator
from stylegan_edit.generators.alias_free import AliasFreeLayer, AliasFreeSynthesis, SynthesisInput
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


def _module_state(
    module: nn.Module,
    attrs: dict[str, Any],
    init_kwargs: dict[str, Any],
    *,
    init_args: tuple[Any, ...] = (),
    keep_none: bool = False,
) -> dict[str, Any]:
    """`keep_none`: keep `None` entries, as `register_buffer(name, None)` leaves them (StyleGAN3's 1-tap filters)."""
    state = dict(nn.Module().__dict__)
    state["_parameters"] = OrderedDict(
        (k, nn.Parameter(v.detach().clone(), requires_grad=False))
        for k, v in module._parameters.items()
        if v is not None
    )
    state["_buffers"] = OrderedDict(
        (k, None if v is None else v.detach().clone()) for k, v in module._buffers.items() if keep_none or v is not None
    )
    state["training"] = False
    state.update(attrs)
    state["_init_args"] = init_args  # set by the persistence decorator after `__init__`, so last
    state["_init_kwargs"] = init_kwargs
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


def _discriminator_records(discriminator: Discriminator, variant: Variant, module_src: str) -> Record:
    c = discriminator.config
    d_kwargs = dict(
        c_dim=0,
        img_resolution=c.img_resolution,
        img_channels=3,
        channel_base=c.channel_base,
        channel_max=c.channel_max,
        architecture=c.architecture,
    )
    return to_records(discriminator, variant=variant, module_src=module_src, init_kwargs=d_kwargs)


def snapshot_records(
    generator: Generator | StyleGAN3Generator,
    discriminator: Discriminator | None = None,
    *,
    variant: Variant = "ada",
    fp16: Collection[int] = (),
    module_src: str = UNRELATED_SOURCE,
) -> dict[str, Any]:
    """NVIDIA's snapshot dict `{G, D, G_ema, augment_pipe, training_set_kwargs}` made of records (editable). A
    StyleGAN3 generator is written as stylegan3's (`variant` and `fp16` then do not apply: its layers say)."""
    if isinstance(generator, StyleGAN3Generator):
        g = stylegan3_records(generator, module_src=module_src)
        variant = "sg3"
    else:
        kwargs = generator_init_kwargs(generator, variant)
        g = to_records(generator, variant=variant, fp16=fp16, module_src=module_src, init_kwargs=kwargs)
    d = None if discriminator is None else _discriminator_records(discriminator, variant, module_src)
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
    generator: Generator | StyleGAN3Generator,
    discriminator: Discriminator | None = None,
    *,
    variant: Variant = "ada",
    fp16: Collection[int] = (),
    module_src: str = UNRELATED_SOURCE,
) -> bytes:
    """Write a synthetic NVIDIA network snapshot of our networks; returns the bytes written."""
    snapshot = snapshot_records(generator, discriminator, variant=variant, fp16=fp16, module_src=module_src)
    return dump_nvidia_pickle(path, snapshot)


# -- StyleGAN3: training/networks_stylegan3.py -------------------------------------------------------------------

_SYNTHESIS_OWN = (
    "channel_base",
    "channel_max",
    "num_layers",
    "num_critical",
    "first_cutoff",
    "first_stopband",
    "last_stopband_rel",
    "margin_size",
    "output_scale",
    "num_fp16_res",
)
_MAPPING_KWARGS = {"mapping_layers": "num_layers", "mapping_lr_multiplier": "lr_multiplier", "w_avg_beta": "w_avg_beta"}


def _as_passed(value: Any) -> Any:
    """A float as a Python script passes it: `256`, `1` stay integers (NVIDIA's defaults are ints)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def stylegan3_init_kwargs(config: StyleGAN3Config) -> dict[str, Any]:
    """What stylegan3's train.py records for `--cfg stylegan3-t|r` (class_name popped, then c_dim, img_resolution,
    img_channels appended), plus any constructor argument that differs from NVIDIA's default, as a script building
    this network would have to pass it."""
    defaults = StyleGAN3Config()
    mapping = EasyDict(num_layers=config.mapping_layers)
    mapping.update(
        {
            nv: getattr(config, ours)
            for ours, nv in _MAPPING_KWARGS.items()
            if getattr(config, ours) != getattr(defaults, ours)
        }
    )
    kwargs: dict[str, Any] = dict(
        z_dim=config.z_dim,
        w_dim=config.w_dim,
        mapping_kwargs=mapping,
        channel_base=config.channel_base,
        channel_max=config.channel_max,
        magnitude_ema_beta=config.magnitude_ema_beta,
    )
    skip = {"img_resolution", "img_channels", "z_dim", "w_dim", *_MAPPING_KWARGS, *kwargs}
    for name in StyleGAN3Config.__dataclass_fields__:
        if name not in skip and getattr(config, name) != getattr(defaults, name):
            kwargs[name] = _as_passed(getattr(config, name))
    return dict(**kwargs, c_dim=0, img_resolution=config.img_resolution, img_channels=config.img_channels)


def _fc_record(layer: FullyConnectedLayer, kwargs: dict[str, Any], module_src: str) -> Record:
    lr = _as_passed(layer.bias_gain)
    attrs = dict(
        in_features=layer.in_features,
        out_features=layer.out_features,
        activation=layer.activation,
        weight_gain=lr / np.sqrt(layer.in_features),
        bias_gain=lr,
    )
    args = (layer.in_features, layer.out_features)
    return Record("FullyConnectedLayer", _module_state(layer, attrs, kwargs, init_args=args), module_src)


def _input_record(inp: SynthesisInput, module_src: str) -> Record:
    init = dict(
        w_dim=inp.w_dim,
        channels=inp.channels,
        size=inp.size,
        sampling_rate=np.float64(inp.sampling_rate),
        bandwidth=np.float64(inp.bandwidth),
    )
    attrs = dict(init, size=np.array([inp.size, inp.size]))
    state = _module_state(inp, attrs, init)
    affine = _fc_record(inp.affine, {"weight_init": 0, "bias_init": [1, 0, 0, 0]}, module_src)
    state["_modules"] = OrderedDict(affine=affine)
    return Record("SynthesisInput", state, module_src)


def _layer_record(layer: AliasFreeLayer, layer_kwargs: dict[str, Any], module_src: str) -> Record:
    spec = layer.spec
    init = dict(
        w_dim=layer.w_dim,
        is_torgb=spec.is_torgb,
        is_critically_sampled=spec.is_critically_sampled,
        use_fp16=np.bool_(spec.use_fp16),
        in_channels=spec.in_channels,
        out_channels=spec.out_channels,
        in_size=spec.in_size,
        out_size=spec.out_size,
        in_sampling_rate=spec.in_sampling_rate,
        out_sampling_rate=spec.out_sampling_rate,
        **{k: np.float64(getattr(spec, k)) for k in ("in_cutoff", "out_cutoff", "in_half_width", "out_half_width")},
    )
    attrs = dict(init, in_size=np.array([spec.in_size] * 2), out_size=np.array([spec.out_size] * 2))
    cutoffs = {k: attrs.pop(k) for k in ("in_cutoff", "out_cutoff", "in_half_width", "out_half_width")}
    attrs.update(
        tmp_sampling_rate=layer.tmp_sampling_rate,  # NVIDIA's __init__ order: between the rates and the cutoffs
        **cutoffs,
        conv_kernel=layer.conv_kernel,
        conv_clamp=_as_passed(layer.conv_clamp),
        magnitude_ema_beta=layer.magnitude_ema_beta,
        up_factor=layer.up_factor,
        up_taps=layer.up_taps,
        down_factor=layer.down_factor,
        down_taps=layer.down_taps,
        down_radial=layer.down_radial,
        padding=list(layer.padding),
    )
    state = _module_state(layer, attrs, {**init, **layer_kwargs}, keep_none=True)
    state["_modules"] = OrderedDict(affine=_fc_record(layer.affine, {"bias_init": 1}, module_src))
    return Record("SynthesisLayer", state, module_src)


def _synthesis_record(synthesis: AliasFreeSynthesis, kwargs: dict[str, Any], module_src: str) -> Record:
    c = synthesis.config
    synthesis_kwargs = {k: v for k, v in kwargs.items() if k not in ("z_dim", "c_dim", "w_dim", "mapping_kwargs")}
    layer_kwargs = {
        k: v for k, v in synthesis_kwargs.items() if k not in (*_SYNTHESIS_OWN, "img_resolution", "img_channels")
    }
    attrs = dict(
        w_dim=c.w_dim,
        num_ws=c.num_ws,
        img_resolution=c.img_resolution,
        img_channels=c.img_channels,
        num_layers=c.num_layers,
        num_critical=c.num_critical,
        margin_size=c.margin_size,
        output_scale=synthesis.output_scale,
        num_fp16_res=c.num_fp16_res,
        layer_names=list(synthesis.layer_names),
    )
    init = dict(w_dim=c.w_dim, img_resolution=c.img_resolution, img_channels=c.img_channels)
    init.update(synthesis_kwargs)
    state = _module_state(synthesis, attrs, init)
    children: OrderedDict[str, Any] = OrderedDict(input=_input_record(synthesis.input, module_src))
    for name, layer in zip(synthesis.layer_names, synthesis.layers, strict=True):
        children[name] = _layer_record(layer, layer_kwargs, module_src)
    state["_modules"] = children
    return Record("SynthesisNetwork", state, module_src)


def _mapping_record(mapping: MappingNetwork, kwargs: dict[str, Any], module_src: str) -> Record:
    attrs = dict(
        z_dim=mapping.z_dim,
        c_dim=0,
        w_dim=mapping.w_dim,
        num_ws=mapping.num_ws,
        num_layers=mapping.num_layers,
        w_avg_beta=mapping.w_avg_beta,
        embed=None,  # `self.embed = None` on a module is a plain attribute, not a child
    )
    init = dict(z_dim=mapping.z_dim, c_dim=0, w_dim=mapping.w_dim, num_ws=mapping.num_ws, **kwargs["mapping_kwargs"])
    state = _module_state(mapping, attrs, init)
    children: OrderedDict[str, Any] = OrderedDict()
    for idx in range(mapping.num_layers):
        fc = getattr(mapping, f"fc{idx}")
        children[f"fc{idx}"] = _fc_record(
            fc, {"activation": "lrelu", "lr_multiplier": _as_passed(fc.bias_gain)}, module_src
        )
    state["_modules"] = children
    return Record("MappingNetwork", state, module_src)


def stylegan3_records(generator: StyleGAN3Generator, *, module_src: str = UNRELATED_SOURCE) -> Record:
    """NVIDIA's `networks_stylegan3.Generator` record tree for one of our StyleGAN3 generators: attribute names,
    types and values as NVIDIA's constructors set them (numpy `[w, h]` sizes, float64 cutoffs, None filters)."""
    c = generator.config
    kwargs = stylegan3_init_kwargs(c)
    attrs = dict(
        z_dim=c.z_dim,
        c_dim=0,
        w_dim=c.w_dim,
        img_resolution=c.img_resolution,
        img_channels=c.img_channels,
        num_ws=c.num_ws,
    )
    state = _module_state(generator, attrs, kwargs)
    state["_modules"] = OrderedDict(
        synthesis=_synthesis_record(generator.synthesis, kwargs, module_src),
        mapping=_mapping_record(generator.mapping, kwargs, module_src),
    )
    return Record("Generator", state, module_src)
