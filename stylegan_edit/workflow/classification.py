"""The SynthFaces attribute classifier as one call: train it and write it (measured as stored), or measure a
classifier file's accuracy on fresh faces of both styles."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from stylegan_edit.classifiers.attributes import load_classifier, read_classifier, save_classifier
from stylegan_edit.classifiers.train import HELD_OUT_SEED_OFFSET, evaluate_classifier
from stylegan_edit.classifiers.train import train_classifier as fit_classifier

DTYPES = {"float16": torch.float16, "float32": torch.float32}
ACCURACY_SEED_OFFSET = 10_000_000  # `metrics classifier`'s first seed; training used seeds below 2 x its num

logger = logging.getLogger(__name__)

Accuracy = dict[str, dict[str, float]]  # {style: {head: accuracy}}


@dataclass(frozen=True)
class ClassifierTraining:
    """A trained classifier file, its size in bytes, the training time, and its held-out accuracy (as stored;
    None when not measured) on `eval_num` fresh faces per style from `seed_offset`."""

    path: Path
    size: int
    seconds: float
    accuracy: Accuracy | None
    eval_num: int
    seed_offset: int = HELD_OUT_SEED_OFFSET


def train_classifier(
    out: str | Path,
    *,
    num: int = 20_000,
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    eval_num: int = 2000,
    dtype: str = "float16",
    progress: bool = False,
) -> ClassifierTraining:
    """Train the attribute classifier on `num` rendered faces per style, write it to `out` in `dtype` (`float16`
    or `float32`) with its training settings as metadata, and (`eval_num` > 0) measure the stored weights on
    fresh held-out faces, recording that accuracy in the file too."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r} (use {' or '.join(DTYPES)})")
    out = Path(out)
    started = time.time()
    classifier = fit_classifier(num, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    seconds = time.time() - started
    settings = {"num_per_style": num, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}
    metadata = {"training": json.dumps(settings)}
    save_classifier(out, classifier, metadata=metadata, dtype=DTYPES[dtype])
    logger.info("wrote %s (trained in %.1f min)", out, seconds / 60)
    size = out.stat().st_size
    accuracy = None
    if eval_num:
        stored, _ = read_classifier(out)  # measure the weights as stored (float16 by default)
        accuracy = evaluate_classifier(stored, eval_num, progress=progress)
        record = {"num_per_style": eval_num, "seed_offset": HELD_OUT_SEED_OFFSET, "accuracy": accuracy}
        metadata["held_out_accuracy"] = json.dumps(record)
        save_classifier(out, stored, metadata=metadata, dtype=DTYPES[dtype])
    return ClassifierTraining(out, size, seconds, accuracy, eval_num)


def classifier_accuracy(
    classifier: str | Path | None = None,
    *,
    num: int = 2000,
    seed_offset: int = ACCURACY_SEED_OFFSET,
    progress: bool = False,
) -> Accuracy:
    """Accuracy per style and head of a classifier file (default: the bundled one) on `num` fresh faces per style
    (seeds from `seed_offset`)."""
    return evaluate_classifier(load_classifier(classifier), num, seed_offset=seed_offset, progress=progress)
