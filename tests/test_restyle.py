"""Official ReStyle checkpoints (ReStyle-pSp `BackboneEncoder`, ReStyle-e4e `ProgressiveBackboneEncoder`): read
strictly under the project's names, iterated as its inference script iterates, and used by the workflow."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from stylegan_edit.encoders import encoder_for, load_encoder, save_encoder
from stylegan_edit.encoders.official.encoder import official_input
from stylegan_edit.encoders.official.restyle import ReStyleEncoder, build_restyle
from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import load_network
from stylegan_edit.generators import Generator, GeneratorConfig
from stylegan_edit.latents import LatentSpace
from stylegan_edit.workflow.inversion import encode, project
from stylegan_edit.workflow.starts import encoder_pass
from tests.conftest import TINY_ENCODER
from tests.official_checkpoints import n_styles_for
from tests.official_restyle_checkpoints import (
    RESTYLE_TYPES,
    reference_render,
    reference_restyle,
    split,
    write_restyle_checkpoint,
)

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = 8  # the decoder's resolution: 4 W+ layers; every input is still 256 px
N_STYLES = n_styles_for(SIZE)


@pytest.fixture(scope="module", params=RESTYLE_TYPES)
def restyle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("restyle") / f"{request.param}.pt"
    return path, write_restyle_checkpoint(path, encoder_type=request.param, output_size=SIZE, seed=3)


@pytest.fixture(scope="module")
def loaded(restyle: tuple[Path, dict[str, Any]]) -> ReStyleEncoder:
    encoder = load_encoder(restyle[0])
    assert isinstance(encoder, ReStyleEncoder)
    return encoder


def images(count: int = 2, seed: int = 0) -> Tensor:
    return torch.rand(count, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def rebuild(checkpoint: dict[str, Any], encoder: ReStyleEncoder, **changes: Any) -> ReStyleEncoder:
    """`build_restyle` on the checkpoint's parts with `changes` (state, latent_avg, opts), reusing the decoder."""
    parts = {"opts": checkpoint["opts"], "state": checkpoint["state_dict"], "latent_avg": checkpoint["latent_avg"]}
    parts.update(changes)
    return build_restyle(parts["opts"], parts["state"], parts["latent_avg"], "edited.pt", decoder=encoder.decoder)


def test_every_tensor_is_read_under_the_official_names(
    restyle: tuple[Path, dict[str, Any]], loaded: ReStyleEncoder
) -> None:
    path, checkpoint = restyle
    expected = split(checkpoint, "encoder")
    own = loaded.encoder.state_dict()
    assert set(own) == set(expected) and all(torch.equal(own[k], expected[k].float()) for k in expected)
    for name, shape in [
        ("input_layer.0.weight", (64, 6, 3, 3)),  # image ‖ reconstruction
        ("body.3.shortcut_layer.1.running_var", (128,)),
        ("body.23.res_layer.5.fc2.weight", (512, 32, 1, 1)),
        (f"styles.{N_STYLES - 1}.convs.6.weight", (512, 512, 3, 3)),
        (f"styles.{N_STYLES - 1}.linear.weight", (512, 512)),
    ]:
        assert tuple(own[name].shape) == shape, name
    assert f"styles.{N_STYLES}.linear.weight" not in own and "latlayer1.weight" not in own
    arch = "restyle-e4e" if checkpoint["opts"]["encoder_type"] == "ProgressiveBackboneEncoder" else "restyle-psp"
    assert (loaded.arch, loaded.num_ws, loaded.decoder.img_resolution) == (arch, N_STYLES, SIZE)
    decoder = load_network(path).generator  # the same file as a network: its decoder
    theirs = loaded.decoder.state_dict()
    assert all(torch.equal(value, theirs[key]) for key, value in decoder.state_dict().items())
    state = checkpoint["state_dict"]
    extra = {**state, f"encoder.styles.{N_STYLES}.linear.bias": torch.zeros(512)}
    with pytest.raises(CheckpointError, match=rf"^edited.pt: .*unexpected styles\.{N_STYLES}\.linear\.bias"):
        rebuild(checkpoint, loaded, state=extra)
    missing = {k: v for k, v in state.items() if k != "encoder.body.7.res_layer.4.running_mean"}
    with pytest.raises(CheckpointError, match=r"missing body.7.res_layer.4.running_mean"):
        rebuild(checkpoint, loaded, state=missing)


def test_iterations_match_the_official_inference_from_the_average_image(
    restyle: tuple[Path, dict[str, Any]], loaded: ReStyleEncoder
) -> None:
    """Iteration k feeds (photo ‖ pooled reconstruction of code k-1), code 0 = latent_avg and its image, and adds
    the encoder's output to the code; the codes equal the official `run_on_batch`'s, recomputed functionally."""
    _, checkpoint = restyle
    photos = images()
    seen: list[tuple[Tensor, Tensor]] = []
    hook = loaded.encoder.register_forward_hook(lambda module, args, out: seen.append((args[0].clone(), out.clone())))
    try:
        final, steps = loaded.encode(photos, 2, return_steps=True)
    finally:
        hook.remove()
    assert len(steps) == len(seen) == 2 and torch.equal(final.tensor, steps[-1].tensor)
    assert final.space is LatentSpace.W_PLUS and final.tensor.shape == (2, N_STYLES, 512)
    inputs = official_input(photos, channels=3, device=torch.device("cpu"))
    decoder = split(checkpoint, "decoder")
    average = checkpoint["latent_avg"]
    first, second = seen[0][0], seen[1][0]
    assert torch.equal(first[:, :3], inputs) and torch.equal(second[:, :3], inputs)
    average_image = reference_render(decoder, average[None])
    assert (first[:, 3:] - average_image).abs().max() < 1e-5 * average_image.abs().max()
    assert torch.equal(steps[0].tensor, seen[0][1] + average.expand(2, -1, -1))  # the first residual on latent_avg
    reconstruction = reference_render(decoder, steps[0].tensor)
    assert (second[:, 3:] - reconstruction).abs().max() < 1e-5 * reconstruction.abs().max()
    assert torch.equal(steps[1].tensor, seen[1][1] + steps[0].tensor)  # iteration 2 adds exactly its residual
    assert not torch.allclose(steps[1].tensor, steps[0].tensor, atol=1e-2)
    for ours, theirs in zip(steps, reference_restyle(checkpoint, inputs, 2), strict=True):
        assert (ours.tensor - theirs).abs().max() <= 1e-4 * theirs.abs().max()
    assert torch.equal(loaded.encode(photos, 1).tensor, steps[0].tensor)


def test_running_statistics_and_latent_avg_change_the_codes(
    restyle: tuple[Path, dict[str, Any]], loaded: ReStyleEncoder
) -> None:
    _, checkpoint = restyle
    if checkpoint["opts"]["encoder_type"] != "BackboneEncoder":
        pytest.skip("one architecture suffices: both share the backbone and the iteration")
    photos = images(1, seed=1)
    codes = loaded.encode(photos, 1).tensor
    state = dict(checkpoint["state_dict"])
    key = "encoder.body.12.res_layer.0.running_mean"
    state[key] = state[key] + 0.5
    assert not torch.allclose(rebuild(checkpoint, loaded, state=state).encode(photos, 1).tensor, codes, atol=1e-3)
    moved = rebuild(checkpoint, loaded, latent_avg=checkpoint["latent_avg"] + 0.25).encode(photos, 1).tensor
    assert not torch.allclose(moved, codes, atol=1e-3)
    one_row = rebuild(checkpoint, loaded, latent_avg=checkpoint["latent_avg"][0])  # [512] as some files store it
    assert torch.equal(one_row.latent_avg, loaded.latent_avg)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"encoder_type": "ResNetBackboneEncoder"}, "ReStyle encoder_type 'ResNetBackboneEncoder' is not supported"),
        ({"input_nc": 3}, "ReStyle iterates on 6 input channels, opts say 3"),
        ({"dataset_type": "cars_encode"}, "cars_encode models (192x256 crops) are not supported"),
        ({"latent_avg": None}, "needs latent_avg, its first iteration's code"),
        ({"latent_avg": torch.zeros(3, 512)}, "latent_avg has shape [3, 512]; expected [512], [1, 512] or [4, 512]"),
        ({"output_size": 12}, "is not a power of two"),
    ],
)
def test_unsupported_checkpoints_are_refused_in_one_line(
    restyle: tuple[Path, dict[str, Any]], loaded: ReStyleEncoder, change: dict[str, Any], message: str
) -> None:
    _, checkpoint = restyle
    changes: dict[str, Any] = {}
    if "latent_avg" in change:
        changes["latent_avg"] = change["latent_avg"]
    else:
        changes["opts"] = {**checkpoint["opts"], **change}
    with pytest.raises(CheckpointError, match=re.escape(message)) as caught:
        rebuild(checkpoint, loaded, **changes)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("edited.pt")


def test_iterations_are_checked_and_the_generator_is_compared_with_the_decoder(
    loaded: ReStyleEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="iterations must be a whole number of at least 1"):
            loaded.encode(images(1), bad)  # type: ignore[call-overload]
    loaded.check_generator(loaded.decoder, "the encoder")
    with pytest.raises(ValueError, match=r"made for a generator with resolution 8, num_ws 4, but this generator has"):
        loaded.check_generator(Generator(GeneratorConfig(img_resolution=16, z_dim=512, w_dim=512)), "the encoder")
    other = Generator(loaded.decoder.config)
    with caplog.at_level(logging.WARNING):
        loaded.check_generator(other, "the encoder")
    assert any("iterates with the decoder of" in record.getMessage() for record in caplog.records)


def test_the_workflow_encodes_with_the_checkpoints_decoder_and_refuses_misplaced_iterations(
    restyle: tuple[Path, dict[str, Any]], loaded: ReStyleEncoder, tiny_checkpoint: Path, tiny_generator: Generator
) -> None:
    path, checkpoint = restyle
    if checkpoint["opts"]["encoder_type"] != "BackboneEncoder":
        pytest.skip("the workflow treats both architectures alike")
    photos = images(1, seed=2)
    result = encode(None, photos, encoder=path, iterations=2, perceptual="mse")  # no network: the file's decoder
    assert (result.network, result.encoder, result.encoder_arch, result.iterations) == (
        str(path),
        str(path),
        "restyle-psp",
        2,
    )
    assert torch.equal(result.latents.tensor, loaded.encode(photos, 2).tensor)
    assert torch.allclose(result.images, loaded.decoder.synthesis(result.latents.tensor, noise_mode="const"))
    assert encoder_pass(loaded, str(path), None)[1] == 5  # ReStyle's default
    one_pass = tiny_checkpoint.parent / "psp.safetensors"
    save_encoder(one_pass, encoder_for(tiny_generator, "psp", num_w_samples=100, **TINY_ENCODER))  # type: ignore[arg-type]
    tiny_photo = torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match=r"^the encoder \S+psp.safetensors \(psp\) encodes in one pass; iterations"):
        encode(tiny_checkpoint, tiny_photo, encoder=one_pass, iterations=2)
    with pytest.raises(ValueError, match=r"^iterations apply to a ReStyle encoder's codes; preset lbfgs starts from"):
        project(tiny_checkpoint, tiny_photo, preset="lbfgs", iterations=2)
