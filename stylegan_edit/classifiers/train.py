"""Training and held-out evaluation of the SynthFaces attribute classifier on rendered faces of both styles.

Training faces use seeds `[0, num)` (photo) and `[num, 2 num)` (toon); evaluate on seeds far from those
(`HELD_OUT_SEED_OFFSET`). Augmentations imitate generated images: a slight shift/scale, colour jitter, blur, noise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from stylegan_edit.classifiers.attributes import STYLE_HEAD, AttributeClassifier, ClassifierConfig
from stylegan_edit.data.render import STYLES, Style
from stylegan_edit.data.synthfaces import render_seed

HELD_OUT_SEED_OFFSET = 10_000_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedFaces:
    """Rendered faces: `images` uint8 `[N, 3, S, S]` and `labels` float32 `[N, K]` (attributes, then the style)."""

    images: Tensor
    labels: Tensor


def render_faces(
    num: int,
    *,
    style: Style,
    seed_offset: int = 0,
    size: int = 64,
    progress: bool = False,
) -> RenderedFaces:
    """Render faces `seed_offset .. seed_offset + num - 1` in `style`, with ATTRIBUTES labels plus the style."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    images = np.empty((num, size, size, 3), dtype=np.uint8)
    labels = np.empty((num, 8), dtype=np.float32)
    for i in tqdm(range(num), desc=f"render {style}", unit="img", disable=not progress, leave=False):
        factors, image = render_seed(seed_offset + i, size=size, style=style)
        images[i] = np.asarray(image)
        labels[i, :7] = factors.labels()
        labels[i, 7] = float(style == "toon")
    return RenderedFaces(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels))


def to_float(images: Tensor) -> Tensor:
    """uint8 `[N, 3, H, W]` -> float32 in [-1, 1]."""
    return images.to(torch.float32) / 127.5 - 1


def augment(images: Tensor, generator: torch.Generator) -> Tensor:
    """Per-image random shift (up to 1.5 px), scale (+-3%), colour jitter, Gaussian blur (half the images,
    sigma 0.2-0.8 px) and pixel noise (std up to 0.04) of float images in [-1, 1]."""
    n, _, h, w = images.shape

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return torch.rand((n, *shape), generator=generator) * (high - low) + low

    scale = uniform(0.97, 1.03)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = uniform(-1.5, 1.5, 2) * 2 / torch.tensor([w, h])
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    gray = x.mean(dim=1, keepdim=True)
    x = gray + (x - gray) * uniform(0.8, 1.2, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * uniform(0.85, 1.15, 1, 1, 1) + uniform(-0.08, 0.08, 1, 1, 1)
    x = x + uniform(-0.04, 0.04, 3, 1, 1)

    sigma = uniform(0.2, 0.8) * (torch.rand(n, generator=generator) < 0.5)
    taps = torch.arange(-2, 3, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (taps / sigma.clamp(min=1e-3)[:, None]) ** 2)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(3, dim=0)  # [3N, 5]
    flat = F.pad(x.reshape(1, n * 3, h, w), (2, 2, 2, 2), mode="replicate")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * 3)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * 3)
    x = flat.reshape(n, 3, h, w)

    x = x + torch.randn(x.shape, generator=generator) * uniform(0.0, 0.04, 1, 1, 1)
    return x.clamp(-1, 1)


def train_classifier(
    num: int = 20_000,
    *,
    epochs: int = 4,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    config: ClassifierConfig | None = None,
    seed: int = 0,
    progress: bool = True,
) -> AttributeClassifier:
    """Train a classifier on `num` photo and `num` toon faces for `epochs` epochs (AdamW, one-cycle learning rate,
    binary cross-entropy per head); returns it in eval mode."""
    if num < 1 or epochs < 1:
        raise ValueError(f"num and epochs must be positive, got {num} and {epochs}")
    config = config or ClassifierConfig()
    if config.attribute_names[-1] != STYLE_HEAD or len(config.attribute_names) != 8:
        raise ValueError("training expects the seven SynthFaces attributes followed by the style head")
    parts = [
        render_faces(num, style=style, seed_offset=i * num, size=config.resolution, progress=progress)
        for i, style in enumerate(STYLES)
    ]
    images = torch.cat([p.images for p in parts])
    labels = torch.cat([p.labels for p in parts])
    torch.manual_seed(seed)
    classifier = AttributeClassifier(config).train()
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(seed)
    bar = tqdm(total=epochs * steps_per_epoch, desc="train classifier", unit="step", disable=not progress)
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        total, correct = 0.0, torch.zeros(labels.shape[1])
        for start in range(0, len(images), batch_size):
            index = order[start : start + batch_size]
            batch = augment(to_float(images[index]), generator)
            logits = classifier(batch)
            loss = F.binary_cross_entropy_with_logits(logits, labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
            correct += ((logits.detach() > 0).float() == labels[index]).float().sum(dim=0)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{float(loss.detach()):.4f}")
        accuracy = correct / len(images)
        logger.info(
            "epoch %d: loss %.4f, training accuracy (augmented) %s",
            epoch,
            total / len(images),
            " ".join(f"{n} {a:.4f}" for n, a in zip(config.attribute_names, accuracy.tolist(), strict=True)),
        )
    bar.close()
    return classifier.eval()


@torch.no_grad()
def evaluate_classifier(
    classifier: AttributeClassifier,
    num: int,
    *,
    styles: Sequence[Style] = STYLES,
    seed_offset: int = HELD_OUT_SEED_OFFSET,
    batch_size: int = 256,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Accuracy per style and head on `num` fresh faces per style (seeds from `seed_offset`), rendered at the
    classifier's resolution: `{style: {attribute: accuracy}}`."""
    results: dict[str, dict[str, float]] = {}
    for style in styles:
        faces = render_faces(num, style=style, seed_offset=seed_offset, size=classifier.resolution, progress=progress)
        correct = torch.zeros(faces.labels.shape[1])
        for start in range(0, num, batch_size):
            logits = classifier(to_float(faces.images[start : start + batch_size])).cpu()
            correct += ((logits > 0).float() == faces.labels[start : start + batch_size]).float().sum(dim=0)
        results[style] = dict(zip(classifier.attribute_names, (correct / num).tolist(), strict=True))
    return results
