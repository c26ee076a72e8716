"""The attribute classifier: API shapes, its file format and errors, the bundled weights' held-out accuracy, and
its uses as InterFaceGAN scorer and download-free perceptual loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from stylegan_edit.classifiers.attributes import (
    BUNDLED_CLASSIFIER,
    STYLE_HEAD,
    AttributeClassifier,
    ClassifierConfig,
    load_classifier,
    read_classifier,
    save_classifier,
)
from stylegan_edit.classifiers.train import augment, evaluate_classifier, render_faces, to_float
from stylegan_edit.cli.classifier import train_classifier
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.editors.sampling import attribute_scorer
from stylegan_edit.files import CheckpointError
from stylegan_edit.generators import Generator, Network
from stylegan_edit.perceptual import losses as losses_module
from stylegan_edit.perceptual.choice import auto_perceptual_loss

SMALL = ClassifierConfig(resolution=32, channels=(4, 8, 8), embedding_dim=6)
needs_bundled = pytest.mark.skipif(not BUNDLED_CLASSIFIER.is_file(), reason="bundled classifier not installed")


def small_classifier(seed: int = 0) -> AttributeClassifier:
    torch.manual_seed(seed)
    classifier = AttributeClassifier(SMALL)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a round trip checks them too
        for module in classifier.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    return classifier.eval()


def test_shapes_and_resizing() -> None:
    classifier = small_classifier()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    assert classifier.attribute_names == (*ATTRIBUTES, STYLE_HEAD)
    assert classifier(images).shape == (2, 8)
    assert classifier.features(images).shape == (2, 6) and bool((classifier.features(images) >= 0).all())
    assert [tuple(m.shape) for m in classifier.feature_maps(images)] == [(2, 4, 32, 32), (2, 8, 16, 16), (2, 8, 8, 8)]
    _, logits = classifier.features_and_logits(images)
    assert torch.allclose(logits, classifier(images))
    large = torch.rand(2, 3, 64, 64) * 2 - 1
    resized = F.interpolate(large, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    assert torch.allclose(classifier(large), classifier(resized), atol=1e-6)
    assert classifier(torch.zeros(1, 3, 16, 16)).shape == (1, 8)
    with pytest.raises(ValueError, match=r"RGB images \[N, 3, H, W\]"):
        classifier(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="unknown attribute 'hat'"):
        classifier.index("hat")


def test_file_round_trip_and_strict_errors(tmp_path: Path) -> None:
    classifier = small_classifier()
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    path = tmp_path / "c.safetensors"
    save_classifier(path, classifier, metadata={"note": "x"}, dtype=torch.float32)
    loaded, meta = read_classifier(path)
    assert loaded.config == SMALL and meta["note"] == "x" and meta["format"] == "stylegan-edit/attribute-classifier"
    assert torch.equal(loaded(images), classifier(images))
    save_classifier(path, classifier)  # float16 by default
    assert load_file(str(path))["head.weight"].dtype == torch.float16
    assert torch.allclose(read_classifier(path)[0](images), classifier(images), atol=2e-2)

    tensors = load_file(str(path))
    meta = {"format": "stylegan-edit/attribute-classifier", "format_version": "1", "config": SMALL.to_json()}
    cases = {
        "other.safetensors": (tensors, {**meta, "format": "stylegan-edit/network"}, "not a stylegan-edit attribute"),
        "old.safetensors": (tensors, {**meta, "format_version": "0"}, "format version 0"),
        "config.safetensors": (tensors, {**meta, "config": "{"}, "invalid classifier config"),
        "missing.safetensors": ({k: v for k, v in tensors.items() if k != "head.bias"}, meta, "missing head.bias"),
    }
    for name, (state, metadata, message) in cases.items():
        save_file(state, str(tmp_path / name), metadata=metadata)
        with pytest.raises(CheckpointError, match=message):
            read_classifier(tmp_path / name)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match=r"junk\.safetensors is not a readable"):
        load_classifier(tmp_path / "junk.safetensors")
    with pytest.raises(CheckpointError, match="no such classifier file"):
        load_classifier(tmp_path / "absent.safetensors")


def test_augment_keeps_range_and_is_seeded() -> None:
    images = to_float(render_faces(4, style="photo").images)
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == images.shape and float(a.abs().max()) <= 1
    assert 0 < float((a - images).abs().mean()) < 0.1  # changed, but slightly


def test_train_classifier_command_writes_a_loadable_file(tmp_path: Path) -> None:
    out = tmp_path / "clf" / "attribute-classifier.safetensors"
    args = ["--num", "8", "--epochs", "1", "--batch-size", "8", "--eval-num", "4", "--outdir", out.parent]
    args.append("--no-progress")
    result = CliRunner().invoke(train_classifier, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "held-out accuracy (4 fresh faces per style" in result.output and "eyes_open" in result.output
    _, meta = read_classifier(out)
    assert json.loads(meta["training"])["num_per_style"] == 8
    assert set(json.loads(meta["held_out_accuracy"])["accuracy"]) == {"photo", "toon"}


@needs_bundled
def test_bundled_classifier_is_small_and_accurate_on_fresh_faces() -> None:
    assert BUNDLED_CLASSIFIER.stat().st_size < 2_000_000
    classifier = load_classifier()
    assert load_classifier() is classifier  # cached
    assert 100_000 <= sum(p.numel() for p in classifier.parameters()) <= 300_000
    # seeds never used in training (0 .. 40,000) nor in the recorded measurement (10,000,000 ..)
    accuracy = evaluate_classifier(classifier, 300, seed_offset=12_345_678)
    for style, per_head in accuracy.items():
        for name, value in per_head.items():
            assert value >= 0.95, f"{style} {name}: {value:.3f}"


@needs_bundled
def test_attribute_scorer_uses_the_bundled_logits() -> None:
    images = torch.rand(3, 3, 64, 64) * 2 - 1
    scores = attribute_scorer(["smile", "age"])(images)
    logits = load_classifier()(images)
    assert torch.equal(scores, logits[:, [1, 0]])
    with pytest.raises(ValueError, match="unknown attribute 'hat'"):
        attribute_scorer(["hat"])


@needs_bundled
def test_classifier_perceptual_loss_for_synthfaces_networks(
    tiny_generator: Generator, tiny_discriminator: torch.nn.Module, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no LPIPS weights
    synthfaces = Network(tiny_generator, tiny_discriminator, {"data": "synthfaces:photo"})  # type: ignore[arg-type]
    loss = auto_perceptual_loss(synthfaces)
    assert loss is not None and loss.name == "classifier"
    with torch.no_grad():
        targets = tiny_generator(torch.randn(2, tiny_generator.z_dim))
    assert torch.allclose(loss(targets, targets), torch.zeros(2), atol=1e-6)
    assert float(loss(targets, targets.flip(0)).min()) > 0
    assert losses_module.perceptual_loss("classifier", synthfaces).name == "classifier"
    other = Network(tiny_generator, tiny_discriminator, {"data": "/photos"})  # type: ignore[arg-type]
    assert auto_perceptual_loss(other).name == "disc"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="do not apply to this network"):
        losses_module.perceptual_loss("classifier", other)
