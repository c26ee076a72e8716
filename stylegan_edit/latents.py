"""Latent codes that know their space (Z, W, W+), and their files: native safetensors and NVIDIA's npz."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from stylegan_edit.files import (
    CheckpointError,
    atomic_path,
    npy_fits,
    npy_header,
    read_safetensors,
    write_safetensors,
    zip_member_capacity,
)

LATENTS_FORMAT = "stylegan-edit/latents"
LATENTS_FORMAT_VERSION = 1


class LatentSpace(StrEnum):
    Z = "z"
    W = "w"
    W_PLUS = "w+"


@dataclass(frozen=True, eq=False)
class Latents:
    """A batch of latent codes.

    tensor: Z `[N, z_dim]`, W `[N, w_dim]` or W+ `[N, num_ws, w_dim]`; validated once here so nothing
    downstream has to inspect `ndim`.
    """

    tensor: Tensor
    space: LatentSpace

    def __post_init__(self) -> None:
        object.__setattr__(self, "space", LatentSpace(self.space))
        expected = 3 if self.space is LatentSpace.W_PLUS else 2
        if self.tensor.ndim != expected:
            raise ValueError(
                f"{self.space.value} latents must have {expected} dimensions, got shape {list(self.tensor.shape)}"
            )

    def __len__(self) -> int:
        return int(self.tensor.shape[0])

    @property
    def dim(self) -> int:
        return int(self.tensor.shape[-1])

    def to(self, device: torch.device | str) -> Latents:
        return Latents(self.tensor.to(device), self.space)

    def __getitem__(self, index: int | slice) -> Latents:
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Latents(self.tensor[index], self.space)

    def to_w_plus(self, num_ws: int) -> Latents:
        """Broadcast W codes to W+ (`[N, num_ws, w_dim]`); W+ codes are checked and returned as they are."""
        if self.space is LatentSpace.W_PLUS:
            if self.tensor.shape[1] != num_ws:
                raise ValueError(f"latents have {self.tensor.shape[1]} layers, the generator needs {num_ws}")
            return self
        if self.space is LatentSpace.Z:
            raise ValueError("z latents must be mapped to W first (generator.mapping)")
        return Latents(self.tensor.unsqueeze(1).repeat(1, num_ws, 1), LatentSpace.W_PLUS)

    def save(self, path: str | Path, *, metadata: dict[str, str] | None = None) -> None:
        """Write a native latents file (`.safetensors`, atomically)."""
        meta = {"format": LATENTS_FORMAT, "format_version": str(LATENTS_FORMAT_VERSION), "space": self.space.value}
        meta.update(metadata or {})
        write_safetensors(path, {"latents": self.tensor.float()}, meta)

    def save_npz(self, path: str | Path, num_ws: int | None = None) -> None:
        """Write NVIDIA's `projected_w.npz` (`w: [N, num_ws, w_dim]` float32)."""
        if self.space is LatentSpace.Z:
            raise ValueError("projected_w.npz holds W+ codes; z latents cannot be written to it")
        if self.space is LatentSpace.W and num_ws is None:
            raise ValueError("num_ws is needed to write W latents as projected_w.npz")
        tensor = self.tensor if num_ws is None else self.to_w_plus(num_ws).tensor
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, w=tensor.detach().cpu().numpy().astype(np.float32))


def seed_z(seed: int, z_dim: int, num: int = 1) -> Tensor:
    """`z [num, z_dim]` float32 on the CPU by NVIDIA's seed -> z rule: `np.random.RandomState(seed).randn(num, z_dim)`.

    NVIDIA's generate.py draws one code per seed (`num=1`); its projector draws the 10,000 codes of its W
    statistics from one seed. Every z this package draws from a seed comes from here.
    """
    if num < 1:
        raise ValueError(f"the number of samples must be positive, got {num}")
    return torch.from_numpy(np.random.RandomState(seed).randn(num, z_dim)).to(torch.float32)


def seeds_z(seeds: Sequence[int], z_dim: int) -> Tensor:
    """`z [len(seeds), z_dim]`: row i is `seed_z(seeds[i], z_dim)` (generate.py's one code per seed)."""
    return torch.cat([seed_z(seed, z_dim) for seed in seeds])


def load_latents(path: str | Path) -> tuple[Latents, dict[str, str]]:
    """Read a native latents file or NVIDIA's `projected_w.npz`, detected by content.

    Returns the latents and the file's metadata (empty for npz). Every failure is a `CheckpointError` naming
    the file.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise CheckpointError(f"cannot read latents file {path}: {exc.strerror}") from None
    if head[:2] == b"PK":
        return _load_npz(path), {}
    tensors, meta = read_safetensors(path, what="stylegan-edit latents file", format=LATENTS_FORMAT)
    if "latents" not in tensors or "space" not in meta:
        raise CheckpointError(f"{path} is a latents file without its 'latents' tensor or 'space'")
    tensor = tensors["latents"]
    if not tensor.is_floating_point():
        raise CheckpointError(f"{path}: the latents are {tensor.dtype}, not floating point")
    try:
        return Latents(tensor.float(), LatentSpace(meta["space"])), meta
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _load_npz(path: Path) -> Latents:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "w.npy" not in names:
                raise CheckpointError(
                    f"{path} has no 'w' array (keys: {', '.join(n.removesuffix('.npy') for n in names)})"
                )
            info = archive.getinfo("w.npy")
            with archive.open(info) as handle:
                shape, dtype = npy_header(handle, path, "'w'")
            fits = npy_fits(shape, dtype, zip_member_capacity(info))
            if dtype.kind != "f" or len(shape) != 3 or not fits:
                raise CheckpointError(
                    f"{path}: 'w' must be [N, num_ws, w_dim] floats, got {dtype} of shape {list(shape)}"
                    + ("" if fits else " (more than the file holds)")
                )
            with archive.open(info) as handle:
                w = np.lib.format.read_array(handle, allow_pickle=False)
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
        raise CheckpointError(f"{path} is not a readable projected_w.npz: {exc}") from None
    return Latents(torch.from_numpy(w.astype(np.float32)), LatentSpace.W_PLUS)
