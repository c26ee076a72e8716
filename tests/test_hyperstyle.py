"""Our HyperStyle (arXiv:2111.15666) on a tiny generator: an untrained one reproduces its W encoder exactly, offsets
change the image and materialise into generator weights, training lowers the loss and resumes exactly, files
round-trip, and the CLI and the inversion workflow write what `apply` reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan_edit.cli.main import cli
from stylegan_edit.encoders import StyleEncoder, encoder_for, save_encoder
from stylegan_edit.encoders.hyper_trainer import HyperStyleTrainer
from stylegan_edit.encoders.hyperstyle import HyperStyle, build_hyperstyle, materialise
from stylegan_edit.encoders.hyperstyle_config import HyperStyleConfig, HyperStyleTrainingOptions
from stylegan_edit.encoders.hyperstyle_files import read_hyperstyle, save_hyperstyle
from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import save_network
from stylegan_edit.formats.tuned import load_any_generator
from stylegan_edit.generators import Generator, Network
from stylegan_edit.latents import load_latents
from stylegan_edit.workflow.outputs import TUNED_KEY
from tests.conftest import TINY_ENCODER, make_generator

pytestmark = pytest.mark.usefixtures("one_thread")
TINY_HYPER = {"stem_channels": 8, "stage_channels": (8, 8, 16, 16), "stage_blocks": (1, 1, 1, 1)}
TINY_HYPER |= {"head_channels": 16, "shared_code_dim": 8}


@pytest.fixture
def generator() -> Generator:
    return make_generator()


@pytest.fixture
def w_encoder(generator: Generator) -> StyleEncoder:
    torch.manual_seed(5)
    return encoder_for(generator, "e4e", num_w_samples=1000, **TINY_ENCODER).eval()  # type: ignore[arg-type]


def tiny_hyperstyle(generator: Generator, w_encoder: StyleEncoder) -> HyperStyle:
    torch.manual_seed(7)
    return build_hyperstyle(HyperStyleConfig.for_generator(generator, **TINY_HYPER), w_encoder, generator)


def photos(generator: Generator, count: int = 3, seed: int = 11) -> torch.Tensor:
    z = torch.randn(count, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return generator(z, noise_mode="const").clamp(-1, 1)


def perturb_(hyperstyle: HyperStyle, scale: float = 0.05) -> None:
    """Give the zero-initialised output layers values, as training would."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in hyperstyle.hypernet.named_parameters():
            if "weight_out" in name or "linear" in name:
                p.add_(torch.randn(p.shape, generator=gen) * scale)


def test_default_config_tunes_every_non_torgb_layer_and_shares_equal_shapes(generator: Generator) -> None:
    config = HyperStyleConfig.for_generator(generator)
    layers = generator.synthesis.weight_layers()
    assert config.torgb_layers == tuple(i for i, layer in enumerate(layers) if type(layer).__name__ == "ToRGBLayer")
    assert set(config.layers_to_tune) == set(range(len(layers))) - set(config.torgb_layers)
    shared = config.shared_groups()
    assert all(len(group) > 1 and len({config.layer_shapes[i] for i in group}) == 1 for group in shared.values())
    assert HyperStyleConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="layers_to_tune"):
        HyperStyleConfig.for_generator(generator, layers_to_tune=(99,))


def test_an_untrained_hyperstyle_reproduces_the_w_encoder_exactly(
    generator: Generator, w_encoder: StyleEncoder
) -> None:
    hyperstyle = tiny_hyperstyle(generator, w_encoder)
    images = photos(generator)
    result = hyperstyle.invert(images, iterations=3)
    with torch.no_grad():
        codes = w_encoder(images)
        base = generator.synthesis(codes, noise_mode="const", fused_modconv=True)
    assert torch.equal(result.latents.tensor, codes)
    assert torch.equal(result.initial, base)
    assert len(result.images) == 3 and all(torch.equal(image, base) for image in result.images)
    tuned = set(hyperstyle.config.layers_to_tune)
    for i, delta in enumerate(result.deltas):
        assert (delta is None) == (i not in tuned)
        assert delta is None or (
            delta.shape == (3, *generator.synthesis.weight_layers()[i].weight.shape) and not delta.any()
        )


def test_offsets_change_the_image_and_materialise_into_the_weights(
    generator: Generator, w_encoder: StyleEncoder
) -> None:
    hyperstyle = tiny_hyperstyle(generator, w_encoder)
    perturb_(hyperstyle)
    images = photos(generator, 2)
    result = hyperstyle.invert(images, iterations=2)
    assert float((result.images[-1] - result.initial).abs().mean()) > 1e-3
    assert not torch.equal(result.images[0], result.images[1])  # the second pass adds to the first's offsets
    for k in range(2):
        tuned = materialise(generator, result.deltas, k)
        codes = result.latents.tensor[k : k + 1]
        own = [None if d is None else d[k : k + 1] for d in result.deltas]
        with torch.no_grad():
            rendered = tuned.synthesis(codes, noise_mode="const", fused_modconv=True)
            expected = generator.synthesis(codes, noise_mode="const", fused_modconv=True, weight_deltas=own)
        assert torch.equal(rendered, expected)  # the same products, so the same bits
        assert torch.allclose(rendered, result.images[-1][k : k + 1], atol=1e-5)  # the batch's grouped convolution
    assert torch.equal(next(generator.parameters()), next(make_generator().parameters()))  # the base is untouched


def test_files_round_trip_and_refuse_another_generator(
    generator: Generator, w_encoder: StyleEncoder, tmp_path: Path
) -> None:
    hyperstyle = tiny_hyperstyle(generator, w_encoder)
    perturb_(hyperstyle)
    path = tmp_path / "hyperstyle.safetensors"
    save_hyperstyle(path, hyperstyle, metadata={"step": "12"})
    loaded = read_hyperstyle(path, generator)
    assert loaded.metadata == {"step": "12"} and loaded.config == hyperstyle.config
    images = photos(generator, 2)
    assert torch.equal(loaded.invert(images, 2).images[-1], hyperstyle.invert(images, 2).images[-1])
    save_hyperstyle(tmp_path / "half.safetensors", hyperstyle, dtype=torch.float16)
    half = read_hyperstyle(tmp_path / "half.safetensors", generator).invert(images, 2).images[-1]
    assert torch.allclose(half, hyperstyle.invert(images, 2).images[-1], atol=0.05)
    with pytest.raises(CheckpointError, match="another generator"):
        read_hyperstyle(path, make_generator(seed=3))
    with pytest.raises(ValueError, match="reserved"):
        save_hyperstyle(path, hyperstyle, metadata={"format": "x"})


def _trainer(generator: Generator, w_encoder: StyleEncoder, **changes: object) -> HyperStyleTrainer:
    config = HyperStyleConfig.for_generator(generator, **TINY_HYPER)
    settings = {"batch": 4, "lr": 2e-3, "iterations": 2, "perceptual": "none", "perceptual_weight": 0.0, **changes}
    options = HyperStyleTrainingOptions(hyperstyle=config, **settings)  # type: ignore[arg-type]
    dataset = torch.utils.data.TensorDataset(photos(generator, 8, seed=21))
    return HyperStyleTrainer(options, Network(generator), dataset, w_encoder)


def test_training_lowers_the_reconstruction_loss_and_leaves_the_rest_frozen(
    generator: Generator, w_encoder: StyleEncoder
) -> None:
    trainer = _trainer(generator, w_encoder)
    frozen = {k: v.clone() for k, v in [*generator.state_dict().items(), *w_encoder.state_dict().items()]}
    targets = photos(generator, 8, seed=21)
    before = float((trainer.reconstruct(targets)[1] - targets).square().mean())
    stats = [trainer.step() for _ in range(25)]
    initial, final = trainer.reconstruct(targets)
    after = float((final - targets).square().mean())
    assert after < 0.8 * before, (before, after)
    assert float((initial - targets).square().mean()) == pytest.approx(before)  # the W encoder did not move
    assert len(stats[-1].iteration_totals) == 2
    now = {**generator.state_dict(), **w_encoder.state_dict()}
    assert all(torch.equal(now[k], v) for k, v in frozen.items())


def test_a_resumed_run_continues_exactly(generator: Generator, w_encoder: StyleEncoder) -> None:
    straight = _trainer(generator, w_encoder)
    for _ in range(4):
        straight.step()
    first = _trainer(generator, w_encoder)
    for _ in range(2):
        first.step()
    resumed = HyperStyleTrainer.from_state(first.state_dict(), Network(generator), first.dataset)
    for _ in range(2):
        resumed.step()
    assert resumed.step_index == 4
    theirs = straight.hyperstyle.hypernet.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in resumed.hyperstyle.hypernet.state_dict().items())
    with pytest.raises(ValueError, match="lr"):
        HyperStyleTrainer.from_state(first.state_dict(), Network(generator), first.dataset, lr=1.0)


def test_cli_trains_resumes_and_the_workflow_writes_per_image_generators(
    generator: Generator, w_encoder: StyleEncoder, tmp_path: Path, isolated: None
) -> None:
    from stylegan_edit.workflow.hyperstyle import invert_hyperstyle, save_hyperstyle_inversion

    network, encoder_file, data = tmp_path / "tiny.safetensors", tmp_path / "e4e.safetensors", tmp_path / "data"
    save_network(network, generator)
    save_encoder(encoder_file, w_encoder)
    data.mkdir()
    for k, picture in enumerate(photos(generator, 4)):
        Image.fromarray(((picture.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()).save(data / f"{k}.png")
    common = ["--batch", "2", "--iterations", "2", "--perceptual", "none", "--no-progress"]
    run = tmp_path / "run"
    arguments = ["--network", str(network), "--w-encoder", str(encoder_file), "--data", str(data), *common]
    result = CliRunner().invoke(cli, ["train-hyperstyle", "--outdir", str(run), "--steps", "2", *arguments])
    assert result.exit_code == 0, result.output
    resumed = CliRunner().invoke(cli, ["train-hyperstyle", "--resume", str(run), "--steps", "3", "--no-progress"])
    assert resumed.exit_code == 0 and "resuming" in resumed.output, resumed.output
    snapshot = run / "hyperstyle-0000003.safetensors"
    assert read_hyperstyle(snapshot, generator).metadata["step"] == "3"
    refused = CliRunner().invoke(cli, ["train-hyperstyle", "--resume", str(run), "--steps", "4", "--lr", "0.1"])
    assert refused.exit_code == 2 and "--lr" in refused.output.splitlines()[-1]

    images = photos(generator, 2, seed=31)
    inverted = invert_hyperstyle(images, snapshot, network=network, iterations=2)
    assert inverted.inversion.encoder_arch == "hyperstyle" and len(inverted.steps) == 2
    saved = save_hyperstyle_inversion(inverted, tmp_path / "out", names=["a", "b"])
    for k, folder in enumerate(saved.folders):
        latents, meta = load_latents(folder / "latents.safetensors")
        tuned = load_any_generator(meta[TUNED_KEY])  # what `apply` renders with: base + float16 delta
        with torch.no_grad():
            rendered = tuned.synthesis(latents.tensor, noise_mode="const", fused_modconv=True)
        assert torch.allclose(rendered, inverted.inversion.images[k : k + 1], atol=0.02)
    assert saved.tuned is None  # two images: each has its own generator
