"""HyperStyle's typed config and training options (Alaluf et al., arXiv:2111.15666).

The hypernetwork predicts offsets for the generator's modulated convolutions (`SynthesisNetwork.weight_layers()`,
execution order): `layer_shapes` records each one's `(out, in, k)` so that the network is built without the
generator. By default every non-toRGB convolution is tuned, as the official `--layers_to_tune`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

from stylegan_edit.files import JsonConfig
from stylegan_edit.generators import AnyGenerator, Generator
from stylegan_edit.generators.layers import ToRGBLayer

MIN_INPUT_RESOLUTION = 16  # the backbone's last features are input / 16
PAPER_ITERATIONS = 5  # the official n_iters_per_batch, in training (paper) and at inference
RESUMABLE_CHANGES = ("total_steps", "val_every", "snapshot_every", "state_every")

LayerShape = tuple[int, int, int]


def layer_shapes(generator: AnyGenerator) -> tuple[tuple[LayerShape, ...], tuple[int, ...]]:
    """`(out, in, k)` of each of `generator`'s modulated convolutions (execution order) and the indices of its toRGB
    layers; a one-line `ValueError` for a StyleGAN3 generator (it takes no weight offsets)."""
    if not isinstance(generator, Generator):
        raise ValueError(
            "HyperStyle tunes a StyleGAN2 generator's convolutions; StyleGAN3 generators are not supported"
        )
    layers = generator.synthesis.weight_layers()
    shapes = tuple((int(w.shape[0]), int(w.shape[1]), int(w.shape[2])) for w in (layer.weight for layer in layers))
    return shapes, tuple(i for i, layer in enumerate(layers) if isinstance(layer, ToRGBLayer))


@dataclass(frozen=True)
class HyperStyleConfig(JsonConfig):
    """Architecture of a HyperStyle hypernetwork for one generator shape.

    img_resolution, img_channels, num_ws, w_dim: the generator's. layer_shapes: `(out, in, k)` per modulated
    convolution; torgb_layers: which of them are toRGB; layers_to_tune: the ones that get offsets (sorted).
    input_resolution: the side (target ‖ reconstruction) is resized to before the backbone (a power of two >= 16).
    stem_channels, stage_channels, stage_blocks: the IR-SE backbone on `2 * img_channels` inputs (its last stage,
    at input / 16, feeds every head). head_channels: the refinement heads' convolution width. shared_code_dim:
    the code size of the shared-weights hypernetwork that serves every group of tuned layers of one shape (full
    k x k offsets, the official `SharedWeightsHypernet`); 0 gives every layer its own head of per-channel offsets
    repeated over the kernel (the official `RefinementBlock`), as layers of a unique shape always get.
    """

    img_resolution: int = 64
    img_channels: int = 3
    num_ws: int = 10
    w_dim: int = 128
    layer_shapes: tuple[LayerShape, ...] = ()
    torgb_layers: tuple[int, ...] = ()
    layers_to_tune: tuple[int, ...] = ()
    input_resolution: int = 64
    stem_channels: int = 32
    stage_channels: tuple[int, ...] = field(default=(32, 48, 64, 128))
    stage_blocks: tuple[int, ...] = field(default=(1, 2, 2, 1))
    head_channels: int = 64
    shared_code_dim: int = 64

    def __post_init__(self) -> None:
        # JSON turns the inner tuples into lists; keep the config hashable and equal to itself after a round trip.
        object.__setattr__(self, "layer_shapes", tuple(tuple(int(v) for v in s) for s in self.layer_shapes))
        count = len(self.layer_shapes)
        if any(len(shape) != 3 or min(shape) < 1 for shape in self.layer_shapes):
            raise ValueError("layer_shapes must hold (out, in, kernel) triples of positive sizes")
        for name in ("torgb_layers", "layers_to_tune"):
            indices = getattr(self, name)
            if list(indices) != sorted(set(indices)) or any(not 0 <= i < count for i in indices):
                raise ValueError(f"{name} must be distinct sorted layer indices in [0, {count}), got {list(indices)}")
        side = self.input_resolution
        if side < MIN_INPUT_RESOLUTION or side & (side - 1):
            raise ValueError(f"input_resolution must be a power of two of at least {MIN_INPUT_RESOLUTION}, got {side}")
        if len(self.stage_channels) != 4 or len(self.stage_blocks) != 4:
            raise ValueError("stage_channels and stage_blocks need one entry per backbone stage (4)")
        if min(self.stem_channels, *self.stage_channels, *self.stage_blocks, self.head_channels) < 1:
            raise ValueError("channel and block counts must be positive")
        if self.shared_code_dim < 0:
            raise ValueError(f"shared_code_dim must not be negative, got {self.shared_code_dim}")

    @classmethod
    def for_generator(
        cls, generator: AnyGenerator, *, layers_to_tune: tuple[int, ...] | None = None, **changes: Any
    ) -> Self:
        """The default config for `generator`: its shapes, every non-toRGB convolution tuned (or `layers_to_tune`),
        inputs at its resolution (16 to 256 px); `changes` override architecture fields."""
        shapes, torgb = layer_shapes(generator)
        tuned = tuple(i for i in range(len(shapes)) if i not in torgb) if layers_to_tune is None else layers_to_tune
        settings: dict[str, Any] = {
            "img_resolution": generator.img_resolution,
            "img_channels": generator.config.img_channels,
            "num_ws": generator.num_ws,
            "w_dim": generator.w_dim,
            "layer_shapes": shapes,
            "torgb_layers": torgb,
            "layers_to_tune": tuple(sorted(set(tuned))),
            "input_resolution": min(max(generator.img_resolution, MIN_INPUT_RESOLUTION), 256),
        }
        return cls(**{**settings, **changes})

    def shared_groups(self) -> dict[LayerShape, tuple[int, ...]]:
        """The tuned layers served by one shared-weights hypernetwork, by shape (shapes of two or more layers)."""
        if not self.shared_code_dim:
            return {}
        groups: dict[LayerShape, list[int]] = {}
        for i in self.layers_to_tune:
            groups.setdefault(self.layer_shapes[i], []).append(i)
        return {shape: tuple(layers) for shape, layers in groups.items() if len(layers) > 1}


@dataclass(frozen=True)
class HyperStyleTrainingOptions(JsonConfig):
    """Everything that determines a HyperStyle training run (the official coach's settings where they apply).

    hyperstyle: the architecture. batch: real images per step. lr / betas: Adam on the hypernetwork (the official
    default optimiser is Ranger; the W encoder and the generator stay frozen). iterations: refinement passes per
    batch (`n_iters_per_batch`, the paper's 5); each pass takes the previous reconstruction and offsets (detached),
    adds its offsets, renders and back-propagates its loss; one update follows the last. mse_weight: pixel L2 (the
    paper's 1); perceptual / perceptual_weight: the distance (`auto`, `lpips`, a registered extractor, `none`) and
    its weight (the paper's LPIPS 0.8). The paper's face-ID term has no counterpart: SynthFaces has no face-ID
    network (dlib's descriptors are not differentiable). The `*_every` intervals schedule validation grids,
    snapshots and resumable state (0: at the end only).
    """

    hyperstyle: HyperStyleConfig = field(default_factory=HyperStyleConfig)
    batch: int = 8
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    iterations: int = PAPER_ITERATIONS
    mse_weight: float = 1.0
    perceptual: str = "auto"
    perceptual_weight: float = 0.8
    total_steps: int = 2000
    val_every: int = 250
    snapshot_every: int = 1000
    state_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch < 1 or self.lr <= 0 or self.iterations < 1:
            raise ValueError("batch, lr and iterations must be positive")
        if min(self.mse_weight, self.perceptual_weight) < 0 or not (self.mse_weight or self.perceptual_weight):
            raise ValueError("mse_weight and perceptual_weight must not be negative, and not both zero")
        if min(self.total_steps, self.val_every, self.snapshot_every, self.state_every, self.seed) < 0:
            raise ValueError("total_steps, seed and the *_every intervals must not be negative")

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)
