"""`stylegan-edit generate` through click's test runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan_edit.cli import cli
from stylegan_edit.formats.native import load_generator


def test_generate_writes_nvidia_style_pngs(tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "--network",
            str(tiny_checkpoint),
            "--seeds",
            "0-2,7",
            "--trunc",
            "0.7",
            "--outdir",
            str(out),
            "--grid",
            "--mix-rows",
            "1,2",
            "--mix-cols",
            "3,4",
            "--mix-styles",
            "0-2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("seed*.png")) == [
        "seed0000.png",
        "seed0001.png",
        "seed0002.png",
        "seed0007.png",
    ]
    generator = load_generator(tiny_checkpoint)
    z = torch.from_numpy(np.random.RandomState(7).randn(1, 16)).float()
    img = generator(z, truncation_psi=0.7)
    expected = (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(np.asarray(Image.open(out / "seed0007.png")), expected)
    assert Image.open(out / "grid.png").size == (32, 32)
    assert Image.open(out / "stylemix.png").size == (3 * 16, 3 * 16)


def test_generate_bad_input_gives_one_line(tmp_path: Path, tiny_checkpoint: Path) -> None:
    runner = CliRunner()
    bad_seeds = runner.invoke(cli, ["generate", "--network", str(tiny_checkpoint), "--seeds", "3-x"])
    assert bad_seeds.exit_code == 2 and "cannot parse" in bad_seeds.output
    corrupt = tmp_path / "corrupt.pkl"
    corrupt.write_bytes(b"\x80\x04garbage")
    result = runner.invoke(cli, ["generate", "--network", str(corrupt), "--outdir", str(tmp_path / "o")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    missing = runner.invoke(cli, ["generate", "--network", str(tmp_path / "nope.pt")])
    assert missing.exit_code == 1 and "no such checkpoint" in missing.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    unwritable = runner.invoke(cli, ["generate", "--network", str(tiny_checkpoint), "--outdir", str(blocker / "sub")])
    assert unwritable.exit_code == 1 and "cannot create output folder" in unwritable.output
