"""pSp and e4e encoders on tiny configs: shapes, layer groups, e4e's schedule, training, resume, files, mismatches."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.utils.data import Dataset

from stylegan_edit.encoders import (
    E4EEncoder,
    EncoderConfig,
    EncoderTrainer,
    EncoderTrainingOptions,
    PSPEncoder,
    build_encoder,
    encoder_for,
    generator_fingerprint,
    load_encoder,
    read_encoder,
    save_encoder,
)
from stylegan_edit.encoders.encoder import classifier_backbone_settings, init_backbone_from_classifier
from stylegan_edit.encoders.loop import write_snapshot
from stylegan_edit.encoders.trainer import ENCODER_STATE_FORMAT, ENCODER_STATE_KEYS
from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import save_network
from stylegan_edit.generators import Discriminator, Generator, GeneratorConfig, Network
from stylegan_edit.training import load_state, save_state
from tests.conftest import TINY, TINY_ENCODER, make_generator

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def network(tiny_generator: Generator, tiny_discriminator: Discriminator) -> Network:
    return Network(tiny_generator, tiny_discriminator)


class FixedImages(Dataset[Tensor]):
    """The generator's own images for seeds 100.. (reachable targets)."""

    def __init__(self, generator: Generator, num: int) -> None:
        with torch.no_grad():
            z = torch.randn([num, generator.z_dim], generator=torch.Generator().manual_seed(100))
            self.images = generator(z, truncation_psi=0.7).clamp(-1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]


def _images(num: int, resolution: int = 16, seed: int = 0) -> Tensor:
    return torch.rand([num, 3, resolution, resolution], generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _options(generator: Generator, arch: str, **changes: object) -> EncoderTrainingOptions:
    config = EncoderConfig.for_generator(generator, arch=arch, **TINY_ENCODER)  # type: ignore[arg-type]
    settings: dict[str, object] = {"batch": 4, "lr": 1e-3, "perceptual": "disc", **changes}
    return EncoderTrainingOptions.for_encoder(config, **settings)


@pytest.mark.parametrize("arch", ["psp", "e4e"])
@pytest.mark.parametrize("resolution", [8, 16, 64, 512])
def test_output_shapes_at_any_resolution(arch: str, resolution: int) -> None:
    num_ws = 2 * resolution.bit_length() - 4
    config = EncoderConfig(
        arch=arch,  # type: ignore[arg-type]
        img_resolution=resolution,
        num_ws=num_ws,
        w_dim=12,
        input_resolution=min(max(resolution, 16), 256),
        **TINY_ENCODER,  # type: ignore[arg-type]
    )
    encoder = build_encoder(config)
    assert isinstance(encoder, E4EEncoder if arch == "e4e" else PSPEncoder)
    with torch.no_grad():
        ws = encoder(_images(2, resolution))
    assert ws.shape == (2, num_ws, 12) and bool(torch.isfinite(ws).all())
    with pytest.raises(ValueError, match=rf"images of shape \[N, 3, {resolution}, {resolution}\]"):
        encoder(_images(2, resolution * 2))


def test_layers_read_the_coarse_medium_and_fine_pyramid_levels() -> None:
    config = EncoderConfig(arch="psp", img_resolution=64, num_ws=10, w_dim=12, input_resolution=64, **TINY_ENCODER)  # type: ignore[arg-type]
    encoder = build_encoder(config)
    # Pyramid levels are 4, 8 and 16 px; a head halves its level down to 1x1 (one stride-2 conv per halving).
    convs = [sum(isinstance(m, torch.nn.Conv2d) for m in head.modules()) for head in encoder.heads]
    assert convs == [2, 2, 2, 3, 3, 3, 3, 4, 4, 4]


def test_psp_adds_its_output_to_the_mean_w(tiny_generator: Generator) -> None:
    encoder = encoder_for(tiny_generator, "psp", num_w_samples=500, **TINY_ENCODER)
    images = _images(2)
    with torch.no_grad():
        before = encoder(images)
        encoder.w_avg += 1.0
        assert torch.allclose(encoder(images), before + 1.0, atol=1e-6)


def test_e4e_without_offsets_gives_one_w_code(tiny_generator: Generator) -> None:
    encoder = encoder_for(tiny_generator, "e4e", num_w_samples=500, **TINY_ENCODER)
    assert isinstance(encoder, E4EEncoder)
    images = _images(3)
    with torch.no_grad():
        plain = encoder(images, num_offsets=0)
        two = encoder(images, num_offsets=2)
        full = encoder(images)
    assert torch.equal(plain, plain[:, :1].expand_as(plain))
    assert torch.equal(two[:, 0], plain[:, 0]) and torch.equal(two[:, 3:], plain[:, 3:])
    assert float((two[:, 1:3] - plain[:, 1:3]).abs().min()) > 0
    assert torch.equal(full[:, :3], two[:, :3]) and float((full[:, 3:] - plain[:, 3:]).abs().min()) > 0
    latents = encoder.encode(images)
    assert latents.space.value == "w+" and torch.equal(latents.tensor, full)
    with pytest.raises(ValueError, match=r"num_offsets must lie in \[0, 5\]"):
        encoder(images, num_offsets=6)


def test_progressive_schedule_enables_layers_in_order(tiny_generator: Generator, network: Network) -> None:
    options = _options(tiny_generator, "e4e", progressive_start=2, progressive_every=2, synthetic_fraction=1.0)
    assert [options.num_offsets(step) for step in range(14)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 5]
    assert _options(tiny_generator, "psp").num_offsets(0) == 5
    options = options.replace(progressive_start=1, progressive_every=1)
    trainer = EncoderTrainer(options, network, None)
    heads = trainer.encoder.heads
    for step in range(4):
        before = [[p.detach().clone() for p in head.parameters()] for head in heads]
        stats = trainer.step()
        assert stats.num_offsets == step and ("delta" in stats.losses) == (step > 0)
        changed = [
            any(not torch.equal(a, b) for a, b in zip(old, head.parameters(), strict=True))
            for old, head in zip(before, heads, strict=True)
        ]
        # The base head and the enabled offsets learn; later layers' heads are untouched until enabled.
        assert changed == [i <= step for i in range(len(heads))], (step, changed)


@pytest.mark.parametrize("arch", ["psp", "e4e"])
def test_training_steps_lower_the_loss(arch: str, tiny_generator: Generator, network: Network) -> None:
    dataset = FixedImages(tiny_generator, 4)  # batch 4 of 4 images: every step sees the same batch
    options = _options(tiny_generator, arch, synthetic_fraction=0.0, progressive_start=0, progressive_every=1)
    trainer = EncoderTrainer(options, network, dataset)
    targets = dataset.images

    def loss() -> float:
        with torch.no_grad():
            return float(trainer.losses(targets, None, trainer.options.num_offsets(trainer.step_index))[1]["total"])

    first = loss()
    for _ in range(6):
        stats = trainer.step()
    assert loss() < 0.8 * first
    expected = {"mse", "perceptual", "total"} | ({"w_norm"} if arch == "psp" else {"delta", "adv", "disc"})
    assert expected <= set(stats.losses) and "latent" not in stats.losses


def test_latent_loss_on_generated_images_falls(tiny_generator: Generator, network: Network) -> None:
    options = _options(tiny_generator, "psp", synthetic_fraction=1.0, perceptual="none", mse_weight=0.0)
    trainer = EncoderTrainer(options, network, None)
    first = [trainer.step().losses["latent"] for _ in range(3)]
    for _ in range(6):
        trainer.step()
    last = [trainer.step().losses["latent"] for _ in range(3)]
    assert sum(last) < 0.8 * sum(first)


def test_interrupted_training_resumes_to_identical_weights(
    tmp_path: Path, tiny_generator: Generator, network: Network
) -> None:
    dataset = FixedImages(tiny_generator, 6)
    options = _options(tiny_generator, "e4e", progressive_start=1, progressive_every=1, r1_interval=2)
    straight = EncoderTrainer(options, network, dataset)
    for _ in range(4):
        straight.step()
    first = EncoderTrainer(options, network, dataset)
    for _ in range(2):
        first.step()
    save_state(tmp_path, first.state_dict(), state_format=ENCODER_STATE_FORMAT)
    torch.manual_seed(1234)  # another process's global RNG must not matter
    loaded = load_state(tmp_path, state_format=ENCODER_STATE_FORMAT, required=ENCODER_STATE_KEYS)
    resumed = EncoderTrainer.from_state(loaded.state, network, dataset)
    for _ in range(2):
        resumed.step()
    for ours, theirs in ((straight.encoder, resumed.encoder), (straight.discriminator, resumed.discriminator)):
        assert ours is not None and theirs is not None
        for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
            assert torch.equal(a, b), key
    with pytest.raises(ValueError, match="a stylegan-edit/encoder-training-state file, not a stylegan-edit/training"):
        load_state(tmp_path)  # the GAN trainer refuses an encoder run
    other = Network(make_generator(seed=5), network.discriminator)
    with pytest.raises(ValueError, match="made with another generator"):
        EncoderTrainer.from_state(loaded.state, other, dataset)


def test_fine_tuning_starts_from_a_snapshot_and_counts_on(
    tmp_path: Path, tiny_generator: Generator, network: Network
) -> None:
    dataset = FixedImages(tiny_generator, 6)
    options = _options(tiny_generator, "e4e", progressive_start=1, progressive_every=1, total_steps=2)
    first = EncoderTrainer(options, network, dataset)
    for _ in range(2):
        first.step()
    write_snapshot(first, tmp_path / "snapshot.safetensors")
    encoder = read_encoder(tmp_path / "snapshot.safetensors")
    restored = EncoderTrainingOptions.of_encoder(encoder.config, encoder.metadata, lr=5e-4)
    assert restored == options.replace(lr=5e-4)
    tuned = EncoderTrainer(restored, network, dataset)
    tuned.start_from(encoder, int(encoder.metadata["step"]))
    for (key, a), b in zip(first.encoder.state_dict().items(), tuned.encoder.state_dict().values(), strict=True):
        assert torch.equal(a, b), key
    assert tuned.step_index == 2 and tuned.step().num_offsets == options.num_offsets(2) == 2
    assert tuned.step_index == 3
    assert not torch.equal(first.encoder.heads[2].linear.weight, tuned.encoder.heads[2].linear.weight)
    psp = EncoderTrainer(_options(tiny_generator, "psp"), network, dataset)
    with pytest.raises(ValueError, match="has another architecture than the training options"):
        psp.start_from(encoder, 2)
    bare = EncoderTrainingOptions.of_encoder(encoder.config, {}, batch=2)
    assert bare == EncoderTrainingOptions.for_encoder(encoder.config, batch=2)


def test_fine_tuning_onto_another_generator_retargets_the_mean_w(
    tiny_generator: Generator, network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    dataset = FixedImages(tiny_generator, 6)
    options = _options(tiny_generator, "psp", total_steps=2)
    encoder = EncoderTrainer(options, network, dataset).encoder.eval()
    other = Network(make_generator(seed=5), network.discriminator)
    tuned = EncoderTrainer(options, other, dataset)
    own_w_avg = tuned.encoder.w_avg.clone()
    assert not torch.allclose(own_w_avg, encoder.w_avg)
    with caplog.at_level(logging.INFO, logger="stylegan_edit.encoders.trainer"):
        tuned.start_from(encoder, 0, source="old.safetensors")
    assert torch.equal(tuned.encoder.w_avg, own_w_avg)  # the new generator's mean W, not the old one's
    fingerprint = generator_fingerprint(other.generator)
    assert tuned.encoder.generator_fingerprint == fingerprint != encoder.generator_fingerprint
    for (key, a), b in zip(encoder.state_dict().items(), tuned.encoder.state_dict().values(), strict=True):
        assert key == "w_avg" or torch.equal(a, b), key
    assert "old.safetensors was trained against another generator: retargeted" in caplog.text
    same = EncoderTrainer(options, network, dataset)
    same.start_from(encoder, 0)
    assert torch.equal(same.encoder.w_avg, encoder.w_avg)


def test_save_load_round_trip_is_exact(tmp_path: Path, tiny_generator: Generator) -> None:
    images = _images(2)
    for arch in ("psp", "e4e"):
        encoder = encoder_for(tiny_generator, arch, num_w_samples=500, **TINY_ENCODER)  # type: ignore[arg-type]
        with torch.no_grad():
            for p in encoder.parameters():
                p.add_(torch.randn_like(p) * 0.01)  # not the init: the file must carry trained values
        path = tmp_path / f"{arch}.safetensors"
        save_encoder(path, encoder, metadata={"data": "synthfaces:photo"})
        loaded = read_encoder(path)
        assert type(loaded) is type(encoder) and loaded.config == encoder.config
        assert loaded.generator_fingerprint == generator_fingerprint(tiny_generator)
        assert loaded.metadata == {"data": "synthfaces:photo"} and not loaded.training
        for (key, a), b in zip(encoder.state_dict().items(), loaded.state_dict().values(), strict=True):
            assert torch.equal(a, b), key
        assert torch.equal(loaded.encode(images).tensor, encoder.encode(images).tensor)
        save_encoder(tmp_path / "half.safetensors", encoder, dtype=torch.float16)
        half = read_encoder(tmp_path / "half.safetensors")
        assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * path.stat().st_size
        assert torch.allclose(half.encode(images).tensor, encoder.encode(images).tensor, atol=0.05)


def test_unreadable_and_foreign_encoder_files_fail_clearly(
    tmp_path: Path, tiny_generator: Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("stylegan_edit.assets.ASSETS", tmp_path / "no-assets")  # as before the encoders ship
    encoder = encoder_for(tiny_generator, "psp", num_w_samples=500, **TINY_ENCODER)
    path = tmp_path / "psp.safetensors"
    save_encoder(path, encoder)
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    tensors["heads.0.extra"] = torch.zeros(1)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    save_file(tensors, str(tmp_path / "extra.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match=r"unexpected heads\.0\.extra"):
        read_encoder(tmp_path / "extra.safetensors")
    save_network(tmp_path / "network.safetensors", tiny_generator)
    with pytest.raises(CheckpointError, match="is a generator checkpoint, not an encoder"):
        read_encoder(tmp_path / "network.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable stylegan-edit encoder"):
        read_encoder(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="bundled encoder 'psp-synthfaces-64' is not in this installation"):
        load_encoder("psp")
    with pytest.raises(ValueError, match="no e4e encoder ships for the network other"):
        load_encoder("e4e", network="other")
    with pytest.raises(ValueError, match="metadata keys format are reserved"):
        save_encoder(path, encoder, metadata={"format": "x"})


def test_mismatched_generator_is_refused_naming_the_field(
    tiny_generator: Generator, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = encoder_for(tiny_generator, "e4e", num_w_samples=500, **TINY_ENCODER)
    narrow = Generator(GeneratorConfig(**{**TINY.to_dict(), "w_dim": 8}))
    with pytest.raises(ValueError, match=r"generator with w_dim 16, but this generator has w_dim 8$"):
        encoder.check_generator(narrow)
    larger = Generator(GeneratorConfig(**{**TINY.to_dict(), "img_resolution": 32}))
    with pytest.raises(ValueError, match=r"resolution 16, num_ws 6, but this generator has resolution 32, num_ws 8"):
        encoder.check_generator(larger)
    with caplog.at_level(logging.WARNING):
        encoder.check_generator(tiny_generator)
        assert not caplog.records
        encoder.check_generator(make_generator(seed=7))  # same shape, other weights: usable, but said
    assert len(caplog.records) == 1 and "trained against another generator" in caplog.records[0].getMessage()


def test_classifier_backbone_starts_from_the_classifier(tiny_generator: Generator, network: Network) -> None:
    from stylegan_edit.classifiers.attributes import AttributeClassifier, ClassifierConfig

    torch.manual_seed(0)
    classifier = AttributeClassifier(ClassifierConfig(resolution=16, channels=(8, 8, 16, 16, 16))).eval()
    with torch.no_grad():
        for module in classifier.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
    settings = classifier_backbone_settings(classifier)
    options = _options(tiny_generator, "psp", synthetic_fraction=1.0).replace(
        encoder=EncoderConfig.for_generator(tiny_generator, arch="psp", **{**TINY_ENCODER, **settings})
    )
    trainer = EncoderTrainer(options, network, None, backbone_from=classifier)
    images = _images(2)
    features = trainer.encoder.backbone(images)
    for ours, theirs in zip(features, classifier.feature_maps(images)[2:], strict=True):
        assert torch.allclose(ours, theirs, atol=1e-6)
    statistics = classifier.stem[1].running_mean.clone()
    trainer.step()  # BatchNorm statistics stay the classifier's while the weights learn
    assert torch.equal(trainer.encoder.backbone.stem[1].running_mean, statistics)
    plain = encoder_for(tiny_generator, "psp", num_w_samples=500, **TINY_ENCODER)
    with pytest.raises(ValueError, match="backbone does not match the attribute classifier's: backbone ir-se"):
        init_backbone_from_classifier(plain, classifier)


def test_options_round_trip_and_refuse_nonsense(tiny_generator: Generator) -> None:
    options = _options(tiny_generator, "e4e")
    assert EncoderTrainingOptions.from_json(options.to_json()) == options
    assert options.delta_weight == 2e-4 and options.adv_weight == 0.1 and options.w_norm_weight == 0
    with pytest.raises(ValueError, match="apply to e4e only"):
        _options(tiny_generator, "psp", adv_weight=0.1)
    with pytest.raises(ValueError, match="nothing to learn from"):
        _options(tiny_generator, "psp", mse_weight=0.0, perceptual_weight=0.0, latent_weight=0.0)
    with pytest.raises(ValueError, match="needs a dataset"):
        EncoderTrainer(_options(tiny_generator, "psp"), Network(tiny_generator), None)


def test_latent_discriminator_learns_w_codes_from_others(tiny_generator: Generator) -> None:
    from stylegan_edit.encoders import LatentDiscriminator
    from stylegan_edit.encoders.latent_discriminator import latent_discriminator_loss, latent_r1_penalty

    torch.manual_seed(0)
    discriminator = LatentDiscriminator(16)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-2)
    with torch.no_grad():
        real = tiny_generator.mapping(torch.randn(64, 16))[:, 0]
    fake = real + 1.0
    with torch.no_grad():
        first = float(latent_discriminator_loss(discriminator(real), discriminator(fake)))
    for _ in range(40):
        optimizer.zero_grad()
        latent_discriminator_loss(discriminator(real), discriminator(fake)).backward()
        optimizer.step()
    with torch.no_grad():
        assert float(latent_discriminator_loss(discriminator(real), discriminator(fake))) < 0.5 * first
    penalty = latent_r1_penalty(discriminator, real)
    assert penalty.shape == (64,) and penalty.requires_grad and float(penalty.detach().min()) >= 0


DDP_WORKER = """
import hashlib, sys, torch
torch.set_num_threads(1)
from stylegan_edit.generators import Network
from stylegan_edit.encoders import EncoderConfig, EncoderTrainer, EncoderTrainingOptions
from stylegan_edit.training import setup_distributed, shutdown_distributed
from tests.conftest import make_generator
from tests.conftest import TINY_ENCODER
from tests.test_encoders import FixedImages

def digest(trainer):
    h = hashlib.sha256()
    for module in (trainer.encoder, trainer.discriminator):
        for key, value in sorted(module.state_dict().items()):
            h.update(key.encode() + value.detach().cpu().numpy().tobytes())
    return h.hexdigest()

distributed = setup_distributed("cpu")
generator = make_generator()
config = EncoderConfig.for_generator(generator, arch="e4e", **TINY_ENCODER)
options = EncoderTrainingOptions.for_encoder(
    config, batch=4, perceptual="none", progressive_start=1, progressive_every=1, r1_interval=2
)
trainer = EncoderTrainer(options, Network(generator), FixedImages(generator, 8), distributed=distributed)
before = digest(trainer)
for _ in range(3):
    trainer.step()
with open(f"{sys.argv[1]}/rank{distributed.rank}.txt", "w") as handle:
    handle.write(f"{distributed.world_size} {trainer.num_real} {before} {digest(trainer)}")
shutdown_distributed()
"""


def test_data_parallel_replicas_end_with_identical_weights(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(DDP_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run(
        [*command, str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [(tmp_path / f"rank{r}.txt").read_text().split() for r in range(2)]
    assert [r[:2] for r in reports] == [["2", "1"], ["2", "1"]]  # 2 images per process: 1 real, 1 generated
    assert reports[0][2] == reports[1][2], "replicas started from different weights"
    assert reports[0][3] != reports[0][2], "training did not change the weights"
    assert reports[0][3] == reports[1][3], "replicas diverged"
