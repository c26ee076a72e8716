"""The StyleGAN2 trainer: losses, regularisers, EMA, exact resume, state fallback, data-parallel replicas, CLI."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from stylegan_edit.cli.train import CONFIGS, DEFAULT_SYNTHFACES_NUM, train
from stylegan_edit.formats.native import load_network, save_network
from stylegan_edit.generators import Generator, Network
from stylegan_edit.training import (
    PRESETS,
    ImageFolder,
    StepBatches,
    Trainer,
    TrainingOptions,
    load_state,
    preset,
    save_state,
)

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


class SmoothImages(Dataset[Tensor]):
    """Horizontal blends between two random colours: easy to tell from an untrained generator's noise."""

    def __init__(self, num: int, resolution: int = 16) -> None:
        self.num = num
        self.resolution = resolution

    def __len__(self) -> int:
        return self.num

    def __getitem__(self, index: int) -> Tensor:
        colours = torch.rand([2, 3, 1, 1], generator=torch.Generator().manual_seed(index)) * 2 - 1
        t = torch.linspace(0, 1, self.resolution).view(1, 1, -1)
        return (colours[0] * (1 - t) + colours[1] * t).expand(3, self.resolution, self.resolution).clone()


def write_pngs(folder: Path, num: int = 8) -> Path:
    """`num` PNGs of mixed sizes and modes (RGB, grayscale, RGBA, 16-bit) in nested folders."""
    rng = np.random.default_rng(0)
    for i in range(num):
        size = (20 + 4 * i, 16 + 2 * i)
        array = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
        image = Image.fromarray(array)
        if i % 4 == 1:
            image = image.convert("L")
        elif i % 4 == 2:
            image = image.convert("RGBA")
        elif i % 4 == 3:
            image = Image.fromarray(array[:, :, 0].astype(np.uint16) * 257)
        target = folder / ("nested" if i % 2 else "") / f"img{i}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
    return folder


def state_tensors(trainer: Trainer) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for prefix, module in (("G", trainer.generator), ("G_ema", trainer.generator_ema), ("D", trainer.discriminator)):
        out.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
    for prefix, optimizer in (("G_opt", trainer.g_optimizer), ("D_opt", trainer.d_optimizer)):
        for index, entry in optimizer.state_dict()["state"].items():
            out.update({f"{prefix}.{index}.{k}": torch.as_tensor(v) for k, v in entry.items()})
    out["pl_mean"] = trainer.pl_mean
    return out


def test_presets_match_cli_choices_and_round_trip() -> None:
    from stylegan_edit.training import data

    assert set(CONFIGS) == set(PRESETS) and DEFAULT_SYNTHFACES_NUM == data.DEFAULT_SYNTHFACES_NUM
    options = preset("synthfaces-64")
    assert options.generator.channel_max == 64 and options.resolution == 64
    assert TrainingOptions.from_json(options.to_json()) == options
    with pytest.raises(ValueError, match="resolutions differ"):
        options.replace(discriminator=preset("tiny").discriminator)


def test_discriminator_learns_to_separate_reals_from_fakes() -> None:
    trainer = Trainer(preset("tiny"), SmoothImages(32))
    history = [trainer.step() for _ in range(40)]
    first, last = history[:10], history[-10:]
    chance = 2 * math.log(2)
    assert float(np.mean([s.loss_d for s in last])) < min(float(np.mean([s.loss_d for s in first])) - 0.1, chance - 0.2)
    assert float(np.mean([s.d_real - s.d_fake for s in last])) > 0.5


def test_lazy_regularisers_are_finite_positive_and_scheduled() -> None:
    trainer = Trainer(preset("tiny").replace(pl_interval=2, r1_interval=3), SmoothImages(8))
    stats = [trainer.step() for _ in range(4)]
    assert [s.pl_penalty is not None for s in stats] == [True, False, True, False]
    assert [s.r1_penalty is not None for s in stats] == [True, False, False, True]
    for value in (stats[0].pl_penalty, stats[0].r1_penalty, stats[3].r1_penalty):
        assert value is not None and math.isfinite(value) and value > 0
    assert float(trainer.pl_mean) > 0
    # NVIDIA's correction of Adam for lazy regularisation: lr and betas scaled by interval / (interval + 1).
    group = trainer.d_optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * 3 / 4) and group["betas"][1] == pytest.approx(0.99**0.75)


def test_ema_is_between_generator_and_previous_ema() -> None:
    trainer = Trainer(preset("tiny").replace(ema_rampup=None, ema_kimg=0.01), SmoothImages(8))
    trainer.step()
    old = [p.clone() for p in trainer.generator_ema.parameters()]
    beta = trainer.ema_beta()
    assert beta == pytest.approx(0.5 ** (4 / 10))
    trainer.step()
    moved = 0
    for p_old, p_ema, p in zip(old, trainer.generator_ema.parameters(), trainer.generator.parameters(), strict=True):
        torch.testing.assert_close(p_ema, p.lerp(p_old, beta))
        lo, hi = torch.minimum(p, p_old), torch.maximum(p, p_old)
        assert bool(((p_ema >= lo - 1e-6) & (p_ema <= hi + 1e-6)).all())
        moved += int(((p_ema - p_old).abs() > 1e-7).sum())
    assert moved > 0
    torch.testing.assert_close(trainer.generator_ema.mapping.w_avg, trainer.generator.mapping.w_avg)


def test_interrupted_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    dataset = ImageFolder(write_pngs(tmp_path / "images", 6), 16)  # 6 images, batch 4: epochs wrap mid-batch
    options = preset("tiny").replace(pl_interval=2, r1_interval=4, xflip=True, seed=3)
    straight = Trainer(options, dataset)
    for _ in range(6):
        straight.step()

    first = Trainer(options, dataset)
    for _ in range(3):
        first.step()
    save_state(tmp_path / "run", first.state_dict())
    torch.manual_seed(1234)  # a new process has other global RNG state; training must not depend on it
    np.random.seed(99)
    resumed = Trainer.from_state(load_state(tmp_path / "run").state, dataset)
    assert resumed.step_index == 3 and resumed.cur_nimg == 12
    for _ in range(3):
        resumed.step()

    expected, actual = state_tensors(straight), state_tensors(resumed)
    assert expected.keys() == actual.keys()
    different = [k for k in expected if not torch.equal(expected[k], actual[k])]
    assert not different, f"differ after resume: {different[:5]}"


def test_corrupt_latest_state_falls_back_to_previous(tmp_path: Path) -> None:
    trainer = Trainer(preset("tiny"), SmoothImages(8))
    save_state(tmp_path, trainer.state_dict())
    trainer.step()
    save_state(tmp_path, trainer.state_dict())
    assert load_state(tmp_path).state["step"] == 1
    latest = tmp_path / "state.pt"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    loaded = load_state(tmp_path)
    assert loaded.path.name == "state-prev.pt" and loaded.state["step"] == 0
    assert len(loaded.notes) == 1 and "truncated or corrupt" in loaded.notes[0] and "previous" in loaded.notes[0]
    (tmp_path / "state-prev.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="unusable too"):
        load_state(tmp_path)


def test_step_batches_split_the_global_batch_between_ranks() -> None:
    whole = StepBatches(10, 4, seed=0).indices(7)
    halves = [StepBatches(10, 4, seed=0, rank=r, world_size=2).indices(7) for r in range(2)]
    assert halves[0] + halves[1] == whole
    epoch = [i for step in range(5) for i in StepBatches(10, 2, seed=0).indices(step)]
    assert sorted(epoch) == list(range(10))


def test_fine_tuning_starts_from_the_checkpoint(tiny_generator: Generator) -> None:
    trainer = Trainer(preset("tiny"), SmoothImages(8), network=Network(tiny_generator))
    for ours, theirs in ((trainer.generator, tiny_generator), (trainer.generator_ema, tiny_generator)):
        for key, value in theirs.state_dict().items():
            assert torch.equal(ours.state_dict()[key], value), key


DDP_WORKER = """
import hashlib, sys, torch
torch.set_num_threads(1)
from torch.utils.data import Dataset
from stylegan_edit.training import Trainer, preset, setup_distributed, shutdown_distributed

class Noise(Dataset):
    def __len__(self):
        return 16
    def __getitem__(self, i):
        return torch.rand([3, 16, 16], generator=torch.Generator().manual_seed(i)) * 2 - 1

def digest(trainer):
    h = hashlib.sha256()
    for module in (trainer.generator, trainer.generator_ema, trainer.discriminator):
        for key, value in sorted(module.state_dict().items()):
            h.update(key.encode() + value.detach().cpu().numpy().tobytes())
    h.update(trainer.pl_mean.cpu().numpy().tobytes())
    return h.hexdigest()

distributed = setup_distributed("cpu")
trainer = Trainer(preset("tiny").replace(pl_interval=2, r1_interval=2), Noise(), distributed=distributed)
before = digest(trainer)
for _ in range(3):
    trainer.step()
with open(f"{sys.argv[1]}/rank{distributed.rank}.txt", "w") as handle:
    handle.write(f"{distributed.world_size} {trainer.batch_per_process} {before} {digest(trainer)}")
shutdown_distributed()
"""


def test_data_parallel_replicas_end_with_identical_weights(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(DDP_WORKER))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run(
        [*command, str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [(tmp_path / f"rank{r}.txt").read_text().split() for r in range(2)]
    assert [r[:2] for r in reports] == [["2", "2"], ["2", "2"]]
    assert reports[0][2] == reports[1][2], "replicas started from different weights"
    assert reports[0][3] != reports[0][2], "training did not change the weights"
    assert reports[0][3] == reports[1][3], "replicas diverged"


def run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(train, args)
    return result.exit_code, result.output


def test_cli_trains_on_a_folder_and_resumes_past_a_corrupt_state(tmp_path: Path) -> None:
    images = write_pngs(tmp_path / "images")
    (images / "broken.png").write_bytes(b"not a png")
    run = tmp_path / "run"
    base = ["--config", "tiny", "--no-progress", "--device", "cpu"]
    code, output = run_cli(
        [*base, "--data", str(images), "--outdir", str(run), "--kimg", "0.012", "--state-kimg", "0.004"]
    )
    assert code == 0, output
    assert "8 images from" in output and "skipped 1 unreadable files: broken.png" in output
    names = {p.name for p in run.iterdir()}
    assert {
        "reals.png",
        "fakes-init.png",
        "fakes000000.png",
        "training_options.json",
        "state.pt",
        "state-prev.pt",
    } <= names
    network = load_network(run / "network-snapshot-000000.safetensors")
    assert network.discriminator is not None and network.generator.img_resolution == 16
    assert network.metadata["kimg"] == "0.012"
    assert Image.open(run / "fakes000000.png").size == (8 * 16, 8 * 16)

    state = run / "state.pt"
    state.write_bytes(state.read_bytes()[:1000])
    code, output = run_cli(["--resume", str(run), "--kimg", "0.016", "--no-progress", "--device", "cpu"])
    assert code == 0, output
    assert "state-prev.pt" in output and "resuming" in output and "at 0.008 kimg" in output
    assert "finished 0.016 kimg" in output
    resumed = load_state(run).state
    assert resumed["cur_nimg"] == 16

    straight = tmp_path / "straight"
    code, output = run_cli([*base, "--data", str(images), "--outdir", str(straight), "--kimg", "0.016"])
    assert code == 0, output
    expected = load_state(straight).state
    for key in ("G", "G_ema", "D"):
        assert all(torch.equal(v, resumed[key][k]) for k, v in expected[key].items()), key

    code, output = run_cli(["--resume", str(run), "--seed", "1"])
    assert code != 0 and "--seed cannot change when resuming" in output

    # A bigger batch (a run moved to a GPU): the run goes on from where it was, with the new step size.
    code, output = run_cli(
        ["--resume", str(run), "--batch", "8", "--kimg", "0.032", "--no-progress", "--device", "cpu"]
    )
    assert code == 0, output
    assert "at 0.016 kimg" in output and "finished 0.032 kimg" in output
    bigger = load_state(run).state
    assert bigger["cur_nimg"] == 32 and bigger["step"] == resumed["step"] + 2
    assert TrainingOptions.from_json(bigger["options"]).batch == 8

    # A group that does not divide the batch is refused in one line, and nothing is written.
    code, output = run_cli(["--resume", str(run), "--mbstd-group", "3", "--kimg", "0.040", "--device", "cpu"])
    assert code != 0 and "must be divisible by the D's mbstd group 3" in output and "Traceback" not in output
    assert load_state(run).state["cur_nimg"] == 32

    # A run turned unstable or collapsed: a lower lr, a stronger R1, a larger minibatch-stddev group and a longer EMA
    # replace the saved ones, Adam's moments carry over.
    calming = ["--lr", "0.0005", "--gamma", "2", "--mbstd-group", "8", "--ema-kimg", "0.5", "--kimg", "0.040"]
    code, output = run_cli(["--resume", str(run), *calming, "--no-progress", "--device", "cpu"])
    assert code == 0, output
    calmer = load_state(run).state
    options = TrainingOptions.from_json(calmer["options"])
    assert (options.lr, options.gamma, options.batch) == (0.0005, 2.0, 8) and calmer["cur_nimg"] == 40
    assert options.mbstd_group_size == options.discriminator.mbstd_group_size == 8 and options.ema_kimg == 0.5
    assert options.replace(mbstd_group_size=4) == TrainingOptions.from_json(bigger["options"]).replace(
        lr=0.0005, gamma=2.0, ema_kimg=0.5, total_kimg=0.040
    )
    for key, interval in (("G_opt", options.pl_interval), ("D_opt", options.r1_interval)):
        assert all(math.isclose(g["lr"], 0.0005 * interval / (interval + 1)) for g in calmer[key]["param_groups"])
        assert calmer[key]["state"][0]["step"] > bigger[key]["state"][0]["step"]


def test_cli_fine_tunes_a_checkpoint_without_discriminator(tmp_path: Path, tiny_generator: Generator) -> None:
    checkpoint = tmp_path / "g_only.safetensors"
    save_network(checkpoint, tiny_generator)
    args = ["--config", "tiny", "--no-progress", "--device", "cpu", "--kimg", "0.004", "--resume-from", str(checkpoint)]
    code, output = run_cli([*args, "--data", str(write_pngs(tmp_path / "images", 4)), "--outdir", str(tmp_path / "r")])
    assert code == 0, output
    assert "has no discriminator; training a fresh one" in output
    assert load_network(tmp_path / "r" / "network-snapshot-000000.safetensors").discriminator is not None


def test_cli_trains_on_synthfaces_rendered_on_the_fly(tmp_path: Path) -> None:
    args = ["--config", "tiny", "--no-progress", "--device", "cpu", "--kimg", "0.004", "--synthfaces-num", "64"]
    code, output = run_cli([*args, "--data", "synthfaces:toon", "--outdir", str(tmp_path / "run")])
    assert code == 0, output
    assert "64 images from synthfaces:toon" in output
    reals = np.asarray(Image.open(tmp_path / "run" / "reals.png"))
    assert reals.shape == (8 * 16, 8 * 16, 3) and reals.std() > 10
    assert load_state(tmp_path / "run").state["metadata"]["data"] == "synthfaces:toon"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "no image files found"),
        ("text-files", "no image files found"),
        ("broken-images", "none of the 3 image files could be read"),
        ("missing", "no such folder"),
        ("unwritable-run-dir", "cannot create output folder"),
        ("run-exists", "already holds a training run"),
        ("bad-synthfaces", "unknown SynthFaces style"),
    ],
)
def test_cli_bad_inputs_fail_with_one_line(tmp_path: Path, case: str, message: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    run = tmp_path / "run"
    if case == "text-files":
        (data / "notes.txt").write_text("hello")
    elif case == "broken-images":
        for i in range(3):
            (data / f"{i}.jpg").write_bytes(b"\xff\xd8 truncated")
    elif case == "missing":
        data = tmp_path / "nowhere"
    elif case in ("unwritable-run-dir", "run-exists", "bad-synthfaces"):
        write_pngs(data, 2)
        if case == "unwritable-run-dir":
            (tmp_path / "file").write_text("")
            run = tmp_path / "file" / "run"
        elif case == "run-exists":
            run.mkdir()
            (run / "state.pt").write_bytes(b"")
        else:
            data = Path("synthfaces:oil")
    code, output = run_cli(["--config", "tiny", "--data", str(data), "--outdir", str(run), "--device", "cpu"])
    assert code != 0
    lines = output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], output
    assert "Traceback" not in output
    if case != "run-exists":
        assert not run.exists()  # nothing is created for a run that cannot start


def test_image_folder_converts_modes_and_sizes(tmp_path: Path) -> None:
    dataset = ImageFolder(write_pngs(tmp_path, 4), 16, cache_bytes=0)  # not cached: decodes in __getitem__
    images = torch.stack([dataset[i] for i in range(len(dataset))])
    assert images.shape == (4, 3, 16, 16) and images.min() >= -1 and images.max() <= 1
    cached = ImageFolder(tmp_path, 16)
    assert torch.equal(torch.stack([cached[i] for i in range(4)]), images)
    names = [path.name for path in dataset.paths]
    for name, is_gray in (("img0.png", False), ("img1.png", True), ("img2.png", False), ("img3.png", True)):
        assert (images[names.index(name)].std(dim=0).max() == 0) == is_gray, name
