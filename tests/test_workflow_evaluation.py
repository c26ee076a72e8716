"""The evaluation workflow: the FID's real set follows the SynthFaces style a model records; reports give the
documents `metrics --json` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stylegan_edit.classifiers.attributes import save_classifier
from stylegan_edit.generators import Generator, Network
from stylegan_edit.workflow.edit_evaluation import ppl
from stylegan_edit.workflow.evaluation import fid, fid_real_set, separability, synthfaces_style
from tests.test_classifier import small_classifier

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def classifier_path(tmp_path: Path) -> Path:
    path = tmp_path / "classifier.safetensors"
    save_classifier(path, small_classifier(), dtype=torch.float32)
    return path


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ({"data": "synthfaces:toon"}, "synthfaces:toon"),
        ({"data": "synthfaces:photo"}, "synthfaces:photo"),
        ({"data": "faces/"}, "synthfaces:photo"),  # a folder it was trained on may be gone: the default set
        ({}, "synthfaces:photo"),
    ],
)
def test_fid_real_set_follows_the_recorded_synthfaces_style(recorded: dict[str, str], expected: str) -> None:
    assert fid_real_set(recorded) == expected


def test_fid_of_a_toon_model_compares_with_toon_renders(tiny_generator: Generator, classifier_path: Path) -> None:
    toon = fid(
        Network(tiny_generator, metadata={"data": "synthfaces:toon"}), num=4, classifier=classifier_path, batch_size=4
    )
    photo = fid(Network(tiny_generator), num=4, classifier=classifier_path, batch_size=4)
    assert toon.real == "synthfaces:toon" and toon.real_description.startswith("synthfaces:toon renders")
    assert photo.real == "synthfaces:photo"
    # Same generated images, other real sets: the toon real set is another distribution.
    assert toon.result.fid != pytest.approx(photo.result.fid)
    document = toon.document()
    assert document["real"] == "synthfaces:toon" and document["num"] == 4 and document["fid"] == toon.result.fid
    explicit = fid(
        Network(tiny_generator, metadata={"data": "synthfaces:toon"}),
        num=4,
        real="synthfaces:photo",
        classifier=classifier_path,
        batch_size=4,
    )
    assert explicit.real == "synthfaces:photo" and explicit.result.fid == pytest.approx(photo.result.fid)


def test_unknown_synthfaces_style_is_refused() -> None:
    assert synthfaces_style("faces/") is None and synthfaces_style("synthfaces:toon") == "toon"
    with pytest.raises(ValueError, match="unknown SynthFaces style 'oil'"):
        fid(None, real="synthfaces:oil")


def test_separability_and_ppl_reports(
    tiny_generator: Generator, classifier_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = separability(Network(tiny_generator), num=40, spaces=["w"], classifier=classifier_path, batch_size=20)
    assert [s.value for s in report.spaces] == ["w"] and report.spaces[next(iter(report.spaces))].score >= 1.0
    assert set(report.document()) == {"metric", "network", "num", "w"}
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached LPIPS weights: the classifier's features
    path_length = ppl(Network(tiny_generator), num=4, space="z", classifier=classifier_path, batch_size=4)
    assert path_length.result.distance_name == "classifier" and "not comparable" in path_length.distance_note
    assert path_length.document()["ppl"] == path_length.result.mean > 0
