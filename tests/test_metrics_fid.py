"""Fréchet distance against closed forms, and `metrics fid` on the tiny checkpoint with a folder of real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stylegan_edit.classifiers.attributes import save_classifier
from stylegan_edit.cli.metrics import metrics
from stylegan_edit.data import write_dataset
from stylegan_edit.formats.native import save_network
from stylegan_edit.generators import Generator
from stylegan_edit.metrics.fid import Classified, FeatureStats, compare, frechet_distance
from tests.test_classifier import small_classifier


@pytest.fixture
def classifier_path(tmp_path: Path) -> Path:
    path = tmp_path / "classifier.safetensors"
    save_classifier(path, small_classifier(), dtype=torch.float32)
    return path


def test_frechet_distance_matches_closed_forms() -> None:
    rng = np.random.RandomState(0)
    a = rng.randn(5, 5)
    cov = a @ a.T + np.eye(5)
    mean = rng.randn(5)
    same = FeatureStats(mean, cov, 100)
    assert frechet_distance(same, same) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert frechet_distance(same, FeatureStats(mean + shift, cov, 100)) == pytest.approx(float(shift @ shift))
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 1.0])
    expected = 4.0 + float(np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2))  # |dmu|^2 + sum (sqrt a - sqrt b)^2
    diagonal = frechet_distance(
        FeatureStats(np.zeros(3), np.diag(var_a), 10), FeatureStats(np.array([0.0, 2.0, 0.0]), np.diag(var_b), 10)
    )
    assert diagonal == pytest.approx(expected)


def test_fid_of_a_set_with_itself_is_zero_and_sizes_must_match() -> None:
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(200, 8, generator=gen) @ torch.randn(8, 8, generator=gen)
    stats = FeatureStats.of(features)
    assert frechet_distance(stats, stats) == pytest.approx(0.0, abs=1e-6)
    shifted = FeatureStats.of(features + 0.5)
    assert frechet_distance(stats, shifted) == pytest.approx(8 * 0.25, rel=1e-6)
    logits = torch.randn(200, 3, generator=gen)
    result = compare(
        Classified(features, logits), Classified(features, logits), Classified(features + 0.5, -logits), "abc"
    )
    assert result.fid == pytest.approx(0.0, abs=1e-6) and result.baseline == pytest.approx(2.0, rel=1e-6)
    assert result.frequency_differences()["a"] == pytest.approx(float((logits[:, 0] > 0).float().mean()) - 0.5)
    with pytest.raises(ValueError, match="same size"):
        compare(
            Classified(features[:10], logits[:10]), Classified(features, logits), Classified(features, logits), "abc"
        )


def test_label_correlation_gaps_name_the_pair_a_generator_ties() -> None:
    """Real labels independent; the generated set ties b to a (equal labels) and keeps c constant."""
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(400, 4, generator=gen)
    real_logits = torch.randn(400, 3, generator=gen)
    tied = torch.randn(400, 3, generator=gen)
    tied[:, 1] = tied[:, 0]
    tied[:, 2] = 1.0
    result = compare(
        Classified(features, tied), Classified(features, real_logits), Classified(features, real_logits), "abc"
    )
    correlation = Classified(features, tied).label_correlation()
    assert correlation[0, 1] == pytest.approx(1.0) and correlation[0, 2] == 0.0 and correlation[2, 2] == 0.0
    (a, b, generated, real), *rest = result.correlation_gaps(top=2)
    assert (a, b) == ("a", "b") and generated == pytest.approx(1.0) and abs(real) < 0.15
    assert len(rest) == 1 and abs(rest[0][2] - rest[0][3]) < 0.15


def test_fid_command_with_a_folder(tmp_path: Path, tiny_checkpoint: Path, classifier_path: Path) -> None:
    real = tmp_path / "real"
    write_dataset(real, 12, size=64, progress=False)
    args = ["fid", "--network", tiny_checkpoint, "--num", 20, "--real", real, "--classifier", classifier_path]
    out = tmp_path / "fid.json"
    result = CliRunner().invoke(metrics, [str(a) for a in [*args, "--no-progress", "--json", out]])
    assert result.exit_code == 0, result.output
    assert "NOT Inception FID" in result.output and "each set has 6 images" in result.output
    assert "12 images from" in result.output and "eyes_open" in result.output
    import json

    document = json.loads(out.read_text())
    assert document["num"] == 6 and document["fid"] > 0 and document["baseline_fid"] > 0
    assert document["ratio"] == pytest.approx(document["fid"] / document["baseline_fid"])
    assert (
        set(document["frequency_real"]) == {*document["frequency_generated"]} and len(document["frequency_real"]) == 8
    )
    gaps = document["label_correlation_gaps"]
    assert "label correlation" in result.output and len(gaps) == 3
    assert all(set(gap["attributes"]) <= set(document["frequency_real"]) for gap in gaps)
    assert all(abs(gap["generated"]) <= 1 and abs(gap["real"]) <= 1 for gap in gaps)


def test_fid_command_rejects_too_few_real_images(tmp_path: Path, tiny_checkpoint: Path, classifier_path: Path) -> None:
    real = tmp_path / "real"
    write_dataset(real, 3, size=16, progress=False)
    args = ["fid", "--network", tiny_checkpoint, "--real", real, "--classifier", classifier_path, "--no-progress"]
    result = CliRunner().invoke(metrics, [str(a) for a in args])
    assert result.exit_code != 0 and "3 images; FID and its baseline need at least 4" in result.output
    assert "Traceback" not in result.output


def test_fid_command_with_synthfaces(tiny_checkpoint: Path, classifier_path: Path) -> None:
    args = [
        "fid",
        "--network",
        tiny_checkpoint,
        "--num",
        8,
        "--real",
        "synthfaces:toon",
        "--classifier",
        classifier_path,
    ]
    result = CliRunner().invoke(metrics, [str(a) for a in [*args, "--no-progress"]])
    assert result.exit_code == 0, result.output
    assert "synthfaces:toon renders, seeds from 20,000,000; 8 images per set, at 16x16" in result.output
    bad = CliRunner().invoke(metrics, ["fid", "--network", str(tiny_checkpoint), "--real", "synthfaces:oil"])
    assert bad.exit_code != 0 and "unknown SynthFaces style 'oil'" in bad.output


def test_fid_compares_a_synthfaces_model_with_the_style_it_was_trained_on(
    tmp_path: Path, tiny_generator: Generator, classifier_path: Path
) -> None:
    """Without --real, a checkpoint that records `data: synthfaces:toon` is compared with toon renders (a toon model
    against photo renders would measure the style change, not the model); one that records nothing, with photo."""
    toon = tmp_path / "toon.safetensors"
    save_network(toon, tiny_generator, metadata={"data": "synthfaces:toon"})
    plain = tmp_path / "plain.safetensors"
    save_network(plain, tiny_generator)
    for path, style in ((toon, "toon"), (plain, "photo")):
        args = ["fid", "--network", str(path), "--num", "4", "--classifier", str(classifier_path), "--no-progress"]
        result = CliRunner().invoke(metrics, args)
        assert result.exit_code == 0, result.output
        assert f"real images: synthfaces:{style} renders" in result.output
