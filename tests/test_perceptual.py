"""Our LPIPS against the `lpips` package on the same (random) trunk weights, and `choose_loss`'s stated rule."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from stylegan_edit.classifiers.attributes import BUNDLED_CLASSIFIER
from stylegan_edit.generators import Discriminator, Generator, Network
from stylegan_edit.perceptual import LPIPSLoss, choose_loss, loss_names
from stylegan_edit.perceptual.losses import FeatureLoss, lpips_weights_path

torchvision = pytest.importorskip("torchvision")
lpips = pytest.importorskip("lpips")

TRUNK_BUILDERS = {"vgg": "vgg16", "alex": "alexnet", "squeeze": "squeezenet1_1"}


def _no_download(*args: object, **kwargs: object) -> None:
    raise AssertionError("a download was attempted")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub folder: no trunk weights until a test writes them; downloading fails the test."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_download)
    return tmp_path / "hub"


def _random_trunk(trunk: str, seed: int = 0) -> Any:
    """A torchvision trunk with random weights, saved where LPIPS looks for the ImageNet ones. Only its
    `features.*` tensors are written (the classifier layers, hundreds of MB for VGG16, are never read)."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, TRUNK_BUILDERS[trunk])(weights=None).eval()
    path = lpips_weights_path(trunk)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")}, path)
    return model


def _lpips_package(trunk: str, model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The package's own LPIPS, its trunk built by the package from `model` as it would be from ImageNet's."""
    builder = TRUNK_BUILDERS[trunk]
    monkeypatch.setattr(lpips.pretrained_networks, "tv", SimpleNamespace(**{builder: lambda **kwargs: model}))
    return lpips.LPIPS(net=trunk, verbose=False).eval()


@pytest.mark.parametrize(("trunk", "sizes"), [("vgg", (32, 64, 256)), ("alex", (48, 64, 320)), ("squeeze", (64,))])
def test_lpips_matches_the_lpips_package_on_the_same_trunk_weights(
    trunk: str, sizes: tuple[int, ...], hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _random_trunk(trunk)
    ours = LPIPSLoss(trunk)  # reads the file; built before the package's trunk builder is replaced below
    reference = _lpips_package(trunk, model, monkeypatch)
    assert reference.net.slice1[0] is model.features[0]  # the package's trunk is this model's
    gen = torch.Generator().manual_seed(1)
    for side in sizes:
        batch = 2 if side <= 64 else 1
        images = torch.rand(batch, 3, side, side, generator=gen) * 2 - 1
        targets = (images + 0.5 * torch.randn(images.shape, generator=gen)).clamp(-1, 1)
        # The resize rule: below 64 px the package's own bilinear upsampling to 64, above 256 px area to 256.
        if side < 64:
            images_ref, targets_ref = lpips.upsample(images, (64, 64)), lpips.upsample(targets, (64, 64))
        elif side > 256:
            images_ref, targets_ref = (F.interpolate(x, size=(256, 256), mode="area") for x in (images, targets))
        else:
            images_ref, targets_ref = images, targets
        with torch.no_grad():
            expected = reference(images_ref, targets_ref).flatten()
            got = ours(images, targets)
        assert float(expected.min()) > 0.01, (trunk, side)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6, msg=f"lpips-{trunk} at {side} px")
    with torch.no_grad():
        assert torch.allclose(ours(targets, targets), torch.zeros(batch), atol=1e-6)


def _networks(generator: Generator, discriminator: Discriminator) -> dict[str, Network]:
    return {
        "synthfaces": Network(generator, discriminator, {"data": "synthfaces:photo"}),
        "other": Network(generator, discriminator, {"data": "/photos"}),
        "no discriminator": Network(generator),
    }


@pytest.mark.skipif(not BUNDLED_CLASSIFIER.is_file(), reason="bundled classifier not installed")
def test_auto_without_lpips_weights_says_which_file_it_looked_for(
    tiny_generator: Generator, tiny_discriminator: Discriminator, hub: Path, caplog: pytest.LogCaptureFixture
) -> None:
    networks = _networks(tiny_generator, tiny_discriminator)
    missing = f"auto: no VGG16 weights at {hub / 'checkpoints' / 'vgg16-397923af.pth'}, nothing is downloaded; "
    with caplog.at_level(logging.DEBUG, logger="stylegan_edit"):
        chosen = {label: choose_loss("auto", network) for label, network in networks.items()}
    assert caplog.records == []  # the caller prints describe()

    faces = chosen["synthfaces"]
    assert isinstance(faces.perceptual, FeatureLoss) and faces.perceptual is faces.metric
    assert faces.name == faces.perceptual.name == "classifier"
    assert (faces.perceptual_weight, faces.mse_weight, faces.l1_weight) == (1.0, 0.0, 0.0)
    assert faces.describe() == (
        f"loss: classifier ({missing}using the bundled attribute classifier's features (a SynthFaces network))"
    )
    other = chosen["other"]
    assert other.name == "disc" and other.perceptual is not None and other.perceptual.name == "disc"
    assert other.describe() == (
        f"loss: disc ({missing}no feature extractor (classifier) applies to this network, "
        "so using the checkpoint's discriminator features)"
    )
    pixels = chosen["no discriminator"]
    assert pixels.name == "mse" and pixels.perceptual is None and pixels.metric is None
    assert (pixels.perceptual_weight, pixels.mse_weight, pixels.l1_weight) == (0.0, 1.0, 0.0)
    assert pixels.describe() == (
        f"loss: mse ({missing}no feature extractor (classifier) applies to this network "
        "and the checkpoint has no discriminator, so pixel MSE only)"
    )
    targets = torch.rand(2, 3, 16, 16) * 2 - 1
    assert float(faces.perceptual(targets, targets.flip(0)).min()) > 0


def test_auto_with_the_vgg_weights_cached_is_lpips_vgg(
    tiny_generator: Generator, tiny_discriminator: Discriminator, hub: Path
) -> None:
    _random_trunk("vgg")
    chosen = choose_loss("auto", _networks(tiny_generator, tiny_discriminator)["synthfaces"])  # before classifier
    assert isinstance(chosen.perceptual, LPIPSLoss) and chosen.perceptual is chosen.metric
    assert chosen.name == chosen.perceptual.name == "lpips-vgg"
    path = hub / "checkpoints" / "vgg16-397923af.pth"
    assert chosen.describe() == f"loss: lpips-vgg (auto: torchvision's VGG16 weights are at {path})"


def test_named_losses_are_chosen_explicitly_or_fail_in_one_line(
    tiny_generator: Generator, tiny_discriminator: Discriminator, hub: Path
) -> None:
    network = _networks(tiny_generator, tiny_discriminator)["other"]
    mse, l1 = choose_loss("mse", network), choose_loss("l1", network)
    assert mse.describe() == "loss: mse (chosen explicitly)" and l1.describe() == "loss: l1 (chosen explicitly)"
    assert (mse.perceptual, mse.perceptual_weight, mse.mse_weight, mse.l1_weight) == (None, 0.0, 1.0, 0.0)
    assert (l1.perceptual, l1.perceptual_weight, l1.mse_weight, l1.l1_weight) == (None, 0.0, 0.0, 1.0)
    assert mse.metric is not None and mse.metric.name == "disc"  # the metrics still report auto's distance
    disc = choose_loss("disc", network)
    assert disc.describe() == "loss: disc (chosen explicitly)" and disc.perceptual is not None
    assert choose_loss("mse", Network(tiny_generator)).metric is None

    vgg = hub / "checkpoints" / "vgg16-397923af.pth"
    for spec in ("lpips", "lpips-vgg"):
        with pytest.raises(ValueError) as missing:
            choose_loss(spec, network)
        message = str(missing.value)
        assert "\n" not in message and f"{vgg} (nothing is downloaded)" in message
    with pytest.raises(ValueError, match=r"alexnet-owt-7be5be79\.pth \(nothing is downloaded\)"):
        choose_loss("lpips-alex", network)
    with pytest.raises(ValueError, match="no discriminator"):
        choose_loss("disc", Network(tiny_generator))
    for spec in ("lpips-foo", "vgg", "none"):
        with pytest.raises(ValueError) as unknown:
            choose_loss(spec, network)
        assert str(unknown.value) == f"unknown loss {spec!r} (choose from {', '.join(loss_names())})"
    builtin = ["auto", "mse", "l1", "lpips", "lpips-vgg", "lpips-alex", "lpips-squeeze", "disc", "classifier"]
    assert loss_names()[: len(builtin)] == builtin
