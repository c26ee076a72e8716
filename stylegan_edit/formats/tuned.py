"""Tuned-generator files, as Pivotal Tuning Inversion (arXiv:2106.05744) writes them: a compact delta against the
base generator it was tuned from, or the full tuned generator as a native network file.

Delta file: one `.safetensors` holding `delta.<name>` = tuned - base for each tensor that changed (float16 by
default), with `format`, `format_version`, the base's spec (a bundled name or an absolute path) and fingerprint,
and its config as metadata. Reading re-applies the delta to the base and refuses a base of another fingerprint.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from stylegan_edit.assets import bundled, resolve_network
from stylegan_edit.files import CheckpointError, load_strict, malformed, read_safetensors, write_safetensors
from stylegan_edit.formats.native import load_generator, save_network, sniff_format
from stylegan_edit.generators import AnyGenerator, generator_class
from stylegan_edit.generators.fingerprint import fingerprint

TUNED_FORMAT = "stylegan-edit/tuned-generator"
TUNED_FORMAT_VERSION = 1
PREFIX = "delta."


def base_fingerprint(generator: AnyGenerator) -> str:
    """The fingerprint a delta records of its base: all of the generator's tensors, salted with its config."""
    return fingerprint(generator, salt=generator.config.to_json())


def portable_spec(spec: str | Path) -> str:
    """`spec` as it resolves from any folder: a bundled network's name as it is, a file as its absolute path.
    A one-line `ValueError` for anything else."""
    if str(spec) in bundled("network"):
        return str(spec)
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"{spec}: no such network file to record as the base of a tuned generator")
    return str(path.resolve())


def save_tuned(
    path: str | Path,
    tuned: AnyGenerator,
    base: AnyGenerator,
    *,
    base_spec: str | Path | None,
    full: bool = False,
    dtype: torch.dtype = torch.float16,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write `tuned` atomically: the delta against `base` (loaded from `base_spec`, a bundled name or a file) in
    `dtype`, or with `full` (or no `base_spec`) the whole tuned generator as a native network in float32.

    A float16 delta keeps the weights to about 1e-3 of their change (a float16 full file: 1e-3 of the weight).
    """
    meta = dict(metadata or {})
    fingerprint_text = base_fingerprint(base)
    if full or base_spec is None:
        tuned_from = {"tuned_from": portable_spec(base_spec)} if base_spec is not None else {}
        save_network(path, tuned, metadata={**meta, **tuned_from, "base_fingerprint": fingerprint_text})
        return
    if tuned.config != base.config or type(tuned) is not type(base):
        raise ValueError("the tuned generator has another architecture than its base: write it in full")
    base_state = base.state_dict()
    deltas = {
        f"{PREFIX}{name}": value.detach().float() - base_state[name].detach().float()
        for name, value in tuned.state_dict().items()
        if value.is_floating_point() and not torch.equal(value, base_state[name])
    }
    meta.update(
        format=TUNED_FORMAT,
        format_version=str(TUNED_FORMAT_VERSION),
        base_network=portable_spec(base_spec),
        base_fingerprint=fingerprint_text,
        generator_config=base.config.to_json(),
        generator_class=generator_class(base.config),
        delta_dtype=str(dtype).removeprefix("torch."),
    )
    write_safetensors(path, deltas, meta, dtype=dtype)


def is_tuned_delta(path: str | Path) -> bool:
    """Whether `path` is a tuned-generator delta file (read from its header alone)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file() or sniff_format(path) != "native":
        return False
    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("format") == TUNED_FORMAT
    except Exception:  # safetensors raises SafetensorError, OSError or RuntimeError; the real reader says why
        return False


def load_tuned(
    path: str | Path, *, base: AnyGenerator | None = None, device: torch.device | str = "cpu"
) -> AnyGenerator:
    """The tuned generator of a delta file: its recorded base (or `base`, when given) plus the stored deltas, in
    eval mode without gradients. A one-line `CheckpointError` when the base's fingerprint differs from the one
    recorded, or the file does not fit it."""
    path = Path(path)
    what = "tuned-generator delta"
    tensors, meta = read_safetensors(path, what=what, format=TUNED_FORMAT, version=TUNED_FORMAT_VERSION)
    if "base_network" not in meta or "base_fingerprint" not in meta:
        raise CheckpointError(f"{path} is not a readable {what}: its metadata names no base network")
    spec = meta["base_network"]
    if base is None:
        base = load_generator(spec, device=device)
    found = base_fingerprint(base)
    if found != meta["base_fingerprint"]:
        raise CheckpointError(
            f"{path} was tuned from {spec} (fingerprint {meta['base_fingerprint']}), but the base given has "
            f"fingerprint {found}: load it with the generator it was tuned from"
        )
    tuned = copy.deepcopy(base).requires_grad_(False)
    state = tuned.state_dict()
    with malformed(path, what):
        for key, delta in tensors.items():
            name = key.removeprefix(PREFIX)
            if not key.startswith(PREFIX) or name not in state or tuple(delta.shape) != tuple(state[name].shape):
                raise CheckpointError(f"{path}: {key} does not fit the base generator {spec}")
            state[name] = state[name].float() + delta.to(state[name].device, torch.float32)
        load_strict(tuned, state, path)
    return tuned.eval()


def load_any_generator(spec: str | Path | None = None, *, device: torch.device | str = "cpu") -> AnyGenerator:
    """The generator of a bundled name (None: the default model), any supported checkpoint, or a tuned-generator
    delta file (its base loaded and the delta applied), in eval mode without gradients."""
    if spec is not None and is_tuned_delta(resolve_network(spec)):
        return load_tuned(resolve_network(spec), device=device)
    return load_generator(spec, device=device)
