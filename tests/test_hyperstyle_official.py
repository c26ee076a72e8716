"""Official HyperStyle checkpoints (yuval-alaluf/hyperstyle): a synthetic 256 px checkpoint and W encoder written in
the project's layout by `tests/official_hyperstyle_checkpoints.py` load strictly, and our modules reproduce the
official hypernet, W encoder and iterative inference computed functionally over the file's own tensor names."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from stylegan_edit.encoders.official.hyperstyle import read_official_hyperstyle
from stylegan_edit.encoders.official.hyperstyle_hypernet import (
    RefinementBlockSeparable,
    SharedWeightsHyperNetResNet,
    SharedWeightsHyperNetResNetSeparable,
)
from stylegan_edit.files import CheckpointError
from tests.official_hyperstyle_checkpoints import (
    PARAMETERS,
    hypernet_state,
    reference_block,
    reference_deltas,
    reference_w_codes,
    write_hyperstyle_checkpoint,
    write_w_encoder_checkpoint,
)

pytestmark = pytest.mark.usefixtures("one_thread")
LAYERS = "0,2,17,18,19"  # two sharing layers, 512 -> 256 and 128 -> 128 per-channel blocks, a toRGB block


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("hyperstyle")
    hyper, w_encoder = folder / "hyperstyle_ffhq.pt", folder / "faces_w_encoder.pt"
    with torch.random.fork_rng(devices=[]):
        checkpoint = write_hyperstyle_checkpoint(hyper, output_size=256, layers_to_tune=LAYERS)
        w_checkpoint = write_w_encoder_checkpoint(w_encoder)
    return hyper, checkpoint, w_encoder, w_checkpoint


@pytest.fixture(scope="module")
def model(files: tuple[Path, dict[str, Any], Path, dict[str, Any]]) -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return read_official_hyperstyle(files[0], files[2])
    finally:
        torch.set_num_threads(threads)


def _prefixed(checkpoint: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}


def test_every_official_variant_has_the_official_names_and_shapes() -> None:
    """Checked on the meta device for the 1024 px default layers (every non-toRGB layer) of both hypernet types."""
    layers = [i for i in range(26) if PARAMETERS[i][0] == 3]
    for kind in (SharedWeightsHyperNetResNet, SharedWeightsHyperNetResNetSeparable):
        with torch.device("meta"):
            ours = kind(output_size=1024, layers_to_tune=layers).state_dict()
        theirs = hypernet_state(output_size=1024, layers_to_tune=layers, separable=kind.separable, meta=True)
        assert sorted(ours) == sorted(theirs)
        assert all(tuple(ours[k].shape) == tuple(v.shape) for k, v in theirs.items())


def test_the_hypernet_reproduces_the_official_refinement_blocks(files: Any, model: Any) -> None:
    x = torch.rand(1, 6, 256, 256, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        ours = model.hypernet(x)
        theirs = reference_deltas(_prefixed(files[1], "hypernet."), x, 20)
    assert [i for i, d in enumerate(ours) if d is not None] == [0, 2, 17, 18, 19]
    for a, b in zip(ours, theirs, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert b is not None and a.shape == b.shape
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-4), float((a - b).abs().max())


def test_separable_blocks_follow_the_official_math() -> None:
    torch.manual_seed(0)
    block = RefinementBlockSeparable(PARAMETERS[17], torgb=False)
    features = torch.randn(2, 512, 16, 16)
    state = {f"refinement_blocks.17.{k}": v for k, v in block.state_dict().items()}
    with torch.no_grad():
        assert torch.allclose(block(features), reference_block(state, 17, features, separable=True), atol=1e-6)


def test_inversion_follows_the_official_iterations(files: Any, model: Any) -> None:
    """Codes = W encoder + the HyperStyle file's latent_avg; each pass adds the hypernet's offsets for (photo ‖ the
    previous reconstruction pooled to 256 px); the offsets change the image."""
    photo = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(4)) * 2 - 1
    result = model.invert(photo, iterations=2)
    x = F.interpolate(photo, size=(256, 256), mode="bilinear", align_corners=False, antialias=True)
    codes = reference_w_codes(_prefixed(files[3], "encoder."), x, 14) + files[1]["latent_avg"]
    assert torch.allclose(result.latents.tensor, codes, atol=1e-4, rtol=1e-4)
    state = _prefixed(files[1], "hypernet.")
    with torch.no_grad():
        first = reference_deltas(state, torch.cat([x, F.adaptive_avg_pool2d(result.initial, 256)], 1), 20)
        second = reference_deltas(state, torch.cat([x, F.adaptive_avg_pool2d(result.images[0], 256)], 1), 20)
    for ours, a, b in zip(result.deltas, first, second, strict=True):
        if ours is not None:
            assert a is not None and b is not None
            assert torch.allclose(ours, a + b, atol=1e-4, rtol=1e-3)
    assert result.images[-1].shape == (1, 3, 256, 256)
    assert float((result.images[-1] - result.initial).abs().mean()) > 1e-3


def test_bad_files_are_refused_in_one_line(files: Any, tmp_path: Path) -> None:
    hyper, full, w_encoder, w_checkpoint = files
    # Every refusal comes before the hypernet is built, so one tensor stands for the state_dict.
    checkpoint = {**full, "state_dict": {"hypernet.conv1.weight": torch.zeros(64, 6, 7, 7)}}
    cases = {
        "encoder_type": ({**checkpoint, "opts": {**checkpoint["opts"], "encoder_type": "HyperNet"}}, "encoder_type"),
        "input_nc": ({**checkpoint, "opts": {**checkpoint["opts"], "input_nc": 3}}, "6 input channels"),
        "size": ({**checkpoint, "opts": {**checkpoint["opts"], "output_size": 128}}, "output_size"),
        "stray": ({**checkpoint, "state_dict": {**checkpoint["state_dict"], "w_encoder.x": torch.zeros(1)}}, "outside"),
        "no_avg": ({k: v for k, v in checkpoint.items() if k != "latent_avg"}, "latent_avg"),
    }
    for name, (document, message) in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save(document, path)
        with pytest.raises(CheckpointError, match=message):
            read_official_hyperstyle(path, w_encoder)
    wrong = tmp_path / "wrong_w.pt"
    torch.save({**w_checkpoint, "opts": {**w_checkpoint["opts"], "encoder_type": "Encoder4Editing"}}, wrong)
    with pytest.raises(CheckpointError, match="not a W encoder"):
        read_official_hyperstyle(hyper, wrong)
    with pytest.raises(CheckpointError, match="not an official HyperStyle"):
        read_official_hyperstyle(w_encoder, w_encoder)
    code = tmp_path / "code.pt"
    torch.save({"opts": {}, "state_dict": {}, "payload": pickle.loads(pickle.dumps(Path("x")))}, code)
    with pytest.raises(CheckpointError, match="refusing"):
        read_official_hyperstyle(code, w_encoder)
