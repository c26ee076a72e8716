"""The training workflow: the resume rules in one place, one GAN step that writes a resumable state, and the
encoder defaults per architecture."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from stylegan_edit.encoders import EncoderConfig
from stylegan_edit.training import Trainer, TrainingOptions, load_state, preset
from stylegan_edit.workflow.encoder_training import ARCH_DEFAULTS, encoder_options, open_encoder_run
from stylegan_edit.workflow.training import ResumeError, open_gan_run, resume_options, train_gan, training_options
from tests.test_training import SmoothImages, write_pngs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tiny_state() -> dict[str, object]:
    return Trainer(preset("tiny"), SmoothImages(8)).state_dict()


def test_resume_options_accept_lr_and_gamma_and_refuse_an_architecture_field(tiny_state: dict[str, object]) -> None:
    saved = TrainingOptions.from_json(str(tiny_state["options"]))
    options = resume_options(tiny_state, lr=0.0005, gamma=2.0, total_kimg=1.0, mbstd_group_size=2)
    assert (options.lr, options.gamma, options.total_kimg, options.mbstd_group_size) == (0.0005, 2.0, 1.0, 2)
    assert options.replace(lr=saved.lr, gamma=saved.gamma, total_kimg=saved.total_kimg, mbstd_group_size=4) == saved
    wider = dataclasses.replace(saved.generator, channel_max=64)
    with pytest.raises(ResumeError, match=r"^generator cannot change when resuming") as refused:
        resume_options(tiny_state, generator=wider, lr=0.001)
    assert refused.value.names == ("generator",)
    with pytest.raises(ResumeError, match="seed, xflip cannot change"):
        resume_options(tiny_state, xflip=True, seed=1)
    with pytest.raises(ValueError, match="unknown training option 'kimg'"):
        resume_options(tiny_state, kimg=1.0)


def test_one_step_through_the_workflow_writes_a_state_that_resumes(tmp_path: Path) -> None:
    data = str(write_pngs(tmp_path / "images", 4))
    seen = []
    run = train_gan(
        tmp_path / "run", data=data, config="tiny", changes={"total_kimg": 0.004, "seed": 2}, progress=seen.append
    )
    assert len(seen) == 1 and seen[0].done and run.trainer.cur_nimg == 4
    assert any(note.startswith("data: 4 images from") for note in run.notes)
    state = load_state(tmp_path / "run").state
    assert state["cur_nimg"] == 4 and state["metadata"]["data"] == data
    assert TrainingOptions.from_json(state["options"]).seed == 2

    resumed = train_gan(tmp_path / "run", resume=True, changes={"total_kimg": 0.008, "lr": 0.001})
    assert resumed.trainer.cur_nimg == 8 and resumed.trainer.options.lr == 0.001
    assert any("resuming" in note and "at 0.004 kimg" in note for note in resumed.notes)
    assert load_state(tmp_path / "run").state["step"] == 2
    with pytest.raises(ResumeError, match="config, seed cannot change"):
        open_gan_run(tmp_path / "run", resume=True, config="tiny", changes={"seed": 3})
    with pytest.raises(ValueError, match=r"already trained 0\.008 kimg"):
        open_gan_run(tmp_path / "run", resume=True)
    with pytest.raises(ValueError, match="already holds a training run"):
        open_gan_run(tmp_path / "run", data=data, config="tiny")


def test_fine_tuning_options_take_the_checkpoints_networks(tiny_generator: torch.nn.Module) -> None:
    from stylegan_edit.generators import Network

    options = training_options("synthfaces-64", network=Network(tiny_generator), batch=4)  # type: ignore[arg-type]
    assert options.generator == tiny_generator.config and options.discriminator.img_resolution == 16
    assert options.batch == 4 and options.gamma == preset("synthfaces-64").gamma


def test_encoder_defaults_come_from_the_arch_table(tiny_generator: torch.nn.Module) -> None:
    from tests.conftest import TINY_ENCODER

    for arch in ("psp", "e4e"):
        config = EncoderConfig.for_generator(tiny_generator, arch=arch, **TINY_ENCODER)  # type: ignore[arg-type]
        options = encoder_options(config, lr=3e-4)
        weights = {name: getattr(options, name) for name in ("w_norm_weight", "delta_weight", "adv_weight")}
        assert weights == {"w_norm_weight": 0.0, "delta_weight": 0.0, "adv_weight": 0.0} | ARCH_DEFAULTS[arch]
        assert options.lr == 3e-4
    assert encoder_options(config, adv_weight=0.0).adv_weight == 0.0  # given beats the table


def test_a_resumed_encoder_run_refuses_training_options(tmp_path: Path, tiny_checkpoint: Path) -> None:
    with pytest.raises(ResumeError, match=r"^arch, batch cannot change when resuming"):
        open_encoder_run(tmp_path, resume=True, arch="psp", network=tiny_checkpoint, changes={"batch": 2})
    with pytest.raises(ValueError, match="needs an arch"):
        open_encoder_run(tmp_path / "new", network=tiny_checkpoint)
    assert not (tmp_path / "new").exists()
