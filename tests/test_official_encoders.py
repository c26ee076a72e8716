"""Official pSp / e4e checkpoints (built in the projects' exact layout by tests/official_checkpoints.py): strict
loading, the official forward math, latent_avg handling, the decoder, and refusal of anything else."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from official_checkpoints import (
    reference_e4e_codes,
    reference_gradual_codes,
    write_e4e_checkpoint,
    write_psp_checkpoint,
)

from stylegan_edit.encoders import load_encoder
from stylegan_edit.encoders.official import OfficialEncoder, official_input, read_official_encoder
from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import load_generator
from stylegan_edit.generators import Generator, GeneratorConfig

SIZE = 32  # 8 W+ layers: styles from all three pyramid levels


def _encoder_tensors(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k[len("encoder.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("encoder.")}


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand([1, 3, 256, 256], generator=torch.Generator().manual_seed(5)) * 2 - 1


@pytest.fixture(scope="module")
def psp_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("official") / "psp_encode.pt"
    return path, write_psp_checkpoint(path, output_size=SIZE)


@pytest.fixture(scope="module")
def e4e_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("official") / "e4e_encode.pt"
    return path, write_e4e_checkpoint(path, stylegan_size=SIZE)


def test_psp_codes_follow_the_official_math(psp_file: tuple[Path, dict[str, Any]], image: torch.Tensor) -> None:
    path, checkpoint = psp_file
    encoder = load_encoder(path)
    assert isinstance(encoder, OfficialEncoder)
    codes = encoder.encode(image).tensor
    expected = reference_gradual_codes(_encoder_tensors(checkpoint), image, 8) + checkpoint["latent_avg"]
    assert codes.shape == (1, 8, 512)
    assert (codes - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_e4e_codes_are_one_w_plus_every_offset(e4e_file: tuple[Path, dict[str, Any]], image: torch.Tensor) -> None:
    path, checkpoint = e4e_file
    encoder = read_official_encoder(path)
    codes = encoder.encode(image).tensor
    raw = reference_e4e_codes(_encoder_tensors(checkpoint), image, 8)
    expected = raw + checkpoint["latent_avg"]
    assert (codes - expected).abs().max() <= 1e-4 * expected.abs().max()
    assert encoder.arch == "e4e"
    encoder.encoder.progressive_stage = 0  # e4e's WTraining stage: one W on every layer
    w_only = encoder.encode(image).tensor - checkpoint["latent_avg"]
    assert torch.allclose(w_only, raw[:, :1].expand(-1, 8, -1), atol=1e-5)


def test_running_statistics_are_used(psp_file: tuple[Path, dict[str, Any]], image: torch.Tensor) -> None:
    encoder = read_official_encoder(psp_file[0])
    before = encoder.encode(image).tensor
    norm = encoder.encoder.body[5].res_layer[0]
    assert torch.equal(norm.running_var, psp_file[1]["state_dict"]["encoder.body.5.res_layer.0.running_var"])
    with torch.no_grad():
        norm.running_mean.add_(0.5)
    assert (encoder.encode(image).tensor - before).abs().max() > 1e-3


def test_latent_avg_is_added_only_when_the_opts_say_so(tmp_path: Path, image: torch.Tensor) -> None:
    with_avg = write_psp_checkpoint(tmp_path / "a.pt", output_size=16, seed=1)
    write_psp_checkpoint(tmp_path / "b.pt", output_size=16, seed=1, start_from_latent_avg=False)
    a = read_official_encoder(tmp_path / "a.pt").encode(image).tensor
    b = read_official_encoder(tmp_path / "b.pt").encode(image).tensor
    assert torch.allclose(a - b, with_avg["latent_avg"].expand(1, -1, -1), atol=1e-5)


def test_learn_in_w_gives_one_code_repeated(tmp_path: Path, image: torch.Tensor) -> None:
    checkpoint = write_psp_checkpoint(
        tmp_path / "w.pt", encoder_type="BackboneEncoderUsingLastLayerIntoW", output_size=16, learn_in_w=True
    )
    assert checkpoint["latent_avg"].shape == (1, 512)
    codes = read_official_encoder(tmp_path / "w.pt").encode(image).tensor
    assert codes.shape == (1, 6, 512)
    assert torch.equal(codes, codes[:, :1].expand(-1, 6, -1))
    s = _encoder_tensors(checkpoint)
    from official_checkpoints import reference_features

    pooled = reference_features(s, image)[-1].mean(dim=(2, 3))
    w = F.linear(pooled, s["linear.weight"] / 512**0.5, s["linear.bias"]) + checkpoint["latent_avg"]
    assert (codes[:, 0] - w).abs().max() <= 1e-4 * w.abs().max()


@pytest.mark.parametrize(
    ("writer", "kwargs", "num_ws"),
    [
        (write_psp_checkpoint, {"encoder_type": "BackboneEncoderUsingLastLayerIntoWPlus", "output_size": 16}, 6),
        (write_e4e_checkpoint, {"encoder_type": "SingleStyleCodeEncoder", "stylegan_size": 16}, 6),
    ],
)
def test_other_encoder_types_load_strictly(
    tmp_path: Path, image: torch.Tensor, writer: Any, kwargs: dict[str, Any], num_ws: int
) -> None:
    writer(tmp_path / "c.pt", **kwargs)
    codes = read_official_encoder(tmp_path / "c.pt").encode(image).tensor
    assert codes.shape == (1, num_ws, 512) and torch.isfinite(codes).all()


def test_every_encoder_tensor_must_be_consumed(tmp_path: Path) -> None:
    checkpoint = write_psp_checkpoint(tmp_path / "ok.pt", output_size=16)
    extra = dict(checkpoint, state_dict={**checkpoint["state_dict"], "encoder.styles.6.linear.bias": torch.zeros(512)})
    torch.save(extra, tmp_path / "extra.pt")
    with pytest.raises(CheckpointError, match=r"extra\.pt.*unexpected styles\.6\.linear\.bias"):
        read_official_encoder(tmp_path / "extra.pt")
    missing = dict(
        checkpoint, state_dict={k: v for k, v in checkpoint["state_dict"].items() if "body.3.res_layer.2" not in k}
    )
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match=r"missing body\.3\.res_layer\.2\.weight"):
        read_official_encoder(tmp_path / "missing.pt")
    stray = dict(checkpoint, state_dict={**checkpoint["state_dict"], "discriminator.w": torch.zeros(1)})
    torch.save(stray, tmp_path / "stray.pt")
    with pytest.raises(CheckpointError, match="outside encoder"):
        read_official_encoder(tmp_path / "stray.pt")


def test_load_generator_reads_the_decoder(
    psp_file: tuple[Path, dict[str, Any]], e4e_file: tuple[Path, dict[str, Any]]
) -> None:
    for path, checkpoint in (psp_file, e4e_file):
        generator = load_generator(path)
        assert generator.img_resolution == SIZE and generator.num_ws == 8
        assert torch.equal(generator.mapping.w_avg, checkpoint["latent_avg"][0])
        const = generator.state_dict()
        assert torch.equal(
            const["synthesis.b4.conv1.noise_const"].reshape(-1),
            checkpoint["state_dict"]["decoder.noises.noise_0"].reshape(-1),
        )
        read_official_encoder(path).check_generator(generator, "the official encoder")


def test_another_generator_shape_is_refused(psp_file: tuple[Path, dict[str, Any]]) -> None:
    small = Generator(GeneratorConfig(img_resolution=16, z_dim=16, w_dim=16, mapping_layers=2))
    with pytest.raises(ValueError, match="resolution 32, num_ws 8, w_dim 512"):
        read_official_encoder(psp_file[0]).check_generator(small, "the official encoder")


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_code_in_a_checkpoint_and_other_files_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"state_dict": {}, "opts": _Payload(marker)}, tmp_path / "hostile.pt")
    with pytest.raises(CheckpointError, match="refusing to load global") as info:
        load_encoder(tmp_path / "hostile.pt")
    assert not marker.exists() and "\n" not in str(info.value)
    torch.save({"g_ema": {"style.1.weight": torch.zeros(2, 2)}}, tmp_path / "generator.pt")
    with pytest.raises(CheckpointError, match=r"generator\.pt is not an official pSp / e4e / ReStyle checkpoint"):
        load_encoder(tmp_path / "generator.pt")
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(CheckpointError, match=r"legacy\.pt"):
        load_encoder(tmp_path / "legacy.pt")


def test_restyle_checkpoints_go_to_the_restyle_builder(tmp_path: Path) -> None:
    checkpoint = write_psp_checkpoint(tmp_path / "p.pt", output_size=16)
    checkpoint["opts"] = dict(checkpoint["opts"], encoder_type="BackboneEncoder", input_nc=6)
    torch.save(checkpoint, tmp_path / "restyle.pt")
    with pytest.raises(CheckpointError, match=r"restyle\.pt"):  # pSp's tensors are not a ReStyle BackboneEncoder's
        read_official_encoder(tmp_path / "restyle.pt")


def test_images_are_resized_as_the_test_transform(psp_file: tuple[Path, dict[str, Any]], image: torch.Tensor) -> None:
    from PIL import Image

    pixels = torch.randint(0, 256, [512, 384, 3], generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    pixels = F.interpolate(pixels.permute(2, 0, 1)[None].float(), size=(512, 512), mode="bilinear").round().byte()
    pil = Image.fromarray(pixels[0].permute(1, 2, 0).numpy()).resize((256, 256), Image.BILINEAR)
    expected = torch.from_numpy(np.array(pil)).permute(2, 0, 1)[None].float() / 127.5 - 1  # ToTensor, Normalize
    ours = official_input(pixels.float() / 127.5 - 1, channels=3, device=torch.device("cpu"))
    assert (ours - expected).abs().max() <= 2.5 / 127.5  # PIL rounds to 8 bits
    encoder = read_official_encoder(psp_file[0])
    with pytest.raises(ValueError, match=r"\[N, 3, R, R\]"):
        encoder.encode(image[:, :2])
