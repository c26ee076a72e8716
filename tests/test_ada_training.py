"""ADA in the trainer (arXiv:2006.06676): the controller's rule, p steered by D's outputs on reals, FreezeD, exact
resume with p, and a fine-tune of the bundled model on a folder of 30 images through the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from stylegan_edit.cli.main import cli
from stylegan_edit.data import write_dataset
from stylegan_edit.formats.native import load_network
from stylegan_edit.training import Trainer, TrainingOptions, load_state, preset, save_state
from stylegan_edit.training.ada import AdaController
from stylegan_edit.training.loop import append_record
from stylegan_edit.training.state import ResumeError

pytestmark = pytest.mark.usefixtures("one_thread")


def noise_images(num: int = 8, size: int = 16) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.rand(3, size, size, generator=gen) * 2 - 1 for _ in range(num)]


def ada_options(**changes: object) -> TrainingOptions:
    return preset("tiny").replace(augment="ada", ada_kimg=0.1, **changes)  # p moves 4 * 4 / 100 per 4 steps


def test_controller_moves_p_every_interval_by_the_papers_step_and_never_below_zero() -> None:
    controller = AdaController(target=0.6, ada_kimg=1.0, interval=4)
    p, expected = 0.1, [0.1, 0.1, 0.1, 0.068, 0.068, 0.068, 0.068, 0.036]  # 8 * 4 / 1000 down every 4 steps
    for step in range(1, 9):
        controller.accumulate(torch.tensor([[1.0], [2.0], [0.5], [-1.0]]))  # r_t = 0.5 < 0.6
        p = controller.adjust(p, step, batch=8)
        assert p == pytest.approx(expected[step - 1])
    assert controller.last_rt_ == pytest.approx(0.5)
    for step in range(9, 13):
        controller.accumulate(torch.ones(4, 1))
        p = controller.adjust(p, step, batch=8)
    assert p == pytest.approx(0.068)  # 8 * 4 / 1000 up
    low = AdaController(ada_kimg=1.0)
    for _ in range(4):
        low.accumulate(-torch.ones(4, 1))
    assert low.adjust(0.01, 4, batch=8) == 0.0


@pytest.mark.parametrize(("bias", "start", "expected"), [(50.0, 0.0, 0.32), (-50.0, 0.3, 0.0)])
def test_p_rises_when_d_calls_every_real_real_and_falls_otherwise(bias: float, start: float, expected: float) -> None:
    trainer = Trainer(ada_options(aug_p=start), noise_images())
    with torch.no_grad():  # an overfitted D (every logit positive) or one that calls everything fake
        trainer.discriminator.b4.out.bias.fill_(bias)
    history = [trainer.step().augment_p for _ in range(8)]
    assert history[0] == pytest.approx(start) and history[3] != pytest.approx(start)
    assert history[-1] == pytest.approx(expected, abs=1e-6)


def test_freeze_d_keeps_the_highest_resolution_blocks() -> None:
    trainer = Trainer(ada_options(aug_p=0.5, freeze_d=1), noise_images())
    before = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    for _ in range(2):
        trainer.step()
    after = trainer.discriminator.state_dict()
    frozen = [k for k in before if k.startswith("b16.") and before[k].is_floating_point()]
    trained = [k for k in before if k.startswith(("b8.", "b4.")) and k.endswith("weight")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert all(not torch.equal(before[k], after[k]) for k in trained)
    with pytest.raises(ValueError, match=r"freeze_d must lie in \[0, 2\]"):
        ada_options(freeze_d=3)


def test_resume_restores_p_and_the_ada_statistics_exactly(tmp_path: Path) -> None:
    options = ada_options(aug_p=0.3, pl_interval=2, r1_interval=4)
    dataset = noise_images()
    straight = Trainer(options, dataset)
    history = [straight.step().augment_p for _ in range(10)]
    assert len(set(history)) > 1

    first = Trainer(options, dataset)
    for _ in range(6):  # mid-interval: the controller's sign sums must travel with the state
        first.step()
    save_state(tmp_path, first.state_dict())
    state = load_state(tmp_path).state
    assert state["augment_p"] == pytest.approx(first.augment_p) and state["ada"]["signs"][1] > 0
    resumed = Trainer.from_state(state, dataset)
    assert resumed.augment_p == first.augment_p
    for _ in range(4):
        resumed.step()
    assert resumed.augment_p == straight.augment_p
    for name, value in straight.discriminator.state_dict().items():
        assert torch.equal(value, resumed.discriminator.state_dict()[name]), name
    for name, value in straight.generator_ema.state_dict().items():
        assert torch.equal(value, resumed.generator_ema.state_dict()[name]), name

    calmer = Trainer.from_state(state, dataset, ada_target=0.8, ada_kimg=1.0)
    assert calmer.augment_p == first.augment_p and calmer.options.ada_target == 0.8
    with pytest.raises(ResumeError, match="augment"):
        Trainer.from_state(state, dataset, augment="fixed")


def test_options_refuse_augmentation_settings_that_do_nothing() -> None:
    with pytest.raises(ValueError, match="needs a probability aug_p above 0"):
        preset("tiny").replace(augment="fixed")
    with pytest.raises(ValueError, match="aug_p needs augment"):
        preset("tiny").replace(aug_p=0.2)
    with pytest.raises(ValueError, match="unknown augment mode 'always'"):
        preset("tiny").replace(augment="always")
    old = json.loads(preset("tiny").to_json())
    for name in ("augment", "aug_p", "ada_target", "ada_kimg", "ada_interval", "augpipe", "freeze_d"):
        del old[name]
    assert TrainingOptions.from_dict(old).augment == "none"  # states written before ADA still load


def test_a_resumed_log_replaces_the_lines_it_repeats(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    for kimg in (1.0, 2.0, 3.0, 2.0):  # killed after 3, resumed from the state saved at 1
        append_record(path, {"kimg": kimg, "augment_p": kimg / 10})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"kimg": 1.0, "augment_p": 0.1},
        {"kimg": 2.0, "augment_p": 0.2},
    ]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def toon_folder(tmp_path: Path) -> Path:
    """30 toon renders: a style the bundled photo model has not seen."""
    write_dataset(tmp_path / "toon", 30, style="toon", size=64, progress=False)
    return tmp_path / "toon"


def fine_tune(folder: Path, run: Path, *extra: str) -> tuple[int, str]:
    return invoke(
        "train", "--data", str(folder), "--outdir", str(run), "--resume-from", "synthfaces-64", "--augment", "ada",
        "--no-progress", "--device", "cpu", *extra,
    )  # fmt: skip


def check_fine_tune(run: Path, output: str, tmp_path: Path) -> None:
    """The run logged p, measured its snapshots, and wrote a network that `generate` and `blend` accept."""
    assert "(p 0." in output and "snapshot_metrics.jsonl" in output
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert stats and all(0 <= s["augment_p"] <= 1 for s in stats)
    metrics = [json.loads(line) for line in (run / "snapshot_metrics.jsonl").read_text().splitlines()]
    assert metrics and {"kimg", "augment_p", "kid", "ms_ssim", "ms_ssim_real"} <= set(metrics[-1])
    assert all(0 < m["ms_ssim"] < 1 and 0 < m["ms_ssim_real"] < 1 and m["num_real"] == 30 for m in metrics)
    state = load_state(run).state
    options = TrainingOptions.from_json(state["options"])
    assert options.augment == "ada" and options.ada_kimg == 100  # stylegan2-ada's ada_kimg for transfer
    assert state["augment_p"] == pytest.approx(metrics[-1]["augment_p"])
    snapshot = sorted(run.glob("network-snapshot-*.safetensors"))[-1]
    network = load_network(snapshot)
    assert network.generator.config == load_network("synthfaces-64").generator.config
    assert network.metadata["resume_from"] == "synthfaces-64" and "augment_p" in network.metadata
    code, output = invoke("generate", "--network", str(snapshot), "--seeds", "0-1", "--outdir", str(tmp_path / "g"))
    assert code == 0 and len(list((tmp_path / "g").glob("*.png"))) == 2, output
    code, output = invoke("blend", "synthfaces-64", str(snapshot), "--swap-res", "16", "--outdir", str(tmp_path / "b"))
    assert code == 0 and (tmp_path / "b" / "blended.safetensors").exists(), output


def test_cli_fine_tunes_the_bundled_model_on_a_small_folder_with_ada(tmp_path: Path, toon_folder: Path) -> None:
    run = tmp_path / "run"
    code, output = fine_tune(toon_folder, run, "--kimg", "0.016", "--batch", "4", "--snapshot-kimg", "0.008")
    assert code == 0, output
    assert "30 images from" in output
    check_fine_tune(run, output, tmp_path)
    assert len((run / "snapshot_metrics.jsonl").read_text().splitlines()) == 2

    code, output = invoke("train", "--resume", str(run), "--kimg", "0.024", "--ada-target", "0.5", "--device", "cpu")
    assert code == 0, output
    resumed = load_state(run).state
    assert resumed["cur_nimg"] == 24 and TrainingOptions.from_json(resumed["options"]).ada_target == 0.5
    lines = (run / "snapshot_metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["kimg"] for line in lines] == [0.008, 0.016, 0.024]
    code, output = invoke("train", "--resume", str(run), "--augment", "fixed", "--kimg", "0.032")
    assert code != 0 and "--augment cannot change when resuming" in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--augment", "none", "--aug-p", "0.2"], "--aug-p need --augment ada or fixed"),
        (["--augment", "fixed"], "needs a probability aug_p above 0"),
        (["--freeze-d", "9"], "freeze_d must lie in [0, 4]"),
    ],
)
def test_cli_refuses_augmentation_settings_in_one_line(
    tmp_path: Path, toon_folder: Path, extra: list[str], message: str
) -> None:
    code, output = invoke(
        "train", "--data", str(toon_folder), "--outdir", str(tmp_path / "r"), "--resume-from", "synthfaces-64",
        "--device", "cpu", *extra,
    )  # fmt: skip
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert code != 0 and len(errors) == 1 and message in errors[0] and "Traceback" not in output, output
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_cli_fine_tune_of_2_kimg_on_30_images(tmp_path: Path, toon_folder: Path) -> None:
    """The issue's command as given (`--kimg 2`, the config's batch 16): 359 s measured on one thread of the shared
    2-core development machine, too slow for the default run."""
    run = tmp_path / "run"
    start = time.perf_counter()
    code, output = fine_tune(toon_folder, run, "--kimg", "2")
    assert code == 0, output
    check_fine_tune(run, output, tmp_path)
    print(f"2 kimg fine-tune: {time.perf_counter() - start:.1f} s")
