"""The browser editor's handlers, driven directly (no browser): upload -> invert -> move a slider -> the classifier
sees the edit -> download writes the CLI's files; refused uploads, and the `ui` command's checks before serving."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("gradio", reason="the editor needs the ui extra: pip install 'stylegan-edit[ui]'")

from stylegan_edit.classifiers import load_classifier
from stylegan_edit.cli.main import cli
from stylegan_edit.images import from_pil
from stylegan_edit.latents import load_latents
from stylegan_edit.ui import uploads
from stylegan_edit.ui.editor import Editor, Session, metrics_line
from stylegan_edit.workflow import render

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def editor() -> Editor:
    return Editor(device="cpu")


@pytest.fixture(scope="module")
def photo(editor: Editor, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 256 px photo of a face (a generated one, upscaled: a face crop, so no alignment moves it)."""
    path = tmp_path_factory.mktemp("photos") / "face.png"
    editor.seed_photo(7).resize((256, 256), Image.Resampling.LANCZOS).save(path)
    return path


@pytest.fixture(scope="module")
def session(editor: Editor, photo: Path) -> Session:
    assert uploads.check_photo(photo).size == (256, 256)  # what the page checks on upload
    return editor.invert(photo)


def age_logit(image: Image.Image) -> float:
    classifier = load_classifier()
    with torch.no_grad():
        return float(classifier(from_pil(image))[0, classifier.index("age")])


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def test_upload_invert_age_slider_and_download(editor: Editor, session: Session, photo: Path, tmp_path: Path) -> None:
    result = session.inversion
    assert session.name == "face" and session.source == str(photo)
    assert result.targets.shape == (1, 3, 64, 64) and result.encoder_arch == "psp"
    assert len(result.notes) == 1 and "face.png" in result.notes[0] and "64x64" in result.notes[0]
    assert float(result.metrics["psnr"][0]) > 20  # the encoder alone reconstructs the photo
    assert metrics_line(result).startswith("PSNR ") and "psp encoder" in metrics_line(result)

    still = editor.preview(session, {"age": 0.0})
    assert np.array_equal(pixels(still.image), pixels(editor.preview(session, {}).image))
    older, younger = editor.preview(session, {"age": 3.0}), editor.preview(session, {"age": -3.0})
    assert np.abs(pixels(older.image) - pixels(still.image)).mean() > 1.0  # the preview changed
    assert age_logit(younger.image) < age_logit(still.image) < age_logit(older.image)
    assert older.settings["strengths"] == {"age": 3.0}

    files = editor.save(session, older, tmp_path)
    folder = tmp_path / "face"
    expected = {"latents.safetensors", "projected_w.npz", "target.png", "proj.png", "compare.png", "metrics.json"}
    expected |= {"edited.png", "edited.safetensors", "edited_projected_w.npz", "before_after.png"}
    assert {p.name for p in files} == expected | {"projected.safetensors"}
    assert all(path.stat().st_size > 0 for path in files)
    edited, metadata = load_latents(folder / "edited.safetensors")
    assert torch.equal(edited.tensor, older.latents.tensor)
    assert json.loads(metadata["strengths"]) == {"age": 3.0} and metadata["network"] == "synthfaces-64"
    assert np.load(folder / "edited_projected_w.npz")["w"].shape == (1, 10, 128)
    written = Image.open(folder / "edited.png")
    again = render(editor.generator(), edited)
    assert np.array_equal(pixels(written), pixels(Image.fromarray(_uint8(again))))
    assert Image.open(folder / "before_after.png").size == (3 * 64, 64)
    assert json.loads((folder / "metrics.json").read_text())["source"] == str(photo)


def test_refinement_reports_every_step_and_fits_closer(editor: Editor, session: Session, photo: Path) -> None:
    steps: list[tuple[int, int]] = []
    refined = editor.invert(photo, preset="encoder-lbfgs", num_steps=6, progress=lambda *done: steps.append(done))
    assert steps == [(k, 6) for k in range(1, 7)]
    assert refined.inversion.preset is not None and refined.inversion.num_steps == 6
    assert float(refined.inversion.metrics["mse"][0]) < float(session.inversion.metrics["mse"][0])


def test_layer_range_truncation_and_blend(editor: Editor, session: Session) -> None:
    base = session.inversion.latents.tensor
    coarse = editor.preview(session, {"age": 2.0}, layers=(0, 2))
    moved = (coarse.latents.tensor - base).abs().amax(dim=-1)[0]
    assert bool((moved[:3] > 0).all()) and bool((moved[3:] == 0).all())
    mean = editor.preview(session, {}, truncation=0.0).latents.tensor
    assert torch.allclose(mean, editor.generator().mapping.w_avg.expand_as(mean), atol=1e-6)
    assert editor.preview(session, {}).blended is None
    toon = editor.preview(session, {"age": 2.0}, blend_with="synthfaces-toon-64", swap_res=16)
    assert toon.blended is not None and toon.blended.size == (64, 64)
    assert np.abs(pixels(toon.blended) - pixels(toon.image)).mean() > 1.0
    assert editor.blended("synthfaces-64", "synthfaces-toon-64", 16) is editor.blended(
        "synthfaces-64", "synthfaces-toon-64", 16
    )  # made once, so moving a slider does not re-blend


def test_components_and_direction_files_add_sliders(editor: Editor, session: Session, tmp_path: Path) -> None:
    found = editor.find_directions(session, "sefa", 3)
    assert [label for label, _ in found.extras] == ["sefa0", "sefa1", "sefa2"]
    still = editor.preview(found, {})
    assert np.abs(pixels(editor.preview(found, {"sefa0": 3.0}).image) - pixels(still.image)).mean() > 1.0
    age = editor.directions(session)["age"]
    assert age is not None
    age.save(tmp_path / "age.safetensors")
    loaded = editor.load_directions(found, [tmp_path / "age.safetensors"])
    assert [label for label, _ in loaded.extras][-1] == "age (2)"  # a label no other slider has
    same = editor.preview(loaded, {"age (2)": 2.0}).latents.tensor
    assert torch.equal(same, editor.preview(loaded, {"age": 2.0}).latents.tensor)
    with pytest.raises(ValueError, match="safetensors"):
        editor.load_directions(session, [tmp_path / "age.npy"])


def test_bad_uploads_and_inputs_are_refused_in_one_line(editor: Editor, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.png").write_text("not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (8, 8)).save(tmp_path / "tiny.gif")
    Image.new("RGB", (8, 8)).save(tmp_path / "gif.png", format="GIF")
    cases = {
        "notes.txt": "must be a",
        "fake.png": "not a readable image",
        "empty.jpg": "is empty",
        "tiny.gif": "must be a",
        "gif.png": "GIF image",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message) as caught:
            uploads.check_photo(tmp_path / name)
        assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="unknown network 'nope'"):
        editor.generator("nope")


def test_size_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")
    monkeypatch.setattr(uploads, "MAX_PIXELS", 300 * 200 - 1)
    with pytest.raises(ValueError, match="300x200 pixels"):
        uploads.check_photo(tmp_path / "big.png")
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(ValueError, match="the limit is"):
        uploads.check_photo(tmp_path / "big.png")


def test_page_errors_show_as_one_line_in_the_page() -> None:
    import gradio as gr

    from stylegan_edit.ui.page import shown, swap_choices

    @shown
    def handler() -> None:
        raise ValueError("the photo is broken")

    with pytest.raises(gr.Error, match="the photo is broken"):
        handler()
    assert swap_choices(64) == [4, 8, 16, 32, 64, 128]


def test_the_page_builds_with_a_slider_per_bundled_direction(editor: Editor) -> None:
    from stylegan_edit.ui.page import build_page

    page = build_page(editor)
    ids = {block.elem_id for block in page.blocks.values() if getattr(block, "elem_id", None)}
    assert {f"slider-{name}" for name in editor.direction_names} <= ids
    assert {"upload", "edited", "blended", "downloads", "metrics", "notes"} <= ids
    assert {"age", "smile", "yaw"} <= set(editor.direction_names)


def test_the_command_checks_everything_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["ui", "--network", "nope"])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith("Error: unknown network")
    result = runner.invoke(cli, ["ui", "--network", "synthfaces-toon-64", "--encoder", "e4e"])
    assert result.exit_code == 1 and "no e4e encoder ships for the network synthfaces-toon-64" in result.output
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(cli, ["ui", "--port", str(port)])
    assert result.exit_code == 1 and f"port {port} on 127.0.0.1 is in use" in result.output
    monkeypatch.setitem(sys.modules, "gradio", None)
    monkeypatch.delitem(sys.modules, "stylegan_edit.ui.page", raising=False)
    result = runner.invoke(cli, ["ui", "--port", str(port)])  # free again
    assert result.exit_code == 1 and "pip install 'stylegan-edit[ui]'" in result.output
    assert "Traceback" not in result.output


def test_help_does_not_import_gradio() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from stylegan_edit.cli.main import cli; "
        "r = CliRunner().invoke(cli, ['ui', '--help']); assert r.exit_code == 0 and '127.0.0.1' in r.output; "
        "print(sorted(m for m in sys.modules if m.startswith(('gradio', 'stylegan_edit.ui'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def _uint8(images: torch.Tensor) -> np.ndarray:
    from stylegan_edit.images import to_uint8

    return to_uint8(images)[0]
