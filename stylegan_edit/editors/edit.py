"""Applying a direction: `LinearEdit(direction, strength, layers)` moves latents along it, optionally per layer;
`ComponentEdit` sets the coordinate along an axis (e4e's GANSpace); `make_edit` picks the one a direction needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stylegan_edit.editors.direction import Direction
from stylegan_edit.latents import Latents, LatentSpace


def check_layers(layers: Sequence[int], num_ws: int) -> tuple[int, ...]:
    """Validate W+ layer indices against `num_ws`; raise a one-line `ValueError` naming the bad ones."""
    bad = sorted({i for i in layers if i < 0 or i >= num_ws})
    if bad:
        shown = ", ".join(str(i) for i in bad[:5])
        raise ValueError(f"layers {shown} out of range: the generator has {num_ws} W+ layers (0-{num_ws - 1})")
    if not layers:
        raise ValueError("no layers to edit")
    return tuple(sorted(set(layers)))


@dataclass(frozen=True)
class LinearEdit:
    """`latents + strength * direction`, on every layer or only on `layers`.

    layers: W+ indices to edit; None uses the direction's own layers (all layers when it has none).
    A restricted edit of W latents returns W+ latents whose other layers equal the input exactly;
    strength 0 returns the input values unchanged.
    """

    direction: Direction
    strength: float
    layers: Sequence[int] | None = None

    def __call__(self, latents: Latents, *, num_ws: int | None = None) -> Latents:
        """Edit `latents` (Z `[N, z_dim]` for a Z direction, else W `[N, w_dim]` or W+ `[N, num_ws, w_dim]`).

        num_ws: the generator's layer count, needed to turn W into W+ when the direction does not know it.
        """
        direction = self.direction
        if direction.centre is not None:
            raise ValueError(f"{direction.name!r} is an axis whose edit sets a coordinate; use ComponentEdit")
        layers = self.layers if self.layers is not None else direction.layers
        if direction.space is LatentSpace.Z or latents.space is LatentSpace.Z:
            return self._edit_z(latents, layers)
        if latents.dim != direction.dim:
            raise ValueError(f"direction {direction.name!r} has w_dim {direction.dim}, the latents {latents.dim}")
        vector = direction.vector.to(latents.tensor.device, latents.tensor.dtype)
        if direction.space is LatentSpace.W and layers is None:
            return Latents(latents.tensor + self.strength * vector, latents.space)
        count = self._num_ws(latents, num_ws)
        chosen = list(check_layers(layers, count)) if layers is not None else list(range(count))
        edited = latents.to_w_plus(count).tensor.clone()
        delta = vector if direction.space is LatentSpace.W_PLUS else vector.expand(count, -1)
        edited[:, chosen] = edited[:, chosen] + self.strength * delta[chosen]
        return Latents(edited, LatentSpace.W_PLUS)

    def _edit_z(self, latents: Latents, layers: Sequence[int] | None) -> Latents:
        direction = self.direction
        if direction.space is not LatentSpace.Z:
            raise ValueError("z latents must be mapped to W (generator.mapping) before a W-space edit")
        if latents.space is not LatentSpace.Z:
            raise ValueError(f"direction {direction.name!r} lives in Z; these latents are {latents.space.value}")
        if layers is not None:
            raise ValueError("a z direction cannot be restricted to layers")
        if latents.dim != direction.dim:
            raise ValueError(f"direction {direction.name!r} has z_dim {direction.dim}, the latents {latents.dim}")
        vector = direction.vector.to(latents.tensor.device, latents.tensor.dtype)
        return Latents(latents.tensor + self.strength * vector, LatentSpace.Z)

    def _num_ws(self, latents: Latents, num_ws: int | None) -> int:
        return layer_count(latents, self.direction, num_ws)


@dataclass(frozen=True)
class ComponentEdit:
    """e4e's GANSpace edit along an axis (a direction with a `centre`): the coordinate
    `c = (w_0 - centre) . v / |v|^2` of each latent's first W+ layer `w_0` (its W code for W latents) is set to
    `strength` on `layers` by adding `(strength - c) * v` to each of them; for e4e's unit components with
    `v = std * comp`, c is the coordinate in units of the component's std, as e4e's `get_delta` measures it.

    layers: W+ indices to edit (e4e's `start:end` is `range(start, end)`); None: the direction's layers, else
    all. W latents edited on every layer stay W. Strength 0 moves the latents onto the centre's coordinate;
    it does not return them unchanged.
    """

    direction: Direction
    strength: float
    layers: Sequence[int] | None = None

    def __call__(self, latents: Latents, *, num_ws: int | None = None) -> Latents:
        """Edit W `[N, w_dim]` or W+ `[N, num_ws, w_dim]` latents; num_ws as for `LinearEdit`."""
        direction, centre = self.direction, self.direction.centre
        if centre is None:
            raise ValueError(f"direction {direction.name!r} has no centre; use LinearEdit")
        if latents.space is LatentSpace.Z:
            raise ValueError("z latents must be mapped to W (generator.mapping) before a W-space edit")
        if latents.dim != direction.dim:
            raise ValueError(f"direction {direction.name!r} has w_dim {direction.dim}, the latents {latents.dim}")
        tensor = latents.tensor
        vector = direction.vector.to(tensor.device, tensor.dtype)
        first = tensor if latents.space is LatentSpace.W else tensor[:, 0]
        coordinate = (first - centre.to(tensor.device, tensor.dtype)) @ vector / vector.dot(vector)
        delta = (self.strength - coordinate)[:, None] * vector  # [N, w_dim]
        layers = self.layers if self.layers is not None else direction.layers
        if latents.space is LatentSpace.W and layers is None:
            return Latents(tensor + delta, LatentSpace.W)
        count = layer_count(latents, direction, num_ws)
        chosen = list(check_layers(layers, count)) if layers is not None else list(range(count))
        edited = latents.to_w_plus(count).tensor.clone()
        edited[:, chosen] = edited[:, chosen] + delta[:, None]
        return Latents(edited, LatentSpace.W_PLUS)


def make_edit(direction: Direction, strength: float, layers: Sequence[int] | None = None) -> LinearEdit | ComponentEdit:
    """The edit a direction calls for: `ComponentEdit` for an axis (a direction with a centre), else `LinearEdit`."""
    if direction.centre is not None:
        return ComponentEdit(direction, strength, layers)
    return LinearEdit(direction, strength, layers)


def layer_count(latents: Latents, direction: Direction, num_ws: int | None) -> int:
    """The W+ layer count the latents, the direction and the generator agree on; a one-line `ValueError` when
    none is known or they disagree."""
    candidates = {
        "latents": latents.tensor.shape[1] if latents.space is LatentSpace.W_PLUS else None,
        "direction": direction.num_ws,
        "generator": num_ws,
    }
    known = {k: int(v) for k, v in candidates.items() if v is not None}
    if not known:
        raise ValueError("num_ws is needed to edit W latents per layer; pass the generator's num_ws")
    if len(set(known.values())) > 1:
        detail = ", ".join(f"{k} {v}" for k, v in known.items())
        raise ValueError(f"W+ layer counts disagree: {detail}")
    return next(iter(known.values()))
