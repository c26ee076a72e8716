"""Behaviour of the StyleGAN2 generator core on tiny configs."""

from __future__ import annotations

import pytest
import torch

from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from stylegan_edit.generators.layers import modulated_conv2d
from tests.conftest import TINY, make_generator


@pytest.mark.parametrize("resolution", [4, 8, 16, 32, 64])
@pytest.mark.parametrize("architecture", ["skip", "resnet"])
def test_shapes_and_num_ws(resolution: int, architecture: str) -> None:
    config = GeneratorConfig(
        img_resolution=resolution,
        z_dim=8,
        w_dim=8,
        mapping_layers=1,
        channel_base=64,
        channel_max=8,
        architecture=architecture,  # type: ignore[arg-type]
    )
    generator = Generator(config).eval()
    ws = generator.mapping(torch.randn(3, 8))
    assert config.num_ws == 2 * (resolution.bit_length() - 1) - 2
    assert ws.shape == (3, config.num_ws, 8)
    assert generator.synthesis(ws).shape == (3, 3, resolution, resolution)


def test_config_f_channel_table() -> None:
    config = GeneratorConfig()
    assert [config.channels(r) for r in config.block_resolutions] == [512] * 5 + [256, 128, 64, 32]
    assert config.num_ws == 18


def test_w_and_broadcast_w_plus_give_the_same_image(tiny_generator: Generator) -> None:
    w = tiny_generator.mapping(torch.randn(2, 16))[:, 0]
    broadcast = w.unsqueeze(1).repeat(1, tiny_generator.num_ws, 1)
    per_layer = torch.stack([w] * tiny_generator.num_ws, dim=1)
    assert torch.equal(tiny_generator.synthesis(broadcast), tiny_generator.synthesis(per_layer))
    # A different code on one layer changes the image: W+ is really per layer.
    per_layer[:, 3] += 1
    assert not torch.allclose(tiny_generator.synthesis(per_layer), tiny_generator.synthesis(broadcast))


def test_truncation_zero_gives_the_mean_image(tiny_generator: Generator) -> None:
    z = torch.randn(3, 16)
    img = tiny_generator(z, truncation_psi=0.0)
    w_avg = tiny_generator.mapping.w_avg
    expected = tiny_generator.synthesis(w_avg.expand(1, tiny_generator.num_ws, -1))
    assert torch.allclose(img, expected.expand_as(img), atol=1e-5)


def test_truncation_cutoff_only_touches_early_layers(tiny_generator: Generator) -> None:
    z = torch.randn(2, 16)
    full = tiny_generator.mapping(z)
    cut = tiny_generator.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.equal(cut[:, 2:], full[:, 2:])
    expected = tiny_generator.mapping.w_avg + 0.5 * (full[:, :2] - tiny_generator.mapping.w_avg)
    assert torch.allclose(cut[:, :2], expected, atol=1e-6)


def test_w_avg_moves_only_when_asked(tiny_generator: Generator) -> None:
    before = tiny_generator.mapping.w_avg.clone()
    z = torch.randn(4, 16)
    tiny_generator.train()
    tiny_generator.mapping(z)
    assert torch.equal(tiny_generator.mapping.w_avg, before)
    w = tiny_generator.mapping(z, update_w_avg=True)[:, 0]
    beta = TINY.w_avg_beta
    assert torch.allclose(tiny_generator.mapping.w_avg, beta * before + (1 - beta) * w.mean(0), atol=1e-6)


def test_demodulation_keeps_unit_variance() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 64, 32, 32)
    weight = torch.randn(32, 64, 3, 3) * 5
    styles = torch.rand(4, 64) * 3 + 0.1
    y = modulated_conv2d(x, weight, styles, padding=1)
    # Each demodulated filter has unit L2 norm, so i.i.d. unit-variance inputs give unit-variance outputs
    # whatever the weight scale and the styles (away from the zero-padded border).
    std = y[:, :, 1:-1, 1:-1].std(dim=[0, 2, 3])
    assert torch.allclose(std, torch.ones_like(std), atol=0.06), std
    plain = torch.nn.functional.conv2d(x, weight, padding=1)[:, :, 1:-1, 1:-1].std(dim=[0, 2, 3])
    assert plain.min() > 10  # without demodulation the scale would explode


def test_fused_and_non_fused_agree_forward_and_backward(tiny_generator: Generator) -> None:
    ws = tiny_generator.mapping(torch.randn(3, 16)).requires_grad_(True)
    fused = tiny_generator.synthesis(ws, fused_modconv=True)
    (g_fused,) = torch.autograd.grad(fused.square().sum(), ws)
    nonfused = tiny_generator.synthesis(ws, fused_modconv=False)
    (g_nonfused,) = torch.autograd.grad(nonfused.square().sum(), ws)
    assert (fused - nonfused).abs().max() < 1e-5
    assert torch.allclose(g_fused, g_nonfused, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_gradients_reach_weights_latents_and_noise(fused: bool) -> None:
    generator = make_generator(TINY).train()
    ws = generator.mapping(torch.randn(2, 16)).detach().requires_grad_(True)
    noise = [
        torch.randn(layer.resolution, layer.resolution, requires_grad=True)
        for layer in generator.synthesis.noise_layers()
    ]
    img = generator.synthesis(ws, noise=noise, fused_modconv=fused)
    img.square().mean().backward()
    assert ws.grad is not None and ws.grad.abs().sum() > 0
    assert all(n.grad is not None and n.grad.abs().sum() > 0 for n in noise)
    for name, p in generator.synthesis.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_noise_modes(tiny_generator: Generator) -> None:
    ws = tiny_generator.mapping(torch.randn(2, 16))
    const_a = tiny_generator.synthesis(ws, noise_mode="const")
    assert torch.equal(const_a, tiny_generator.synthesis(ws, noise_mode="const"))
    torch.manual_seed(0)
    rand_a = tiny_generator.synthesis(ws, noise_mode="random")
    rand_b = tiny_generator.synthesis(ws, noise_mode="random")
    assert not torch.equal(rand_a, rand_b)
    zeros = [torch.zeros(layer.resolution, layer.resolution) for layer in tiny_generator.synthesis.noise_layers()]
    assert torch.allclose(tiny_generator.synthesis(ws, noise_mode="none"), tiny_generator.synthesis(ws, noise=zeros))
    with pytest.raises(ValueError, match="noise_mode"):
        tiny_generator.synthesis(ws, noise_mode="loud")


def test_conv_clamp_bounds_activations() -> None:
    config = GeneratorConfig(
        img_resolution=8, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=8, conv_clamp=0.5
    )
    generator = Generator(config).eval()
    with torch.no_grad():
        generator.synthesis.b8.torgb.bias.fill_(100.0)
    img = generator(torch.randn(2, 8))
    assert img.abs().max() <= 0.5 * 2 + 1e-6  # two torgb outputs, each clamped to ±0.5


def test_bad_shapes_are_refused(tiny_generator: Generator) -> None:
    with pytest.raises(ValueError, match="z must have shape"):
        tiny_generator.mapping(torch.randn(2, 3))
    with pytest.raises(ValueError, match="ws must have shape"):
        tiny_generator.synthesis(torch.randn(2, 3, 16))


def test_discriminator_shapes_and_gradients(tiny_discriminator: Discriminator) -> None:
    img = torch.randn(4, 3, 16, 16, requires_grad=True)
    logits = tiny_discriminator(img)
    assert logits.shape == (4, 1)
    logits.sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    skip = Discriminator(DiscriminatorConfig(img_resolution=16, channel_base=256, channel_max=32, architecture="skip"))
    assert skip(torch.randn(2, 3, 16, 16)).shape == (2, 1)


def test_state_dict_uses_nvidia_names() -> None:
    generator = Generator(
        GeneratorConfig(
            img_resolution=8, z_dim=4, w_dim=4, mapping_layers=2, channel_base=32, channel_max=4, architecture="resnet"
        )
    )
    keys = set(generator.state_dict())
    for key in [
        "mapping.fc0.weight",
        "mapping.fc1.bias",
        "mapping.w_avg",
        "synthesis.b4.const",
        "synthesis.b4.resample_filter",
        "synthesis.b4.conv1.affine.weight",
        "synthesis.b4.conv1.noise_const",
        "synthesis.b4.conv1.noise_strength",
        "synthesis.b8.conv0.weight",
        "synthesis.b8.conv0.resample_filter",
        "synthesis.b8.skip.weight",
        "synthesis.b8.torgb.affine.bias",
    ]:
        assert key in keys, key
    assert "synthesis.b4.torgb.weight" not in keys  # resnet: torgb only in the last block
