"""`encode`, `train-encoder` and `project --preset encoder-*` through click's test runner: outputs, hand-off, bad
input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from stylegan_edit.cli.edit import apply
from stylegan_edit.cli.encode import encode
from stylegan_edit.cli.handoff import find_last_latents
from stylegan_edit.cli.project import project
from stylegan_edit.cli.train_encoder import train_encoder
from stylegan_edit.encoders import encoder_for, read_encoder, save_encoder
from stylegan_edit.generators import Generator, GeneratorConfig
from stylegan_edit.latents import LatentSpace, load_latents
from tests.conftest import TINY, TINY_ENCODER, make_generator

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def tiny_encoder(tmp_path: Path, tiny_generator: Generator) -> Path:
    path = tmp_path / "e4e.safetensors"
    save_encoder(path, encoder_for(tiny_generator, "e4e", num_w_samples=500, **TINY_ENCODER))  # type: ignore[arg-type]
    return path


def _photos(folder: Path, num: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(num):
        pixels = np.random.RandomState(i).randint(0, 256, (20, 24 + 2 * i, 3), dtype=np.uint8)
        paths.append(folder / f"photo{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def _run(command: object, *args: str | Path) -> Result:
    return CliRunner().invoke(command, [str(a) for a in args])  # type: ignore[arg-type]


def test_encode_writes_what_project_writes_and_records_it(
    tmp_path: Path, tiny_checkpoint: Path, tiny_encoder: Path
) -> None:
    photos = _photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    result = _run(
        encode, *photos, "--network", tiny_checkpoint, "--encoder", tiny_encoder, "--outdir", out, "--batch-size", "2"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[:3] == [  # first what was done to each photo (random pixels: no face)
        f"{photos[k]}: no face found, centre-cropped {24 + 2 * k}x20 to 20x20, resized 20x20 to 16x16" for k in range(3)
    ]
    assert [line.split(":")[0] for line in lines[3:6]] == ["photo0", "photo1", "photo2"]
    assert all("PSNR" in line and "SSIM" in line and "disc" in line for line in lines[3:6])
    assert "encoded 3 images with e4e" in lines[6] and "last-latents.json" in lines[7]
    expected = {"compare.png", "latents.safetensors", "metrics.json", "proj.png", "projected_w.npz", "target.png"}
    for name in ("photo0", "photo1", "photo2"):
        assert {p.name for p in (out / name).iterdir()} == expected
    latents, meta = load_latents(out / "photo1" / "latents.safetensors")
    assert latents.space is LatentSpace.W_PLUS and meta["arch"] == "e4e" and meta["encoder"] == str(tiny_encoder)
    from stylegan_edit.images import load_image

    target = load_image(photos[1], 16)
    assert torch.allclose(latents.tensor, read_encoder(tiny_encoder).encode(target).tensor, atol=1e-5)
    with np.load(out / "photo1" / "projected_w.npz") as data:
        assert data["w"].shape == (1, 6, 16)
    metrics = json.loads((out / "photo1" / "metrics.json").read_text())
    assert metrics["perceptual_name"] == "disc" and metrics["psnr"] > 0
    combined, combined_meta = load_latents(out / "projected.safetensors")
    assert len(combined) == 3 and torch.equal(combined.tensor[1:2], latents.tensor)
    assert json.loads(combined_meta["names"]) == ["photo0", "photo1", "photo2"]
    handoff = find_last_latents()
    assert handoff.latents_path == (out / "projected.safetensors").resolve() and handoff.command == "encode"
    assert handoff.network == str(tiny_checkpoint.resolve())
    assert not [p for p in out.rglob(".*")]


def test_project_init_encoder_starts_from_the_encoders_codes(
    tmp_path: Path, tiny_checkpoint: Path, tiny_encoder: Path
) -> None:
    photo = _photos(tmp_path / "in", 1)[0]
    args = [
        photo,
        "--network",
        tiny_checkpoint,
        "--preset",
        "encoder-lbfgs",
        "--encoder",
        tiny_encoder,
        "--outdir",
        "p",
    ]
    result = _run(project, *args, "--steps", "1")  # L-BFGS's first step evaluates the start
    assert result.exit_code == 0, result.output
    encoded = _run(encode, photo, "--network", tiny_checkpoint, "--encoder", tiny_encoder, "--outdir", "e")
    assert encoded.exit_code == 0, encoded.output
    projected, _ = load_latents(tmp_path / "p" / "photo0" / "latents.safetensors")
    assert torch.allclose(projected.tensor, load_latents(tmp_path / "e" / "photo0" / "latents.safetensors")[0].tensor)
    refined = _run(project, *args, "--steps", "5", "--outdir", "r")
    assert refined.exit_code == 0, refined.output
    assert not torch.allclose(
        load_latents(tmp_path / "r" / "photo0" / "latents.safetensors")[0].tensor, projected.tensor
    )


def test_presets_set_the_optimizer_schedule_and_start(
    tmp_path: Path, tiny_checkpoint: Path, tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each preset is one recipe: Adam with NVIDIA's schedule from the mean W, L-BFGS from the mean W or the
    encoder's codes, Adam with REFINE's schedule from the encoder's codes; the optimizer / schedule used is
    recorded with each image's metrics. Noise maps with an L-BFGS preset are refused in one line."""
    from stylegan_edit.invert import projector as projector_module

    keys = ("optimizer", "lr", "lr_rampup", "lr_rampdown", "latent_noise")
    seen: list[tuple[object, ...]] = []
    original = projector_module.Projector.__init__

    def spy(self: object, *args: object, **kwargs: object) -> None:
        seen.append(tuple(kwargs.get(key) for key in keys))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(projector_module.Projector, "__init__", spy)
    photo = _photos(tmp_path / "in", 1)[0]
    base = [photo, "--network", tiny_checkpoint, "--steps", "2", "--no-progress", "--encoder", tiny_encoder]
    presets = ("nvidia", "lbfgs", "encoder-lbfgs", "encoder-adam")
    for name in presets:
        result = _run(project, *base, "--preset", name, "--outdir", tmp_path / name)
        assert result.exit_code == 0, result.output
        start = "the mean W" if not name.startswith("encoder") else f"the {tiny_encoder} encoder's codes"
        assert result.stdout.startswith(f"preset {name}: ") and f" from {start}, 2 steps" in result.stdout
    assert seen == [
        ("adam", 0.1, 0.05, 0.25, 0.05),
        ("lbfgs", None, None, None, 0.0),
        ("lbfgs", None, None, None, 0.0),
        ("adam", 0.25, 0.2, 0.05, 0.0),
    ]
    record = json.loads((tmp_path / "encoder-lbfgs" / "photo0" / "metrics.json").read_text())
    assert (record["schedule"], record["preset"], record["arch"]) == ("lbfgs", "encoder-lbfgs", "e4e")
    record = json.loads((tmp_path / "encoder-adam" / "photo0" / "metrics.json").read_text())
    assert record["schedule"] == "lr 0.25, lr_rampup 0.2, lr_rampdown 0.05, latent_noise 0"
    for name in ("lbfgs", "encoder-lbfgs"):
        refused = _run(project, *base, "--preset", name, "--noise", "--outdir", tmp_path / "refused")
        assert refused.exit_code == 1 and f"preset {name} runs L-BFGS" in refused.output
        assert "Traceback" not in refused.output and not (tmp_path / "refused").exists()
    with_noise = _run(project, *base, "--preset", "encoder-adam", "--noise", "--outdir", tmp_path / "noise")
    assert with_noise.exit_code == 0, with_noise.output
    assert (tmp_path / "noise" / "photo0" / "noise.safetensors").is_file()


def test_train_encoder_trains_resumes_and_its_encoder_encodes(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _photos(tmp_path / "data", 5)
    (tmp_path / "data" / "broken.png").write_bytes(b"not a png")
    base = ["--network", tiny_checkpoint, "--no-progress", "--device", "cpu"]
    args = ["--arch", "psp", "--data", "data", "--outdir", "run", "--steps", "2", "--batch", "4", "--state-every", "1"]
    result = _run(train_encoder, *base, *args)
    assert result.exit_code == 0, result.output
    assert "5 images from data" in result.output and "skipped 1 unreadable files: broken.png" in result.output
    run = tmp_path / "run"
    expected = {"encoder_training_options.json", "val-init.png", "val0000002.png", "encoder-0000002.safetensors"}
    assert expected | {"state.pt", "state-prev.pt"} == {p.name for p in run.iterdir()}
    resumed = _run(train_encoder, "--resume", run, "--steps", "3", "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    assert "at step 2 from state.pt" in resumed.output and (run / "encoder-0000003.safetensors").is_file()
    encoder = read_encoder(run / "encoder-0000003.safetensors")
    assert encoder.arch == "psp" and encoder.metadata["step"] == "3" and encoder.metadata["data"] == "data"
    refused = _run(train_encoder, "--resume", run, "--batch", "8")
    assert refused.exit_code != 0 and "--batch cannot change when resuming" in refused.output
    photo = tmp_path / "data" / "photo0.png"
    encoded = _run(encode, photo, "--network", tiny_checkpoint, "--encoder", run / "encoder-0000003.safetensors")
    assert encoded.exit_code == 0, encoded.output


def test_train_encoder_fine_tunes_an_encoder_file(tmp_path: Path, tiny_checkpoint: Path) -> None:
    base = ["--network", tiny_checkpoint, "--no-progress", "--device", "cpu", "--synthetic-fraction", "1"]
    first = _run(train_encoder, *base, "--arch", "e4e", "--outdir", "run", "--steps", "2", "--batch", "2")
    assert first.exit_code == 0, first.output
    snapshot = tmp_path / "run" / "encoder-0000002.safetensors"
    tuned = _run(train_encoder, *base, "--resume-from", snapshot, "--outdir", "ft", "--steps", "4", "--lr", "5e-4")
    assert tuned.exit_code == 0, tuned.output
    assert f"fine-tuning {snapshot} from step 2" in tuned.output
    assert {"val0000004.png", "encoder-0000004.safetensors"} <= {p.name for p in (tmp_path / "ft").iterdir()}
    encoder = read_encoder(tmp_path / "ft" / "encoder-0000004.safetensors")
    options = json.loads(encoder.metadata["training_options"])
    assert (options["lr"], options["batch"], options["delta_weight"]) == (5e-4, 2, 2e-4)  # given, kept, kept
    assert encoder.arch == "e4e" and encoder.metadata["resumed_from"] == f"{snapshot} (step 2)"
    refusals = [
        (["--outdir", "a", "--steps", "2"], "has trained 2 steps already; pass a larger --steps"),
        (["--outdir", "b", "--arch", "psp"], "is an encoder of arch e4e, not psp"),
        (["--outdir", "c", "--backbone-init", "random"], "--resume-from keeps the encoder's backbone"),
        (["--resume", "run"], "--resume-from, --synthetic-fraction cannot change when resuming"),
    ]
    for extra, message in refusals:
        result = _run(train_encoder, *base, "--resume-from", snapshot, *extra)
        assert result.exit_code != 0 and message in result.output, result.output
        assert "Traceback" not in result.output
    assert not any((tmp_path / name).exists() for name in "abc")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unreadable-image", "not an image file"),
        ("missing-image", "no such file"),
        ("other-generator", "generator with resolution 32, num_ws 8, but this generator has resolution 16, num_ws 6"),
        ("network-as-encoder", "is a generator checkpoint, not an encoder"),
        ("iterations-one-pass", "(e4e) encodes in one pass; iterations apply to ReStyle encoders only"),
        ("missing-encoder", "no such encoder file"),
        ("not-shipped", "no e4e encoder ships for the network"),
        ("init-encoder-in-w", "so preset encoder-adam needs space w+, not w"),
        ("train-no-images", "no image files found"),
        ("train-broken-images", "none of the 2 image files could be read"),
        ("train-no-arch", "a new run needs --arch and --outdir"),
        ("train-no-classifier", "classifier is not in this installation; use --backbone-init random"),
        ("train-psp-delta", "delta_weight and adv_weight apply to e4e only"),
    ],
)
def test_bad_inputs_fail_with_one_line(
    tmp_path: Path,
    tiny_checkpoint: Path,
    tiny_encoder: Path,
    case: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo = _photos(tmp_path / "in", 1)[0]
    network = ["--network", tiny_checkpoint]
    if case == "unreadable-image":
        (tmp_path / "bad.png").write_bytes(b"junk")
        result = _run(encode, photo, tmp_path / "bad.png", *network, "--encoder", tiny_encoder)
    elif case == "missing-image":
        result = _run(encode, tmp_path / "nowhere.png", *network, "--encoder", tiny_encoder)
    elif case == "other-generator":
        larger = Generator(GeneratorConfig(**{**TINY.to_dict(), "img_resolution": 32}))
        path = tmp_path / "large.safetensors"
        save_encoder(path, encoder_for(larger, "psp", num_w_samples=100, **TINY_ENCODER))  # type: ignore[arg-type]
        result = _run(encode, photo, *network, "--encoder", path)
    elif case == "network-as-encoder":
        result = _run(encode, photo, *network, "--encoder", tiny_checkpoint)
    elif case == "iterations-one-pass":
        result = _run(encode, photo, *network, "--encoder", tiny_encoder, "--iterations", "2")
    elif case == "missing-encoder":
        result = _run(encode, photo, *network, "--encoder", tmp_path / "none.safetensors")
    elif case == "not-shipped":
        result = _run(encode, photo, *network, "--encoder", "e4e")
    elif case == "init-encoder-in-w":
        result = _run(project, photo, *network, "--preset", "encoder-adam", "--space", "w", "--encoder", tiny_encoder)
    elif case.startswith("train"):
        data = tmp_path / "data"
        data.mkdir()
        if case == "train-broken-images":
            for i in range(2):
                (data / f"{i}.jpg").write_bytes(b"\xff\xd8 truncated")
        elif case == "train-no-classifier":
            _photos(data, 2)
            monkeypatch.setattr(
                "stylegan_edit.classifiers.attributes.BUNDLED_CLASSIFIER", tmp_path / "none.safetensors"
            )
        if case == "train-psp-delta":
            _photos(data, 2)
        arch = [] if case == "train-no-arch" else ["--arch", "psp" if case == "train-psp-delta" else "e4e"]
        extra = {"train-no-classifier": ["--backbone-init", "classifier"], "train-psp-delta": ["--delta-weight", "1"]}
        extra = extra.get(case, [])
        run = tmp_path / "run"
        result = _run(train_encoder, *network, *arch, *extra, "--data", data, "--outdir", run, "--device", "cpu")
        assert not run.exists()  # refused before the run folder is made
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert message in lines[-1], result.output
    assert "Traceback" not in result.output and len([line for line in lines if line.startswith("Error")]) == 1


def test_train_encoder_takes_the_papers_loss_weights(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _photos(tmp_path / "data", 4)
    args = ["--network", tiny_checkpoint, "--no-progress", "--device", "cpu", "--data", "data", "--batch", "4"]
    weights = ["--delta-weight", "0.02", "--adv-weight", "0", "--w-norm-weight", "0.001"]
    result = _run(train_encoder, *args, "--arch", "e4e", *weights, "--outdir", "run", "--steps", "1")
    assert result.exit_code == 0, result.output
    options = json.loads((tmp_path / "run" / "encoder_training_options.json").read_text())
    assert (options["delta_weight"], options["adv_weight"], options["w_norm_weight"]) == (0.02, 0.0, 0.001)
    default = _run(train_encoder, *args, "--arch", "e4e", "--outdir", "paper", "--steps", "1")
    assert default.exit_code == 0, default.output
    options = json.loads((tmp_path / "paper" / "encoder_training_options.json").read_text())
    assert (options["delta_weight"], options["adv_weight"], options["w_norm_weight"]) == (2e-4, 0.1, 0.0)


def test_encoder_of_a_retrained_generator_is_used_with_a_warning(
    tmp_path: Path, tiny_encoder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from stylegan_edit.formats.native import save_network

    other = tmp_path / "other.safetensors"
    save_network(other, make_generator(seed=9))
    photo = _photos(tmp_path / "in", 1)[0]
    result = _run(encode, photo, "--network", other, "--encoder", tiny_encoder)
    assert result.exit_code == 0, result.output
    assert any("trained against another generator" in r.getMessage() for r in caplog.records)


def test_train_encoder_starts_the_backbone_from_the_classifier(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stylegan_edit.classifiers.attributes import AttributeClassifier, ClassifierConfig, save_classifier

    torch.manual_seed(0)
    path = tmp_path / "classifier.safetensors"
    save_classifier(path, AttributeClassifier(ClassifierConfig(resolution=16, channels=(8, 8, 16, 16, 16))))
    monkeypatch.setattr("stylegan_edit.classifiers.attributes.BUNDLED_CLASSIFIER", path)
    _photos(tmp_path / "data", 2)
    args = ["--arch", "psp", "--backbone-init", "classifier", "--data", "data", "--outdir", "run", "--steps", "1"]
    result = _run(
        train_encoder, "--network", tiny_checkpoint, "--no-progress", "--device", "cpu", *args, "--batch", "2"
    )
    assert result.exit_code == 0, result.output
    encoder = read_encoder(tmp_path / "run" / "encoder-0000001.safetensors")
    assert encoder.config.backbone == "classifier" and encoder.config.stage_channels == (8, 16, 16, 16)
    assert encoder.config.input_resolution == 16 and encoder.metadata["backbone_init"] == "classifier"


@pytest.fixture(scope="module")
def restyle_e4e(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.official_restyle_checkpoints import write_restyle_checkpoint

    path = tmp_path_factory.mktemp("restyle") / "restyle_e4e_encode.pt"
    write_restyle_checkpoint(path, encoder_type="ProgressiveBackboneEncoder", output_size=8, seed=5)
    return path


def test_encode_with_a_restyle_checkpoint_alone_and_apply_finds_its_latents(tmp_path: Path, restyle_e4e: Path) -> None:
    """No --network: the checkpoint's decoder renders; --iterations sets ReStyle's passes; `apply` then edits the
    recorded latents with the decoder recorded with them."""
    from stylegan_edit.editors.direction import Direction
    from stylegan_edit.encoders.official import read_official_encoder
    from stylegan_edit.images import load_image

    photo = _photos(tmp_path / "in", 1)[0]
    result = _run(encode, photo, "--encoder", restyle_e4e, "--no-align", "--iterations", "2", "--outdir", "out")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"{photo}: not aligned, centre-cropped 24x20 to 20x20, resized 20x20 to 8x8"
    assert lines[1].startswith("photo0: ") and "PSNR" in lines[1] and "SSIM" in lines[1]
    assert lines[2].startswith("encoded 1 images with restyle-e4e (2 iterations) in ")
    folder = tmp_path / "out" / "photo0"
    expected = {"compare.png", "latents.safetensors", "metrics.json", "proj.png", "projected_w.npz", "target.png"}
    assert {p.name for p in folder.iterdir()} == expected
    latents, meta = load_latents(folder / "latents.safetensors")
    assert (meta["arch"], meta["encoder"], meta["network"]) == ("restyle-e4e", str(restyle_e4e), str(restyle_e4e))
    codes = read_official_encoder(restyle_e4e).encode(load_image(photo, 8), 2)
    assert torch.allclose(latents.tensor, codes.tensor, atol=1e-5)
    with np.load(folder / "projected_w.npz") as data:
        assert data["w"].shape == (1, 4, 512) and np.allclose(data["w"], codes.tensor.numpy(), atol=1e-5)
    with Image.open(folder / "compare.png") as picture:
        assert picture.size == (16, 8)  # target | reconstruction
    handoff = find_last_latents()
    assert handoff.command == "encode" and handoff.network == str(restyle_e4e)
    vector = torch.randn(512, generator=torch.Generator().manual_seed(0))
    Direction(vector, LatentSpace.W, "test", "test").save(tmp_path / "d.safetensors")
    edited = _run(apply, "--direction", tmp_path / "d.safetensors", "--strength", "2", "--outdir", "edit")
    assert edited.exit_code == 0, edited.output
    assert "the last `encode`" in edited.output
    moved, _ = load_latents(tmp_path / "edit" / "edited.safetensors")
    assert torch.allclose(moved.tensor, latents.tensor + 2 * vector, atol=1e-6)


def test_encode_refines_the_restyle_codes_by_lbfgs(tmp_path: Path, restyle_e4e: Path) -> None:
    photo = _photos(tmp_path / "in", 1)[0]
    args = [photo, "--encoder", restyle_e4e, "--no-align", "--iterations", "1", "--perceptual", "auto"]
    result = _run(encode, *args, "--refine", "3", "--outdir", "refined")
    assert result.exit_code == 0, result.output
    assert "encoded 1 images with restyle-e4e (1 iterations), refined by 3 L-BFGS steps, in " in result.output
    record = json.loads((tmp_path / "refined" / "photo0" / "metrics.json").read_text())
    assert (record["preset"], record["steps"], record["arch"]) == ("encoder-lbfgs", "3", "restyle-e4e")
    refined, _ = load_latents(tmp_path / "refined" / "photo0" / "latents.safetensors")
    plain = _run(encode, *args, "--outdir", "plain")
    assert plain.exit_code == 0, plain.output
    start, _ = load_latents(tmp_path / "plain" / "photo0" / "latents.safetensors")
    assert not torch.allclose(refined.tensor, start.tensor)
    before = json.loads((tmp_path / "plain" / "photo0" / "metrics.json").read_text())
    assert record["mse"] <= before["mse"]  # L-BFGS keeps each image's best point (pixel MSE: no VGG, no disc)
