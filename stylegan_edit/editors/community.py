"""Direction files of other projects: InterFaceGAN `.npy` boundaries, e4e's `.pt` directions and its GANSpace
`ffhq_pca.pt`, GANSpace's cached `.npz` components; `FILE#k` picks component k of a PCA file.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from stylegan_edit.editors.direction import Direction
from stylegan_edit.files import CheckpointError, npy_fits, npy_header, zip_member_capacity
from stylegan_edit.formats.pickle_guard import load_torch_file
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import LatentSpace

COMMUNITY_SUFFIXES = (".npy", ".npz", ".pt", ".pth")
E4E_PCA_KEYS = ("comp", "mean", "std")
GANSPACE_KEYS = ("lat_comp", "lat_mean", "lat_stdev")


@dataclass(frozen=True)
class CommunitySpec:
    """A community direction file and, for a PCA file, the component chosen with `FILE#k`."""

    path: Path
    component: int | None


def community_spec(spec: str | Path) -> CommunitySpec | None:
    """`spec` as a community file (`age_boundary.npy`, `ffhq_pca.pt#54`), or None for a native spec (a bundled
    name, a `.safetensors` file, a name in ./directions). A path that exists as typed is taken whole."""
    text = str(spec)
    path = Path(text)
    if path.suffix.lower() in COMMUNITY_SUFFIXES and (path.is_file() or "#" not in text):
        return CommunitySpec(path, None)
    head, hash_sign, tail = text.rpartition("#")
    if not hash_sign or Path(head).suffix.lower() not in COMMUNITY_SUFFIXES:
        return None
    if not re.fullmatch(r"\d+", tail.strip()):
        raise ValueError(f"{text}: the component after '#' must be a whole number such as {head}#0, got {tail!r}")
    return CommunitySpec(Path(head), int(tail))


def read_community_direction(spec: CommunitySpec) -> Direction:
    """The direction a community file holds, in its project's convention (see docs/formats.md):

    - a tensor (InterFaceGAN `.npy` `[1, w_dim]`, e4e `.pt` `[1, w_dim]` or `[1, num_ws, w_dim]`): edited as
      `code + strength * n`, the vector exactly as stored (W, or W+ for one row per layer);
    - e4e's GANSpace dict (`comp [C, 1, w_dim]`, `mean [1, w_dim]`, `std [C]`), component k: an axis through
      `mean` along `std[k] * comp[k]`, whose edit sets the coordinate to `strength` (in units of `std[k]`);
    - GANSpace's `.npz` (`lat_comp [C, 1, w_dim]`, `lat_mean`, `lat_stdev [C]`), component k:
      `code + strength * lat_stdev[k] * lat_comp[k]` (strength in standard deviations); a file whose
      `lat_stdev` is all ones holds Z components (GANSpace writes ones when it decomposes Z).
    Every failure is a one-line `CheckpointError` naming the file.
    """
    path = spec.path
    if not path.is_file():
        what = "folder, not a direction file" if path.exists() else "such direction file"
        raise CheckpointError(f"{path}: no {what}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        content: Any = _read_npy(path)
    elif suffix == ".npz":
        content = _read_npz(path)
    else:
        content = _read_torch(path)
    if isinstance(content, dict):
        return _component(path, content, spec.component)
    if spec.component is not None:
        raise CheckpointError(
            f"{path} holds one direction, not principal components; drop '#{spec.component}' (#k selects a "
            "component of e4e's GANSpace .pt or a GANSpace .npz)"
        )
    method = "interfacegan" if suffix == ".npy" else "e4e-interfacegan"
    return _tensor_direction(path, content, method)


def check_fits(direction: Direction, generator: AnyGenerator, path: Path) -> None:
    """A one-line `ValueError` naming the file when its direction's width or layer count is not the generator's."""
    if direction.space is LatentSpace.Z and direction.dim != generator.z_dim:
        raise ValueError(
            f"{path} holds a {direction.dim}-d Z direction, but the generator's z_dim is {generator.z_dim}"
        )
    if direction.space is not LatentSpace.Z and direction.dim != generator.w_dim:
        raise ValueError(
            f"{path} holds a {direction.dim}-d direction, but the generator's W is {generator.w_dim}-d "
            "(the file belongs to another model)"
        )
    if direction.space is LatentSpace.W_PLUS and direction.num_ws != generator.num_ws:
        raise ValueError(
            f"{path} holds {direction.num_ws} per-layer vectors, but the generator has {generator.num_ws} W+ layers"
        )


def _read_npy(path: Path) -> Tensor:
    try:
        with path.open("rb") as handle:
            if handle.read(2) != b"PK":  # an .npz named .npy is told apart below
                handle.seek(0)
                shape, dtype = npy_header(handle, path, "the array")
                if not npy_fits(shape, dtype, path.stat().st_size):
                    raise CheckpointError(f"{path}: the array claims shape {list(shape)}, more than the file holds")
        array = np.load(path, allow_pickle=False)
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path} is not a readable .npy array ({_first_line(exc)})") from None
    if not isinstance(array, np.ndarray):
        raise CheckpointError(f"{path} is an .npz archive named .npy; rename it .npz if it holds GANSpace components")
    return _as_tensor(path, array, "the array")


def _check_claims(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse a GANSpace array whose header claims more than its archive member holds, before numpy reads it."""
    for key in GANSPACE_KEYS:
        info = archive.getinfo(f"{key}.npy")
        with archive.open(info) as handle:
            shape, dtype = npy_header(handle, path, key)
        if not npy_fits(shape, dtype, zip_member_capacity(info)):
            raise CheckpointError(f"{path}: {key} claims shape {list(shape)}, more than the file holds")


def _read_npz(path: Path) -> dict[str, Tensor]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise CheckpointError(f"{path} is a single .npy array named .npz")
            missing = [key for key in GANSPACE_KEYS if key not in archive.files]
            if missing:
                held = ", ".join(archive.files[:6]) or "nothing"
                raise CheckpointError(
                    f"{path} is not a GANSpace component file: no {', '.join(missing)} (it holds {held})"
                )
            assert archive.zip is not None  # open inside the with block
            _check_claims(archive.zip, path)
            return {key: _as_tensor(path, archive[key], key) for key in GANSPACE_KEYS}
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path} is not a readable .npz archive ({_first_line(exc)})") from None


def _read_torch(path: Path) -> Tensor | dict[str, Tensor]:
    loaded = load_torch_file(
        path, holds="a direction file holds only tensors", unreadable="is not a readable torch file"
    )
    if isinstance(loaded, Tensor):
        return _as_tensor(path, loaded, "the tensor")
    if isinstance(loaded, dict) and all(isinstance(loaded.get(key), Tensor) for key in E4E_PCA_KEYS):
        return {key: _as_tensor(path, loaded[key], key) for key in E4E_PCA_KEYS}
    if isinstance(loaded, dict):
        held = ", ".join(str(key) for key in list(loaded)[:6]) or "nothing"
        raise CheckpointError(
            f"{path} is neither a direction tensor nor e4e's GANSpace dict ({', '.join(E4E_PCA_KEYS)}); it holds {held}"
        )
    raise CheckpointError(f"{path} holds a {type(loaded).__name__}, not a direction tensor")


def _as_tensor(path: Path, value: np.ndarray | Tensor, what: str) -> Tensor:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiu":
            raise CheckpointError(f"{path}: {what} has dtype {value.dtype}, not numbers")
        tensor = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    else:
        if value.is_complex() or value.dtype == torch.bool:
            raise CheckpointError(f"{path}: {what} has dtype {value.dtype}, not real numbers")
        tensor = value.detach().to("cpu", torch.float32)
    if tensor.numel() == 0:
        raise CheckpointError(f"{path}: {what} is empty")
    if not bool(torch.isfinite(tensor).all()):
        raise CheckpointError(f"{path}: {what} has non-finite values")
    return tensor


def _tensor_direction(path: Path, tensor: Tensor, method: str) -> Direction:
    shape = list(tensor.shape)
    while tensor.ndim > 1 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim > 2:
        raise CheckpointError(
            f"{path} holds an array of shape {shape}; a direction is [w_dim], [1, w_dim] or [1, num_ws, w_dim]"
        )
    space = LatentSpace.W if tensor.ndim == 1 else LatentSpace.W_PLUS
    return Direction(
        vector=tensor.clone(),
        space=space,
        name=path.stem,
        method=method,
        hyperparameters={"source": str(path), "stored_shape": shape},
        statistics={"norm": float(tensor.norm())},
    )


def _component(path: Path, content: dict[str, Tensor], index: int | None) -> Direction:
    e4e = "comp" in content
    comp, mean, std = (content[k] for k in (E4E_PCA_KEYS if e4e else GANSPACE_KEYS))
    count = int(comp.shape[0]) if comp.ndim >= 2 else 0
    comps, centre, stds = comp.reshape(count, -1), mean.reshape(-1), std.reshape(-1)
    if count == 0 or stds.numel() != count or centre.numel() != comps.shape[1]:
        raise CheckpointError(
            f"{path} has inconsistent components: {list(comp.shape)} components, a {list(mean.shape)} mean and "
            f"{list(std.shape)} standard deviations"
        )
    if index is None:
        raise CheckpointError(f"{path} holds {count} components; pick one as {path}#k with k from 0 to {count - 1}")
    if index >= count:
        raise CheckpointError(f"{path}#{index}: no component {index}; the file holds {count} (0-{count - 1})")
    if float(stds[index]) <= 0:
        raise CheckpointError(f"{path}#{index}: component {index} has standard deviation {float(stds[index]):g}")
    vector = (stds[index] * comps[index]).clone()
    statistics = {"component_std": float(stds[index]), "component_norm": float(comps[index].norm())}
    hyperparameters: dict[str, Any] = {"source": str(path), "component": index, "num_components": count}
    name = f"{path.stem}#{index}"
    if e4e:
        return Direction(
            vector=vector,
            space=LatentSpace.W,
            name=name,
            method="e4e-ganspace",
            hyperparameters=hyperparameters,
            statistics=statistics,
            centre=centre.clone(),
        )
    space = LatentSpace.Z if bool((stds == 1).all()) else LatentSpace.W
    return Direction(
        vector=vector,
        space=space,
        name=name,
        method="ganspace",
        hyperparameters=hyperparameters,
        statistics=statistics,
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
