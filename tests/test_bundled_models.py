"""What ships in `stylegan_edit/assets`: the default model, its named directions and encoders, and their size budget."""

from __future__ import annotations

import pytest
import torch

from stylegan_edit.assets import ASSETS, bundled, resolve_network
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.editors import LinearEdit
from stylegan_edit.editors.direction import load_direction
from stylegan_edit.editors.sampling import attribute_scorer
from stylegan_edit.formats.native import load_network
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.training.options import TrainingOptions, synthfaces_64


@pytest.fixture(scope="module")
def network():  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    return load_network(resolve_network("synthfaces-64"))


def test_assets_fit_the_size_budget() -> None:
    total = sum(path.stat().st_size for path in ASSETS.rglob("*") if path.is_file())
    assert total < 40 * 2**20, f"shipped assets take {total / 2**20:.1f} MiB"


def test_default_model_is_the_documented_config(network) -> None:  # type: ignore[no-untyped-def]
    """The architecture of `synthfaces_64()`. The discriminator keeps the minibatch-stddev group it was last trained
    with, 8 (docs/default-models.md): a resumable change that alters no weight, recorded in its training options."""
    assert network.generator.config == synthfaces_64().generator
    assert network.discriminator is not None
    recorded = TrainingOptions.from_json(network.metadata["training_options"])
    assert network.discriminator.config.mbstd_group_size == recorded.mbstd_group_size == 8
    assert network.discriminator.config == synthfaces_64().replace(mbstd_group_size=8).discriminator
    assert network.metadata["data"] == "synthfaces:photo" and float(network.metadata["kimg"]) > 0
    images = network.generator(torch.randn(2, 128), noise_mode="const")
    assert images.shape == (2, 3, 64, 64) and bool(torch.isfinite(images).all())


def test_every_attribute_has_a_bundled_direction_that_moves_it(network) -> None:  # type: ignore[no-untyped-def]
    """Strength +2 along each bundled direction raises the classifier's logit of its attribute on average and labels
    at least as many faces positive as before; by more than one logit where W separates the attribute linearly
    (the direction's SVM validation accuracy is at least 0.9). On the shipped model the yaw, eyeglasses and smile
    SVMs reach 0.84 / 0.85 / 0.89 on the 2% extremes: W does not separate yaw linearly (linear separability H 0.52,
    README), and the yaw direction moves yaw by only 0.34 logits per unit (`metrics edit-fidelity`)."""
    generator = network.generator
    assert sorted(bundled("direction")) == sorted(ATTRIBUTES)
    score = attribute_scorer(ATTRIBUTES)
    torch.manual_seed(0)
    with torch.no_grad():
        w = Latents(generator.mapping(torch.randn(24, generator.z_dim), truncation_psi=0.7)[:, 0], LatentSpace.W)
        for column, name in enumerate(ATTRIBUTES):
            direction = load_direction(bundled("direction")[name], generator=generator)
            assert direction.method == "interfacegan" and abs(float(direction.vector.norm()) - 1) < 1e-5
            before = score(generator.synthesis(w.to_w_plus(generator.num_ws).tensor, noise_mode="const"))
            edited = LinearEdit(direction, 2.0)(w, num_ws=generator.num_ws).to_w_plus(generator.num_ws)
            after = score(generator.synthesis(edited.tensor, noise_mode="const"))
            change = after[:, column] - before[:, column]
            linear = direction.statistics["accuracy"] >= 0.9
            assert float(change.mean()) > (1.0 if linear else 0.0), (name, direction.statistics, change)
            assert int((after[:, column] > 0).sum()) >= int((before[:, column] > 0).sum()), name


@pytest.mark.parametrize("arch", ["psp", "e4e"])
def test_bundled_encoders_invert_held_out_faces(network, arch: str) -> None:  # type: ignore[no-untyped-def]
    """The shipped encoders belong to the default model and reconstruct faces none of them trained on: PSNR well
    above an untrained encoder's (about 15 dB) and the classifier reads the targets' attributes back."""
    from stylegan_edit.classifiers.attributes import load_classifier
    from stylegan_edit.classifiers.train import HELD_OUT_SEED_OFFSET
    from stylegan_edit.data import SynthFaces
    from stylegan_edit.encoders import load_encoder
    from stylegan_edit.encoders.config import generator_fingerprint
    from stylegan_edit.perceptual.reconstruction import psnr

    generator = network.generator
    encoder = load_encoder(arch)
    assert encoder.config.arch == arch
    encoder.check_generator(generator)
    assert encoder.generator_fingerprint == generator_fingerprint(generator)  # trained against this very generator
    faces = SynthFaces(16, size=64, style="photo", seed_offset=HELD_OUT_SEED_OFFSET)
    targets = torch.stack([faces[i][0] for i in range(16)])
    labels = torch.stack([faces[i][1] for i in range(16)]).bool()
    with torch.no_grad():
        codes = encoder.encode(targets)
        images = generator.synthesis(codes.tensor, noise_mode="const")
        classifier = load_classifier()
        predicted = classifier(images)[:, [classifier.index(name) for name in ATTRIBUTES]] > 0
    assert codes.tensor.shape == (16, generator.num_ws, generator.w_dim)
    assert float(psnr(images, targets).mean()) > 20.0
    assert float((predicted == labels).float().mean()) > 0.9
