"""Starting points for projection: the mean W, a latents file or value, or an encoder's output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace, load_latents

Encoder = Callable[[Tensor], Latents]
Init = Latents | str | Path | Encoder | None


def initial_latents(
    generator: AnyGenerator,
    targets: Tensor,
    init: Init,
    space: LatentSpace,
    mean_w: Tensor,
    generators: Sequence[torch.Generator],
) -> Tensor:
    """The tensor to optimise for `targets [N, 3, H, W]`: W `[N, w_dim]`, W+ `[N, num_ws, w_dim]` or Z `[N, z_dim]`.

    init: None (the mean W; for Z a draw from `generators[i]`, since the mean of Z maps to a degenerate code),
    `Latents` (one code for all images or one per image), a latents file, or an encoder `images -> Latents`.
    """
    num = targets.shape[0]
    if init is None:
        if space is LatentSpace.Z:
            draws = [torch.randn([1, generator.z_dim], generator=g) for g in generators]
            return torch.cat(draws).to(generator.device)
        mean = mean_w.to(generator.device, torch.float32)
        if space is LatentSpace.W:
            return mean.unsqueeze(0).repeat(num, 1)
        return mean.reshape(1, 1, -1).repeat(num, generator.num_ws, 1)
    if isinstance(init, str | Path):
        latents, _ = load_latents(init)
        source = str(init)
    elif isinstance(init, Latents):
        latents, source = init, "init"
    else:
        with torch.no_grad():
            latents = init(targets)
        if not isinstance(latents, Latents):
            raise ValueError(f"the encoder returned {type(latents).__name__}, not Latents")
        source = "encoder output"
    check_init(latents, generator, space, num, source)
    tensor = convert(latents.to(generator.device), generator, space, source).detach().clone()
    if tensor.shape[0] == 1 and num > 1:
        tensor = tensor.expand(num, *tensor.shape[1:]).clone()
    return tensor.to(torch.float32)


def check_init(latents: Latents, generator: AnyGenerator, space: LatentSpace, num: int, source: str) -> None:
    """Raise one `ValueError` line unless `latents` can start a `space` projection of `num` images in `generator`:
    the generator's sizes, a convertible space (see `convert`), and one code or one per image. Nothing is computed."""
    check_compatible(latents, generator, source)
    if latents.space is not space:
        if space is LatentSpace.Z:
            raise ValueError(f"{source}: a z projection must start from z latents, not {latents.space.value}")
        if space is LatentSpace.W and latents.space is LatentSpace.W_PLUS:
            raise ValueError(f"{source}: a w projection cannot start from w+ latents (use --space w+)")
    if len(latents) not in (1, num):
        raise ValueError(f"{source}: {len(latents)} codes for {num} images (give one, or one per image)")


def check_compatible(latents: Latents, generator: AnyGenerator, source: str) -> None:
    """Raise `ValueError` naming the mismatch when `latents` were made for another generator."""
    if latents.space is LatentSpace.Z:
        if latents.dim != generator.z_dim:
            raise ValueError(f"{source}: latents with z_dim {latents.dim}, but the generator needs {generator.z_dim}")
        return
    if latents.dim != generator.w_dim:
        raise ValueError(f"{source}: latents with w_dim {latents.dim}, but the generator needs {generator.w_dim}")
    if latents.space is LatentSpace.W_PLUS and latents.tensor.shape[1] != generator.num_ws:
        raise ValueError(
            f"{source}: latents with {latents.tensor.shape[1]} layers (num_ws), but the generator needs "
            f"{generator.num_ws}"
        )


def convert(latents: Latents, generator: AnyGenerator, space: LatentSpace, source: str) -> Tensor:
    """`latents` as a tensor of `space` (Z -> W/W+ through the mapping, W -> W+ by broadcasting)."""
    if latents.space is space:
        return latents.tensor
    if space is LatentSpace.Z:
        raise ValueError(f"{source}: a z projection must start from z latents, not {latents.space.value}")
    if latents.space is LatentSpace.Z:
        with torch.no_grad():
            ws = generator.mapping(latents.tensor, truncation_psi=1.0)
        return ws[:, 0] if space is LatentSpace.W else ws
    if space is LatentSpace.W_PLUS:
        return latents.to_w_plus(generator.num_ws).tensor
    raise ValueError(f"{source}: a w projection cannot start from w+ latents (use --space w+)")
