"""Perceptual path length: slerp, positivity, a rougher generator scoring higher, and `metrics ppl`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from stylegan_edit.classifiers.attributes import save_classifier
from stylegan_edit.cli.metrics import metrics
from stylegan_edit.generators import Generator
from stylegan_edit.metrics.ppl import perceptual_path_length, slerp
from stylegan_edit.perceptual.losses import FeatureLoss
from tests.conftest import make_generator
from tests.test_classifier import small_classifier

PIXELS = FeatureLoss(lambda images: [images, F.avg_pool2d(images, 2)], "pixels")


def test_slerp_endpoints_and_unit_norm() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 5, 8, generator=gen)
    t = torch.rand(5, 1, generator=gen)
    assert torch.allclose(slerp(a, b, torch.zeros(5, 1)), a / a.norm(dim=1, keepdim=True), atol=1e-6)
    assert torch.allclose(slerp(a, b, torch.ones(5, 1)), b / b.norm(dim=1, keepdim=True), atol=1e-5)
    assert torch.allclose(slerp(a, b, t).norm(dim=1), torch.ones(5), atol=1e-6)


def test_ppl_is_positive_seeded_and_larger_for_a_rougher_generator(tiny_generator: Generator) -> None:
    rough = make_generator()
    with torch.no_grad():
        rough.mapping.fc0.weight.mul_(4)  # w moves 4x further per unit of z: a less smooth latent space
    for space in ("z", "w"):
        smooth = perceptual_path_length(tiny_generator, PIXELS, 48, space=space, batch_size=16)
        assert smooth.distances.shape == (48,) and 0 < smooth.mean < float("inf")
        again = perceptual_path_length(tiny_generator, PIXELS, 48, space=space, batch_size=16)
        assert again.mean == smooth.mean and smooth.distance_name == "pixels"
        assert perceptual_path_length(rough, PIXELS, 48, space=space, batch_size=16).mean > 2 * smooth.mean
    end = perceptual_path_length(tiny_generator, PIXELS, 16, sampling="end")
    assert end.mean > 0
    with pytest.raises(ValueError, match="z or w"):
        perceptual_path_length(tiny_generator, PIXELS, 4, space="w+")


def test_ppl_command_falls_back_to_classifier_features(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached LPIPS weights
    classifier = tmp_path / "classifier.safetensors"
    save_classifier(classifier, small_classifier(), dtype=torch.float32)
    out = tmp_path / "ppl.json"
    args = ["ppl", "--network", tiny_checkpoint, "--num", 8, "--space", "z", "--classifier", classifier]
    result = CliRunner().invoke(metrics, [str(a) for a in [*args, "--json", out, "--no-progress"]])
    assert result.exit_code == 0, result.output
    assert "PPL (z, full, epsilon 0.0001, 8 paths)" in result.output
    assert "distance: the attribute classifier's feature-map distance" in result.output
    document = json.loads(out.read_text())
    assert document["distance"] == "classifier" and document["ppl"] > 0
