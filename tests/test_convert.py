"""`stylegan-edit convert` through click's test runner: exact round trips and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from stylegan_edit.cli.convert import convert
from stylegan_edit.formats.native import load_network, save_network
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, GeneratorConfig
from tests.conftest import make_generator, randomize_
from tests.nvidia_pickle_writer import write_nvidia_pickle


def assert_same_state(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_native_to_rosinality_to_native_is_exact(tmp_path: Path) -> None:
    generator = make_generator(GeneratorConfig(img_resolution=8, z_dim=16, w_dim=16, mapping_layers=2), seed=4)
    torch.manual_seed(5)
    discriminator = Discriminator(DiscriminatorConfig(img_resolution=8)).eval()
    randomize_(discriminator, 5)
    save_network(tmp_path / "net.safetensors", generator, discriminator)
    runner = CliRunner()
    first = runner.invoke(convert, [str(tmp_path / "net.safetensors"), str(tmp_path / "net.pt")])
    assert first.exit_code == 0, first.output
    assert "rosinality, generator and discriminator" in first.output
    assert set(torch.load(tmp_path / "net.pt", weights_only=True)) == {"g_ema", "latent_avg", "d"}
    second = runner.invoke(convert, [str(tmp_path / "net.pt"), str(tmp_path / "back.safetensors")])
    assert second.exit_code == 0, second.output
    back = load_network(tmp_path / "back.safetensors")
    assert back.generator.config == generator.config
    assert back.metadata["source_format"] == "rosinality"
    assert_same_state(back.generator, generator)
    assert back.discriminator is not None
    assert_same_state(back.discriminator, discriminator)


def test_nvidia_pickle_to_half_native(tmp_path: Path) -> None:
    generator = make_generator()
    write_nvidia_pickle(tmp_path / "snapshot.pkl", generator)
    result = CliRunner().invoke(
        convert, [str(tmp_path / "snapshot.pkl"), str(tmp_path / "g.bin"), "--to", "native", "--half"]
    )
    assert result.exit_code == 0, result.output
    network = load_network(tmp_path / "g.bin")
    assert network.metadata["source_format"] == "nvidia-pkl"
    for key, value in generator.state_dict().items():
        assert torch.equal(network.generator.state_dict()[key], value.half().float()), key


@pytest.mark.parametrize(
    ("dst", "extra", "message"),
    [
        ("out.pkl", [], "writing NVIDIA pickles is not supported (they carry code)"),
        ("out.bin", [], "cannot tell the format of out.bin from its extension"),
        ("out.pt", [], "rosinality's StyleGAN2 cannot express this generator"),
    ],
)
def test_refusals_are_one_line_and_leave_no_file(
    tmp_path: Path, tiny_checkpoint: Path, dst: str, extra: list[str], message: str
) -> None:
    result = CliRunner().invoke(convert, [str(tiny_checkpoint), str(tmp_path / dst), *extra])
    assert result.exit_code in (1, 2)
    assert isinstance(result.exception, SystemExit)  # a click error, not a traceback
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / dst).exists()
    assert [p.name for p in tmp_path.iterdir()] == [tiny_checkpoint.name]


def test_corrupt_source_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04\x95")
    result = CliRunner().invoke(convert, [str(tmp_path / "bad.pkl"), str(tmp_path / "out.safetensors")])
    assert result.exit_code == 1
    assert "bad.pkl is truncated or corrupt" in result.output
    assert len(result.output.strip().splitlines()) == 1
