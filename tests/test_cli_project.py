"""`stylegan-edit project` through click's test runner: outputs, the hand-off, and every kind of bad input."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from stylegan_edit.cli.handoff import find_last_latents
from stylegan_edit.cli.project import PRESET_NAMES, project
from stylegan_edit.latents import Latents, LatentSpace, load_latents
from stylegan_edit.workflow.presets import PRESETS


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STYLEGAN_EDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no LPIPS weights: the fallback path
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(project, [str(a) for a in args])


def _photo(size: tuple[int, int] = (24, 20), seed: int = 0) -> Image.Image:
    pixels = np.random.RandomState(seed).randint(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_project_writes_latents_images_metrics_and_records_them(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _photo((40, 24)).save(tmp_path / "wide.png")  # non-square: centre-cropped and resized
    _photo().convert("L").save(tmp_path / "gray.png")
    _photo().convert("RGBA").save(tmp_path / "alpha.png")
    Image.fromarray(np.arange(400, dtype=np.uint16).reshape(20, 20) * 150).save(tmp_path / "deep.png")
    _photo().convert("CMYK").save(tmp_path / "print.jpg")
    Image.new("RGB", (3000, 2000), (200, 150, 100)).save(tmp_path / "big.png")  # large, not a bomb: resized
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    inputs = ["wide.png", "gray.png", "alpha.png", "deep.png", "print.jpg", "big.png"]
    out = tmp_path / "out"
    result = _run(*inputs, "--network", tiny_checkpoint, "--steps", "3", "--batch-size", "2", "--outdir", out)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert (
        lines[0]
        == "preset nvidia: Adam from the mean W, 3 steps, lr 0.1, ramp-up 0.05, ramp-down 0.25, latent noise 0.05"
    )
    assert lines[1].startswith("loss: disc (auto: no VGG16 weights at ")  # the tiny network is no SynthFaces model
    names = ["wide", "gray", "alpha", "deep", "print", "big"]
    assert lines[2:8] == [  # what was done to each photo, before the optimisation
        "wide.png: no face found, centre-cropped 40x24 to 24x24, resized 24x24 to 16x16",
        "gray.png: no face found, centre-cropped 24x20 to 20x20, resized 20x20 to 16x16",
        "alpha.png: no face found, centre-cropped 24x20 to 20x20, resized 20x20 to 16x16",
        "deep.png: no face found, resized 20x20 to 16x16",
        "print.jpg: no face found, centre-cropped 24x20 to 20x20, resized 20x20 to 16x16",
        "big.png: no face found, centre-cropped 3000x2000 to 2000x2000, resized 2000x2000 to 16x16",
    ]
    assert [line.split(":")[0] for line in lines[8:14]] == names
    assert all("PSNR" in line and "SSIM" in line and "disc" in line for line in lines[8:14])
    assert "projected.safetensors" in lines[-1] and "last-latents.json" in lines[-1]
    expected = {"compare.png", "latents.safetensors", "metrics.json", "proj.png", "projected_w.npz", "target.png"}
    for name in names:
        assert {p.name for p in (out / name).iterdir()} == expected
    assert Image.open(out / "wide" / "compare.png").size == (32, 16)
    with np.load(out / "gray" / "projected_w.npz") as data:
        assert data["w"].shape == (1, 6, 16) and data["w"].dtype == np.float32
    latents, meta = load_latents(out / "gray" / "latents.safetensors")
    assert latents.space is LatentSpace.W_PLUS and meta["loss"] == "1*disc" and meta["source"] == "gray.png"
    assert (meta["preset"], meta["steps"], meta["seed"]) == ("nvidia", "3", "304")
    metrics = json.loads((out / "gray" / "metrics.json").read_text())
    assert metrics["perceptual_name"] == "disc" and metrics["psnr"] > 0
    combined, combined_meta = load_latents(out / "projected.safetensors")
    assert len(combined) == 6 and torch.equal(combined.tensor[1:2], latents.tensor)
    assert json.loads(combined_meta["names"]) == names
    handoff = find_last_latents()
    assert handoff.latents_path == (out / "projected.safetensors").resolve()
    assert handoff.network == str(tiny_checkpoint.resolve()) and handoff.command == "project"
    assert not [p for p in out.rglob(".*")]  # no temporary files left behind


def test_project_noise_strip_video_and_init_file(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _photo().save(tmp_path / "a.png")
    first = _run("a.png", "--network", tiny_checkpoint, "--steps", "4", "--space", "w", "--outdir", "one")
    assert first.exit_code == 0, first.output
    args = ["--network", tiny_checkpoint, "--steps", "8", "--loss", "mse", "--noise", "--strip", "--save-video"]
    second = _run("a.png", *args, "--init-latents", "one/a/latents.safetensors", "--outdir", "two")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("preset nvidia: Adam from one/a/latents.safetensors, 8 steps, lr 0.1")
    files = {p.name for p in (tmp_path / "two" / "a").iterdir()}
    assert {"noise.safetensors", "strip.png", "proj.gif"} <= files
    assert Image.open(tmp_path / "two" / "a" / "strip.png").size == (8 * 16, 16)
    assert json.loads((tmp_path / "two" / "a" / "metrics.json").read_text())["loss"] == "1*mse + 100000*noise_reg"
    again = _run("a.png", "--network", tiny_checkpoint, "--steps", "2", "--outdir", "two")  # no extras this time
    assert again.exit_code == 0, again.output
    assert not {"noise.safetensors", "strip.png", "proj.gif"} & {p.name for p in (tmp_path / "two" / "a").iterdir()}


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims `width x height` pixels (a decompression bomb, without the memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def _bad_inputs(tmp_path: Path, tiny_checkpoint: Path) -> dict[str, tuple[list[str], str]]:
    _photo().save(tmp_path / "good.png")
    (tmp_path / "notes.png").write_text("not an image")
    _photo((64, 64)).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:300])
    _photo((5, 5)).save(tmp_path / "tiny.png")
    _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    Image.new("RGB", (64, 64), (128, 128, 128)).save(tmp_path / "blank.png")
    Latents(torch.zeros(1, 8), LatentSpace.W).save(tmp_path / "w8.safetensors")
    Latents(torch.zeros(1, 18, 16), LatentSpace.W_PLUS).save(tmp_path / "w18.safetensors")
    Latents(torch.zeros(2, 16), LatentSpace.W).save(tmp_path / "two.safetensors")
    return {
        "not an image": (["good.png", "notes.png"], "notes.png: not an image file"),
        "truncated": (["cut.png"], "cut.png: cannot decode image"),
        "tiny": (["tiny.png"], "tiny.png: image is too small (5x5)"),
        "bomb": (["bomb.png"], "decompression bomb"),
        "missing": (["nowhere.png"], "nowhere.png: no such file"),
        "no face": (["blank.png", "--align"], "blank.png: no face found"),
        "w_dim": (
            ["good.png", "--init-latents", "w8.safetensors"],
            "w8.safetensors: latents with w_dim 8, but the generator needs 16",
        ),
        "num_ws": (
            ["good.png", "--init-latents", "w18.safetensors"],
            "w18.safetensors: latents with 18 layers (num_ws), but the generator needs 6",
        ),
        "init": (["good.png", "--init-latents", "notes.png"], "notes.png is not a readable stylegan-edit latents file"),
        "two inits": (["good.png", "--init-latents", "two.safetensors"], "2 codes for 1 images"),
        "loss": (["good.png", "--loss", "lpips"], "vgg16-397923af.pth (nothing is downloaded)"),
        "lbfgs noise": (["good.png", "--preset", "lbfgs", "--noise"], "preset lbfgs runs L-BFGS"),
        "encoder in w": (["good.png", "--preset", "encoder-lbfgs", "--space", "w"], "needs space w+, not w"),
        "nan": (["good.png", "--loss", "mse", "--steps", "40"], "optimisation diverged (NaN loss) at step"),
    }


def test_bad_inputs_fail_with_one_line_and_leave_nothing(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nvidia = PRESETS["nvidia"]
    monkeypatch.setitem(PRESETS, "nvidia", replace(nvidia, lr=1e30))  # diverges ("nan"); the others fail before
    for label, (args, message) in _bad_inputs(tmp_path, tiny_checkpoint).items():
        out = tmp_path / f"out-{label.replace(' ', '-')}"
        result = _run(*args, "--network", tiny_checkpoint, "--outdir", out, "--no-progress")
        assert result.exit_code == 1, (label, result.output)
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("Error: ") and message in lines[-1], (label, result.output)
        assert "Traceback" not in result.output, label
        assert _files(out) == [], (label, _files(out))
    assert not (tmp_path / ".stylegan-edit").exists()  # nothing was recorded for `apply`


def test_default_network_missing_from_the_installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stylegan_edit.assets.ASSETS", tmp_path / "no-assets")  # an install without the model
    _photo().save(tmp_path / "a.png")
    result = _run("a.png")
    assert result.exit_code == 1 and "not in this installation" in result.output
    assert "Traceback" not in result.output


def test_main_command_on_the_bundled_model(tmp_path: Path) -> None:
    """`stylegan-edit project photo.png --space w+` as the README writes it (here with 5 steps), no --network."""
    from stylegan_edit.data import render_seed

    render_seed(10_000_000, size=128)[1].save(tmp_path / "photo.png")  # off-size: resized to 64
    result = _run("photo.png", "--space", "w+", "--steps", "5")
    assert result.exit_code == 0, result.output
    latents, meta = load_latents(find_last_latents().latents_path)
    assert latents.space is LatentSpace.W_PLUS and latents.tensor.shape == (1, 10, 128)
    assert meta.get("network") == "synthfaces-64", meta
    assert Image.open(tmp_path / "out" / "project" / "photo" / "proj.png").size == (64, 64)
    assert result.stdout.splitlines()[0].startswith("preset nvidia: Adam from the mean W, 5 steps, lr 0.1")
    assert result.stdout.splitlines()[1].startswith("loss: classifier (auto: no VGG16 weights")
    # dlib finds the rendered face, which fills the picture as the model's training faces do: not re-aligned
    assert result.stdout.splitlines()[2] == "photo.png: a face crop already (face 1 of 1), resized 128x128 to 64x64"
    fast = _run("photo.png", "--preset", "lbfgs", "--steps", "5", "--outdir", "fast")
    assert fast.exit_code == 0, fast.output
    assert fast.stdout.startswith("preset lbfgs: L-BFGS from the mean W, 5 steps\n")
    assert load_latents(tmp_path / "fast" / "photo" / "latents.safetensors")[1]["schedule"] == "lbfgs"
    assert _run("photo.png", "--preset", "adam").exit_code == 2  # click's usage error, naming the presets


def test_help_lists_every_preset_with_its_numbers() -> None:
    result = CliRunner().invoke(project, ["--help"], terminal_width=1000)
    assert result.exit_code == 0
    assert tuple(PRESETS) == PRESET_NAMES
    for preset in PRESETS.values():
        assert f"{preset.name}: " in result.output and f"{preset.num_steps} " in result.output
        for value in (preset.lr, preset.lr_rampup, preset.lr_rampdown):
            assert value is None or f"{value:g}" in result.output
    for removed in ("--lr", "--latent-noise", "--optimizer", "--init "):
        assert removed not in result.output
