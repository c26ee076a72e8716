"""Inputs a user can get wrong: photos that are valid files but not what the model wants (each says what was done
to it), and the workflow API refusing bad arguments in one line, as the CLI does, before any work."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from stylegan_edit.cli.encode import encode as encode_command
from stylegan_edit.cli.project import LOSS_NAMES
from stylegan_edit.cli.project import project as project_command
from stylegan_edit.generators import Generator
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.workflow.editing import edit, generate, render, style_mix, sweep
from stylegan_edit.workflow.inversion import encode, project
from stylegan_edit.workflow.mixing import blend, interpolate
from stylegan_edit.workflow.targets import read_targets
from tests.test_workflow_editing import unit_direction

pytestmark = pytest.mark.usefixtures("isolated")


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    data = pytest.importorskip("skimage.data")
    return Image.fromarray(data.astronaut())


def _run(command: object, *args: object) -> Result:
    return CliRunner().invoke(command, [str(a) for a in args])  # type: ignore[arg-type]


# -- photos: aligned, or centre-cropped, and said so ------------------------------------------------------------


def test_each_photo_is_aligned_or_centre_cropped_and_says_which(tmp_path: Path, astronaut: Image.Image) -> None:
    from stylegan_edit.invert.align import align_face

    _noise((40, 24)).save(tmp_path / "wide.png")
    astronaut.save(tmp_path / "astronaut.png")
    crop = align_face(astronaut, output_size=128).image
    crop.save(tmp_path / "crop.png")
    paths = [tmp_path / name for name in ("wide.png", "astronaut.png", "crop.png")]
    auto = read_targets(paths, 64)
    assert auto.notes == (
        f"{paths[0]}: no face found, centre-cropped 40x24 to 24x24, resized 24x24 to 64x64",
        f"{paths[1]}: aligned from 512x512 (face 1 of 2) to 64x64",
        f"{paths[2]}: a face crop already (face 1 of 1), resized 128x128 to 64x64",
    )
    assert auto.images.shape == (3, 3, 64, 64)
    # the astronaut is the FFHQ crop of its largest face, not the whole picture squashed
    aligned = torch.from_numpy(np.asarray(align_face(astronaut, output_size=64).image, dtype=np.float32))
    assert torch.allclose(auto.images[1].permute(1, 2, 0), aligned / 127.5 - 1)
    off = read_targets(paths, 64, align=False)
    assert off.notes[1] == f"{paths[1]}: not aligned, resized 512x512 to 64x64"
    assert not torch.allclose(off.images[1], auto.images[1], atol=0.1)
    forced = read_targets([tmp_path / "crop.png"], 64, align=True)
    assert forced.notes == (f"{paths[2]}: aligned from 128x128 (face 1 of 1) to 64x64",)


def test_alignment_refusals_name_the_photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _noise((30, 30)).save(tmp_path / "noise.png")
    with pytest.raises(ValueError, match=r"noise\.png: no face found \(dlib's frontal face detector\), so it cannot"):
        read_targets([tmp_path / "noise.png"], 16, align=True)
    with pytest.raises(ValueError, match=r"^image 0: found 1 face\(s\), so face index 3 does not exist$"):
        from stylegan_edit.data import render_seed

        read_targets([render_seed(10_000_001, size=128)[1]], 16, face_index=3)
    with pytest.raises(ValueError, match=r"^face_index must be 0 or more, got -1$"):
        read_targets([tmp_path / "noise.png"], 16, face_index=-1)

    def missing() -> Path:
        raise ValueError("face alignment needs shape_predictor_68_face_landmarks.dat")

    monkeypatch.setattr("stylegan_edit.invert.align.landmarks_model_path", missing)
    auto = read_targets([tmp_path / "noise.png"], 16)
    assert auto.notes == (f"{tmp_path / 'noise.png'}: no face detector (dlib) installed, resized 30x30 to 16x16",)
    with pytest.raises(ValueError, match=r"noise\.png: cannot align: face alignment needs shape_predictor"):
        read_targets([tmp_path / "noise.png"], 16, align=True)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.zeros(2, 3, 32, 32), r"^images must have shape \[N, 3, 16, 16\], got \[2, 3, 32, 32\]$"),
        (torch.zeros(0, 3, 16, 16), r"^images must have shape \[N, 3, 16, 16\], got \[0, 3, 16, 16\]$"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), r"^images must be a float tensor in \[-1, 1\], got torch\."),
        (torch.full((1, 3, 16, 16), math.nan), "^images hold NaN or infinite values$"),
        (torch.full((1, 3, 16, 16), 255.0), r"^images must lie in \[-1, 1\], got values from 255 to 255$"),
    ],
)
def test_image_tensors_of_the_wrong_shape_or_range(images: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_targets(images, 16)


def test_project_without_flags_aligns_the_astronaut(tmp_path: Path, astronaut: Image.Image) -> None:
    """The issue's case: an ordinary portrait on the bundled face model is aligned, and the user is told."""
    astronaut.save(tmp_path / "astronaut.png")
    result = _run(project_command, "astronaut.png", "--preset", "lbfgs", "--steps", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2] == "astronaut.png: aligned from 512x512 (face 1 of 2) to 64x64"
    from stylegan_edit.invert.align import align_face

    target = np.asarray(Image.open(tmp_path / "out" / "project" / "astronaut" / "target.png"), dtype=np.int16)
    expected = np.asarray(align_face(astronaut, output_size=64).image, dtype=np.int16)
    assert np.abs(target - expected).max() <= 1


# -- the CLI: refused while parsing, or before any work ----------------------------------------------------------


def test_project_refuses_an_unwritable_handoff_before_any_work(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _noise((20, 20)).save(tmp_path / "a.png")
    (tmp_path / ".stylegan-edit").write_text("a file where the hand-off folder goes")
    for command in (project_command, encode_command):
        result = _run(command, "a.png", "--network", tiny_checkpoint, "--outdir", "out")
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == [
            "Error: cannot record the latents for `apply`: .stylegan-edit is not a folder"
        ]
        assert not (tmp_path / "out").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes to read-only folders")
def test_project_in_a_read_only_folder_fails_before_any_work(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _noise((20, 20)).save(tmp_path / "a.png")
    tmp_path.chmod(0o555)
    try:
        result = _run(project_command, "a.png", "--network", tiny_checkpoint, "--outdir", "/tmp/never-made")
    finally:
        tmp_path.chmod(0o755)
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith("Error: cannot write to ")
    assert "preset" not in result.output and not Path("/tmp/never-made").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--steps", "0"],
        ["--seed", "-1"],
        ["--batch-size", "0"],
        ["--face-index", "-1"],
        ["--loss", "nope"],
        ["--space", "z"],
        ["--device", "gpu7"],
        ["--init-latents", "missing.safetensors"],
    ],
)
def test_project_options_are_refused_while_parsing(tmp_path: Path, args: list[str]) -> None:
    _noise((20, 20)).save(tmp_path / "a.png")
    result = _run(project_command, "a.png", *args, "--network", "no-such-model", "--outdir", "out")
    assert result.exit_code == 2, result.output  # a usage error: the network was never looked up
    assert args[0] in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_the_cli_loss_names_are_the_librarys() -> None:
    from stylegan_edit.perceptual.choice import loss_names

    assert list(LOSS_NAMES) == loss_names()


def test_cli_and_library_refuse_a_faceless_photo_with_one_message(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _noise((30, 30)).save(tmp_path / "noise.png")
    result = _run(project_command, "noise.png", "--align", "--network", tiny_checkpoint, "--outdir", "out")
    with pytest.raises(ValueError) as info:
        project(tiny_checkpoint, ["noise.png"], align=True)
    assert result.exit_code == 1 and result.output.strip().splitlines() == [f"Error: {info.value}"]
    assert not (tmp_path / "out").exists()


# -- the workflow API: the same checks, before anything is loaded ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_steps": 0}, "^num_steps must be at least 1, got 0$"),
        ({"batch_size": 0}, "^batch_size must be at least 1, got 0$"),
        ({"seed": -1}, "^seed must be at least 0, got -1$"),
        ({"space": "z"}, "^space must be one of w, w\\+, got 'z'$"),
        ({"num_steps": 2.5}, "^num_steps must be a whole number, got 2.5$"),
        ({"preset": "encoder-lbfgs", "space": "w"}, r"^encoders give w\+ codes, so preset encoder-lbfgs needs space"),
        ({"preset": "adam"}, "adam"),
    ],
)
def test_project_refuses_bad_arguments_before_loading_anything(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        project("no-such-model.safetensors", ["no-such-photo.png"], **kwargs)  # type: ignore[arg-type]


def test_encode_refuses_bad_arguments_before_loading_anything() -> None:
    with pytest.raises(ValueError, match=r"^batch_size must be at least 1, got 0$"):
        encode("no-such-model.safetensors", ["no-such-photo.png"], batch_size=0)


def test_generate_and_style_mix_refuse_bad_truncation_seeds_and_noise(tiny_generator: Generator) -> None:
    for trunc, shown in ((math.nan, "nan"), (math.inf, "inf")):
        with pytest.raises(ValueError, match=f"^truncation psi must be a finite number, got {shown}$"):
            generate(tiny_generator, [0], trunc=trunc)
        with pytest.raises(ValueError, match=f"^truncation psi must be a finite number, got {shown}$"):
            style_mix(tiny_generator, [0], [1], [0], trunc=trunc)
    with pytest.raises(ValueError, match=r"^truncation psi must be in \[-1, 2\], got 5$"):
        generate(tiny_generator, [0], trunc=5.0)
    with pytest.raises(ValueError, match=r"^no seeds given$"):
        generate(tiny_generator, [])
    with pytest.raises(ValueError, match=r"^seeds must be whole numbers in \[0, 4294967295\], got -1$"):
        generate(tiny_generator, [3, -1])
    with pytest.raises(ValueError, match=r"^trunc_cutoff must be at least 1, got 0$"):
        generate(tiny_generator, [0], trunc_cutoff=0)
    with pytest.raises(ValueError, match=r"^noise_mode must be one of const, random, none, got 'fresh'$"):
        generate(tiny_generator, [0], noise_mode="fresh")
    with pytest.raises(ValueError, match=r"^noise_mode must be one of const, random, none, got 'fresh'$"):
        render(tiny_generator, Latents(torch.zeros(1, 16), LatentSpace.W), noise_mode="fresh")
    assert generate(tiny_generator, [0, 2**32 - 1], trunc=-1.0).images.shape == (2, 3, 16, 16)


def test_edit_strengths_finite_and_warned_beyond_the_usual_range(
    tiny_generator: Generator, caplog: pytest.LogCaptureFixture
) -> None:
    direction = unit_direction(tiny_generator)
    w = Latents(torch.zeros(1, 16), LatentSpace.W)
    with pytest.raises(ValueError, match=r"^edit strength must be a finite number, got inf$"):
        edit(w, direction, math.inf)
    with pytest.raises(ValueError, match=r"^no edit strengths given$"):
        sweep(w, direction, [])
    with caplog.at_level(logging.WARNING, logger="stylegan_edit.workflow.checks"):
        edited = edit(w, direction, 50.0)
    assert caplog.messages == ["edit strength 50 is outside the usual range [-10, 10]"]
    assert torch.allclose(edited.tensor, 50 * direction.vector.reshape(1, -1))


def test_blend_and_interpolate_refuse_bad_values_before_loading_the_models(
    tiny_generator: Generator, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"^swap resolution must be a power of two, got 33$"):
        blend("no-such-a", "no-such-b", swap_res=33)
    with pytest.raises(ValueError, match=r"^swap_res must be at least 4, got 2$"):
        blend("no-such-a", "no-such-b", swap_res=2)
    with pytest.raises(ValueError, match=r"^transition_width must be a finite number, got nan$"):
        blend("no-such-a", "no-such-b", swap_res=8, transition_width=math.nan)
    with pytest.raises(ValueError, match=r"^transition_width must be in \[0, inf\], got -1$"):
        blend("no-such-a", "no-such-b", swap_res=8, transition_width=-1.0)
    with pytest.raises(ValueError, match=r"^mapping_from must be one of a, b, got 'c'$"):
        blend("no-such-a", "no-such-b", swap_res=8, mapping_from="c")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"swap resolution must be a power of two from 4 to 32 for a 16 px model"):
        blend(tiny_generator, tiny_generator, swap_res=64)  # the model's own resolution, checked once loaded
    with pytest.raises(ValueError, match=r"^alpha must be a finite number, got nan$"):
        interpolate("no-such-a", "no-such-b", alpha=math.nan)
    with pytest.raises(ValueError, match=r"^alpha at resolution 8 must be a finite number, got inf$"):
        interpolate("no-such-a", "no-such-b", resolution_alphas={8: math.inf})


def test_a_generators_raw_output_is_a_valid_target() -> None:
    from stylegan_edit.workflow.targets import check_image_tensor

    overshoot = torch.linspace(-1.3, 1.3, 3 * 8 * 8).reshape(1, 3, 8, 8)  # as G.synthesis returns, unclamped
    checked = check_image_tensor(overshoot, 8)
    assert float(checked.min()) == -1.0 and float(checked.max()) == 1.0
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        check_image_tensor(overshoot * 100, 8)  # a 0-255 scale
