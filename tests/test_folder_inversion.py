"""Inverting a folder (`workflow.folders`, `project FOLDER`, `encode FOLDER`): every image once in batches, results
per image, resuming past an interruption, shards of two processes, and a two-process torchrun run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan_edit.cli.encode import encode
from stylegan_edit.cli.handoff import find_last_latents
from stylegan_edit.cli.project import project
from stylegan_edit.latents import load_latents
from stylegan_edit.training.distributed import Distributed
from stylegan_edit.workflow import folder_inversion
from stylegan_edit.workflow.folder_inversion import encode_folder, project_folder
from stylegan_edit.workflow.folders import consecutive_runs, is_finished, list_folder, shard_batches
from stylegan_edit.workflow.results import FolderBatch, FolderStart

pytestmark = pytest.mark.usefixtures("isolated")
REPO = Path(__file__).resolve().parents[1]
NAMES = ["a/p0", "a/p1", "b/p2", "p3", "p4", "p4_2"]


def _folder(root: Path) -> Path:
    """Six photos in sub-folders (two sharing a stem), plus files that are not inputs."""
    files = ["a/p0.png", "a/p1.png", "b/p2.jpg", "p3.png", "p4.png", "p4.webp"]
    for k, name in enumerate(files):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        pixels = np.random.RandomState(k).randint(0, 256, (18, 20, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / name)
    (root / ".hidden").mkdir()
    Image.new("RGB", (16, 16)).save(root / ".hidden" / "x.png")
    (root / "notes.txt").write_text("not an image")
    return root


def _project(checkpoint: Path, folder: Path, outdir: Path, **options: object) -> tuple[object, list[object]]:
    events: list[object] = []
    defaults: dict[str, object] = {"preset": "nvidia", "num_steps": 2, "loss": "mse", "align": False}
    run = project_folder(checkpoint, folder, outdir, progress=events.append, **{**defaults, **options})  # type: ignore[arg-type]
    return run, events


def test_listing_is_recursive_sorted_and_names_mirror_the_folder(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos")
    images = list_folder(folder, exclude=folder / "a")
    assert [image.name for image in list_folder(folder)] == NAMES
    assert [image.name for image in images] == ["b/p2", "p3", "p4", "p4_2"]  # nothing under the excluded folder
    (folder / "c" / ".d").mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(folder / "c" / ".d" / "x.png")
    with pytest.raises(ValueError, match="no image files"):
        list_folder(folder / "c")
    items = list_folder(folder)
    shards = [shard_batches(items, 2, rank, 2) for rank in range(2)]
    taken = [[image.index for image in batch] for shard in shards for batch in shard]
    assert taken == [[0, 1], [4, 5], [2, 3]]  # rank 0: batches 0 and 2, rank 1: batch 1
    assert [[i.index for i in run] for run in consecutive_runs([items[0], items[1], items[3]])] == [[0, 1], [3]]


def test_batches_write_every_image_once_and_gather_them_in_order(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder, outdir = _folder(tmp_path / "photos"), tmp_path / "out"
    run, events = _project(tiny_checkpoint, folder, outdir, batch_size=4)
    batches = [event for event in events if isinstance(event, FolderBatch)]
    assert [len(batch.names) for batch in batches] == [4, 2]
    assert sorted(name for batch in batches for name in batch.names) == sorted(NAMES)
    combined, metadata = load_latents(outdir / "projected.safetensors")
    assert json.loads(metadata["names"]) == NAMES and metadata["network"] == str(tiny_checkpoint)
    for k, name in enumerate(NAMES):
        latents, meta = load_latents(outdir / name / "latents.safetensors")
        assert torch.equal(latents.tensor, combined.tensor[k : k + 1])
        assert meta["seed"] == str(303 + k)  # image k draws from seed + k whatever its batch
    assert run.num_inverted == 6 and run.failed == () and run.combined == outdir / "projected.safetensors"  # type: ignore[attr-defined]


def test_a_rerun_skips_finished_images_and_redoes_interrupted_ones(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, outdir = _folder(tmp_path / "photos"), tmp_path / "out"
    calls = []
    real = folder_inversion.project

    def interrupted(*args: object, **kwargs: object) -> object:
        calls.append(kwargs["seed"])
        if calls == [303, 305]:  # Ctrl-C during the first run's second batch
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(folder_inversion, "project", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _project(tiny_checkpoint, folder, outdir, batch_size=2)
    images = list_folder(folder)
    assert [is_finished(outdir, image) for image in images] == [True, True, False, False, False, False]
    (outdir / "p3").mkdir()
    (outdir / "p3" / "latents.safetensors").write_bytes(b"half")  # a torn folder: no metrics.json
    (outdir / "p3" / ".latents.safetensors.abcd1234.tmp").write_bytes(b"left by a killed write")
    first = (outdir / "a/p0" / "metrics.json").stat().st_mtime_ns
    calls.clear()
    run, events = _project(tiny_checkpoint, folder, outdir, batch_size=2)
    start = next(event for event in events if isinstance(event, FolderStart))
    assert (start.num_finished, start.num_here) == (2, 4) and run.num_inverted == 4  # type: ignore[attr-defined]
    assert calls == [303 + 2, 303 + 4]  # the unfinished batches only, each from its first image's seed
    assert (outdir / "a/p0" / "metrics.json").stat().st_mtime_ns == first
    assert all(is_finished(outdir, image) for image in images)
    assert not list((outdir / "p3").glob(".*.tmp"))
    with pytest.raises(ValueError, match="holds a run with steps 2, this one has 3"):
        _project(tiny_checkpoint, folder, outdir, num_steps=3)
    run, _ = _project(tiny_checkpoint, folder, outdir, num_steps=3, resume=False)
    assert run.num_inverted == 6  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Alone(Distributed):
    """Rank `rank` of a two-process run, simulated in this process (no process group: every collective agrees)."""

    def all_succeeded(self, succeeded: bool) -> bool:
        return succeeded


def test_two_ranks_take_disjoint_shards_whose_union_is_the_folder(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _folder(tmp_path / "photos")
    written = {}
    for rank in (1, 0):
        outdir = tmp_path / f"rank{rank}"
        _, events = _project(tiny_checkpoint, folder, outdir, batch_size=2, distributed=Alone(rank, 2))
        written[rank] = {name for event in events if isinstance(event, FolderBatch) for name in event.names}
    assert written[0] == {"a/p0", "a/p1", "p4", "p4_2"} and written[1] == {"b/p2", "p3"}
    _alone, _ = _project(tiny_checkpoint, folder, tmp_path / "alone", batch_size=2)
    for name in NAMES:  # the same batches with the same seeds: the same latents as one process
        rank = 0 if name in written[0] else 1
        shard = load_latents(tmp_path / f"rank{rank}" / name / "latents.safetensors")[0].tensor
        torch.testing.assert_close(shard, load_latents(tmp_path / "alone" / name / "latents.safetensors")[0].tensor)
    assert not (tmp_path / "rank1" / "projected.safetensors").exists()  # rank 0 alone gathers


def test_cli_folder_runs_report_unreadable_photos_and_refuse_tune(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _folder(tmp_path / "photos")
    (folder / "broken.png").write_bytes(b"not a png")
    base = ["--network", str(tiny_checkpoint), "--no-align", "--no-progress", "--device", "cpu"]
    result = CliRunner().invoke(project, [str(folder), *base, "--steps", "2", "--loss", "mse", "--outdir", "out"])
    assert result.exit_code == 1, result.output
    assert "skipped " in result.stderr and "broken.png" in result.stderr
    assert "photos: 7 images; 0 finished earlier (skipped), 6 inverted now by 1 process" in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("Error: 1 of 7 images have no results (first: broken")
    assert find_last_latents().latents_path == (tmp_path / "out" / "projected.safetensors").resolve()
    tuned = CliRunner().invoke(project, [str(folder), *base, "--tune", "--outdir", "out2"])
    assert tuned.exit_code == 2 and "--tune tunes one generator" in tuned.output
    mixed = CliRunner().invoke(project, [str(folder), str(folder / "p3.png"), *base, "--outdir", "out3"])
    assert mixed.exit_code == 2 and "pass one folder alone" in mixed.output


def test_encode_folder_with_the_bundled_model(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos")
    run = encode_folder("synthfaces-64", folder, tmp_path / "out", batch_size=4, align=False, perceptual="classifier")
    assert run.num_inverted == 6 and load_latents(tmp_path / "out" / "projected.safetensors")[0].tensor.shape[0] == 6
    result = CliRunner().invoke(
        encode, [str(folder), "--no-align", "--perceptual", "classifier", "--no-progress", "--outdir", "out"]
    )
    assert result.exit_code == 0, result.output
    assert "6 finished earlier (skipped), 0 inverted now" in result.stdout


def test_torchrun_two_processes_share_a_folder(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _folder(tmp_path / "photos")
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    options = ["--network", str(tiny_checkpoint), "--steps", "2", "--loss", "mse", "--batch-size", "2", "--no-align"]
    result = subprocess.run(
        [*command, "-m", "stylegan_edit.cli", "project", str(folder), *options, "--no-progress", "--device", "cpu"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "6 inverted now by 2 processes" in result.stdout
    latents, metadata = load_latents(tmp_path / "out" / "project" / "projected.safetensors")
    assert json.loads(metadata["names"]) == NAMES and latents.tensor.shape[0] == 6
