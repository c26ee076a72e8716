"""Faults during training: `stylegan-edit train` and `train-encoder` killed with SIGKILL at random points (in the
middle of a state write too) resume to the bit-identical weights of an uninterrupted run; Ctrl-C ends `train` with
one line and exit status 130 and leaves the run resumable. Each run is a real process on one CPU thread."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_edit.encoders.trainer import ENCODER_STATE_FORMAT, ENCODER_STATE_KEYS
from stylegan_edit.files import read_safetensors, remove_stale_temporaries
from stylegan_edit.training import load_state, save_state

REPO = Path(__file__).resolve().parents[1]
# 50 steps of batch 4 over 10 images (epochs wrap mid-batch), flips drawn from the data RNG, both lazy regularisers,
# a state every 2 steps and grids and snapshots on the way.
TRAIN = ["--config", "tiny", "--kimg", "0.2", "--state-kimg", "0.008", "--grid-kimg", "0.1", "--snapshot-kimg", "0.1"]
TRAIN += ["--mirror", "--seed", "3", "--no-progress", "--device", "cpu"]
RESUME = ["--no-progress", "--device", "cpu"]
STEPS = 50
# e4e (its latent discriminator and offset schedule too) on half real, half generated images: 8 steps, a state
# every 2.
TRAIN_ENCODER = ["--arch", "e4e", "--steps", "8", "--batch", "4", "--state-every", "2", "--val-every", "4"]
TRAIN_ENCODER += ["--snapshot-every", "0", "--progressive-start", "2", "--progressive-every", "2"]
TRAIN_ENCODER += ["--perceptual", "disc", "--seed", "5", "--no-progress", "--device", "cpu"]
ENCODER_STEPS = 8
# The child process: the console entry point on one thread; with STALL_AT_STEP it writes half of the state of that
# step, says so in STALL_MARKER and hangs there, so that the test kills it in the middle of the write.
CHILD = """
import os, sys, time
import torch

torch.set_num_threads(1)
stall_at = os.environ.get("STALL_AT_STEP")
if stall_at:
    from pathlib import Path

    save = torch.save

    def half_written(obj, f, *args, **kwargs):
        save(obj, f, *args, **kwargs)
        if isinstance(obj, dict) and obj.get("format") and obj.get("step") == int(stall_at):
            path = Path(f)
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            Path(os.environ["STALL_MARKER"]).write_text(str(path))
            time.sleep(600)

    torch.save = half_written
from stylegan_edit.cli import main

sys.argv = ["stylegan-edit", *sys.argv[1:]]
main()
"""


def write_images(folder: Path, num: int = 10) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(num):
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


class Runs:
    """Start `stylegan-edit train` and `train-encoder` processes in one test's folder."""

    def __init__(self, root: Path, images: Path) -> None:
        self.images = images
        self.script = root / "child.py"
        self.script.write_text(CHILD)

    def start(self, command: str, *args: str, **env: str) -> subprocess.Popen[str]:
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **env}
        return subprocess.Popen(
            [sys.executable, str(self.script), command, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment,
            text=True,
        )

    def new(self, run: Path, **env: str) -> subprocess.Popen[str]:
        return self.start("train", "--data", str(self.images), "--outdir", str(run), *TRAIN, **env)

    def resume(self, run: Path, command: str = "train") -> subprocess.Popen[str]:
        return self.start(command, "--resume", str(run), *RESUME)

    def new_encoder(self, run: Path, network: Path) -> subprocess.Popen[str]:
        args = ["--network", str(network), "--data", str(self.images), "--outdir", str(run), *TRAIN_ENCODER]
        return self.start("train-encoder", *args)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            _, stderr = process.communicate()
            raise AssertionError(f"the run ended ({process.returncode}) before {what}: {stderr}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def state_id(run: Path) -> int | None:
    try:
        return (run / "state.pt").stat().st_ino
    except FileNotFoundError:
        return None


def kill_at_random(process: subprocess.Popen[str], run: Path, chance: random.Random, most: int) -> None:
    """SIGKILL `process` at a random moment after it has written between 1 and `most` new state.pt files (a
    missed poll only delays the kill), while it is still training."""
    for _ in range(chance.randint(1, most)):
        before = state_id(run)
        wait_for(lambda: state_id(run) not in (None, before), process, "a new state.pt")  # noqa: B023
    time.sleep(chance.uniform(0, 0.05))
    process.send_signal(signal.SIGKILL)
    code, stderr = finish(process)
    assert code == -signal.SIGKILL, f"the run ended on its own before it was killed ({code}): {stderr}"


def temporaries(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.startswith("."))


def assert_same_run(expected_dir: Path, actual_dir: Path) -> None:
    """The final states hold bit-equal G, G_ema, D, Adam moments, pl_mean and counters; the last grid and
    snapshot are byte-equal."""
    dirs = (expected_dir, actual_dir)
    expected, actual = (load_state(d).state for d in dirs)
    assert (actual["step"], actual["cur_nimg"]) == (expected["step"], expected["cur_nimg"]) == (STEPS, 4 * STEPS)
    for key in ("G", "G_ema", "D"):
        assert expected[key].keys() == actual[key].keys()
        different = [k for k, v in expected[key].items() if not torch.equal(v, actual[key][k])]
        assert not different, f"{key} differs after resume: {different[:5]}"
    for key in ("G_opt", "D_opt"):
        for index, entry in expected[key]["state"].items():
            for name, value in entry.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(actual[key]["state"][index][name]))
    assert torch.equal(expected["pl_mean"], actual["pl_mean"])
    snapshot = "network-snapshot-000000.safetensors"  # safetensors orders its metadata at random: compare contents
    (expected_tensors, expected_meta), (actual_tensors, actual_meta) = (read_safetensors(d / snapshot) for d in dirs)
    assert expected_meta == actual_meta and expected_tensors.keys() == actual_tensors.keys()
    assert all(torch.equal(v, actual_tensors[k]) for k, v in expected_tensors.items())
    assert (expected_dir / "fakes000000.png").read_bytes() == (actual_dir / "fakes000000.png").read_bytes()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training images of every run (snapshots record the data's path, so it is the same for all)."""
    return write_images(tmp_path_factory.mktemp("data") / "images")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, images: Path) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    run = root / "run"
    code, stderr = finish(Runs(root, images).new(run))
    assert code == 0, stderr
    return run


def test_sigkill_mid_write_and_at_random_points_resumes_to_the_uninterrupted_weights(
    uninterrupted: Path, images: Path, tmp_path: Path
) -> None:
    chance = random.Random(30)
    runs, run, marker = Runs(tmp_path, images), tmp_path / "run", tmp_path / "stalled"
    stall_at = 2 * chance.randint(2, 10)  # states come every 2 steps
    process = runs.new(run, STALL_AT_STEP=str(stall_at), STALL_MARKER=str(marker))
    wait_for(marker.exists, process, "the stalled state write")
    process.send_signal(signal.SIGKILL)
    finish(process)
    half = Path(marker.read_text())
    assert half.parent == run and half.exists() and half.name != "state.pt"
    loaded = load_state(run)  # the half-written state never took the name state.pt
    assert (loaded.path.name, loaded.state["step"], loaded.notes) == ("state.pt", stall_at - 2, [])

    kill_at_random(runs.resume(run), run, chance, 8)
    killed_at = load_state(run).state["step"]
    assert stall_at - 2 < killed_at < STEPS
    code, stderr = finish(runs.resume(run))
    assert code == 0, stderr
    assert_same_run(uninterrupted, run)
    assert temporaries(run) == [], "a killed write left its temporary file behind"


def test_sigint_ends_with_one_line_and_status_130_and_leaves_the_run_resumable(images: Path, tmp_path: Path) -> None:
    runs, run = Runs(tmp_path, images), tmp_path / "run"
    process = runs.new(run)
    wait_for(lambda: state_id(run) is not None, process, "the first state.pt")
    process.send_signal(signal.SIGINT)
    code, stderr = finish(process)
    assert code == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "--resume" in lines[0], stderr
    loaded = load_state(run)  # what --resume reads: the latest state, whole
    assert (loaded.path.name, loaded.notes) == ("state.pt", []) and 0 < loaded.state["step"] < STEPS
    assert temporaries(run) == []


def test_sigkill_of_encoder_training_resumes_to_the_uninterrupted_weights(
    images: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    runs = Runs(tmp_path, images)
    straight, run = tmp_path / "straight", tmp_path / "run"
    code, stderr = finish(runs.new_encoder(straight, tiny_checkpoint))
    assert code == 0, stderr
    kill_at_random(runs.new_encoder(run, tiny_checkpoint), run, random.Random(31), 2)
    killed_at = load_state(run, state_format=ENCODER_STATE_FORMAT, required=ENCODER_STATE_KEYS).state["step"]
    assert 0 < killed_at < ENCODER_STEPS
    code, stderr = finish(runs.resume(run, "train-encoder"))
    assert code == 0, stderr
    expected, actual = (
        load_state(d, state_format=ENCODER_STATE_FORMAT, required=ENCODER_STATE_KEYS).state for d in (straight, run)
    )
    assert expected["step"] == actual["step"] == ENCODER_STEPS
    for key in ("encoder", "discriminator"):
        different = [k for k, v in expected[key].items() if not torch.equal(v, actual[key][k])]
        assert expected[key] and not different, f"{key} differs after resume: {different[:5]}"
    for key in ("encoder_opt", "discriminator_opt"):
        for index, entry in expected[key]["state"].items():
            for name, value in entry.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(actual[key]["state"][index][name]))
    grid = f"val{ENCODER_STEPS:07d}.png"
    assert (straight / grid).read_bytes() == (run / grid).read_bytes()
    assert temporaries(run) == []


def test_state_files_are_whole_at_every_rename_of_a_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill can land between any two file operations of `save_state`: at each, both names hold a whole state."""
    save_state(tmp_path, {"step": 1})
    save_state(tmp_path, {"step": 2})
    seen: list[tuple[int, int]] = []
    rename, link = os.replace, os.link

    def check(operation: Callable[[str | Path, str | Path], None]) -> Callable[[str | Path, str | Path], None]:
        def checked(source: str | Path, target: str | Path) -> None:
            for _ in range(2):  # before and after the operation
                latest = torch.load(tmp_path / "state.pt", weights_only=True)["step"]
                previous = torch.load(tmp_path / "state-prev.pt", weights_only=True)["step"]
                seen.append((latest, previous))
                if len(seen) % 2:
                    operation(source, target)

        return checked

    monkeypatch.setattr(os, "replace", check(rename))
    monkeypatch.setattr(os, "link", check(link))
    save_state(tmp_path, {"step": 3})
    assert seen[0] == (2, 1) and seen[-1] == (3, 2) and set(seen) <= {(2, 1), (2, 2), (3, 2)}
    monkeypatch.undo()

    def no_hard_links(source: str | Path, target: str | Path) -> None:
        raise OSError("hard links are not supported")

    monkeypatch.setattr(os, "link", no_hard_links)  # e.g. FAT or some network file systems: a copy instead
    save_state(tmp_path, {"step": 4})
    assert [torch.load(tmp_path / name, weights_only=True)["step"] for name in ("state.pt", "state-prev.pt")] == [4, 3]
    monkeypatch.undo()
    (tmp_path / ".state.pt.abcd1234.tmp").write_bytes(b"half")  # what a kill during torch.save leaves
    (tmp_path / ".fakes000004.png.a_b1c2d3.png").write_bytes(b"half")
    (tmp_path / ".write-test").write_bytes(b"")
    assert sorted(p.name for p in remove_stale_temporaries(tmp_path)) == [
        ".fakes000004.png.a_b1c2d3.png",
        ".state.pt.abcd1234.tmp",
    ]
    assert temporaries(tmp_path) == [".write-test"]
