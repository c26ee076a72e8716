"""The StyleGAN3 network (arXiv:2106.12423): the filtered leaky ReLU against its definition, the designed filters,
the layer schedule of NVIDIA's released models, and translation / rotation of the input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from safetensors import safe_open

from stylegan_edit.files import load_strict
from stylegan_edit.generators import StyleGAN3Config, StyleGAN3Generator, build_generator, config_from_json
from stylegan_edit.generators.alias_free import make_transform
from stylegan_edit.generators.filtered_lrelu import design_lowpass_filter, filtered_lrelu
from stylegan_edit.metrics.equivariance import integer_shift, translation_equivariance

DATA = Path(__file__).parent / "data"
SMALL = dict(z_dim=32, w_dim=32, channel_base=2048, channel_max=64)
R_CHANGES = dict(conv_kernel=1, use_radial_filters=True)


def small_generator(kind: str, res: int = 32, seed: int = 0) -> StyleGAN3Generator:
    torch.manual_seed(seed)
    changes = R_CHANGES if kind == "r" else {}
    generator = StyleGAN3Generator(StyleGAN3Config(img_resolution=res, **SMALL, **changes)).eval()
    with torch.no_grad():
        for layer in generator.synthesis.layers:
            layer.bias.normal_(0, 0.1)
            layer.magnitude_ema.fill_(float(torch.rand([]) + 0.5))
        generator.mapping.w_avg.normal_()
        # Random weights render small images; scale them to about unit spread so PSNRs mean something.
        images = generator(torch.randn([8, 32]))
        generator.synthesis.output_scale = 0.25 * 0.5 / float(images.std())
    return generator.requires_grad_(False)


def reference_filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    """The operation by its definition: zero insertion, padding, 2-D convolution, activation, 2-D convolution,
    decimation, with every filter as a full 2-D kernel (float64)."""
    x = x.double() + b.double().reshape(1, -1, 1, 1)
    n, c, h, w = x.shape
    stuffed = torch.zeros([n, c, h * up, w * up], dtype=torch.float64)
    stuffed[:, :, ::up, ::up] = x
    px0, px1, py0, py1 = padding
    x = F.pad(stuffed, [px0, px1, py0, py1])
    ku = torch.outer(fu, fu).double() * up**2
    x = F.conv2d(x, ku.flip([0, 1])[None, None].expand(c, 1, -1, -1), groups=c)
    x = (F.leaky_relu(x, slope) * gain).clamp(-clamp, clamp)
    kd = (torch.outer(fd, fd) if fd.ndim == 1 else fd).double()
    x = F.conv2d(x, kd.flip([0, 1])[None, None].expand(c, 1, -1, -1), groups=c)
    return x[:, :, ::down, ::down]


@pytest.mark.parametrize(
    ("up", "down", "padding", "radial"),
    [
        (2, 2, [11, 10, 11, 10], False),
        (4, 2, [20, 19, 21, 18], False),
        (2, 2, [-3, 9, 12, -1], False),
        (2, 2, [11, 10, 11, 10], True),
    ],
)
def test_filtered_lrelu_matches_its_definition(up: int, down: int, padding: list[int], radial: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn([2, 3, 9, 9])
    bias = torch.randn([3])
    fu = design_lowpass_filter(6 * up, 3.0, 4.0, 8.0 * up)
    fd = design_lowpass_filter(6 * down, 3.0, 4.0, 8.0 * up, radial=radial)
    assert fu is not None and fd is not None
    ours = filtered_lrelu(x, fu, fd, bias, up=up, down=down, padding=padding, gain=math.sqrt(2), slope=0.2, clamp=1.5)
    expected = reference_filtered_lrelu(x, fu, fd, bias, up, down, padding, math.sqrt(2), 0.2, 1.5)
    assert ours.shape == expected.shape
    torch.testing.assert_close(ours.double(), expected, atol=1e-5, rtol=0)


def test_filtered_lrelu_is_differentiable() -> None:
    torch.manual_seed(0)
    x = torch.randn([1, 2, 6, 6], dtype=torch.float64, requires_grad=True)
    bias = torch.randn([2], dtype=torch.float64, requires_grad=True)
    fu = design_lowpass_filter(12, 2.0, 3.0, 16.0)
    fd = design_lowpass_filter(12, 2.0, 3.0, 16.0, radial=True)
    assert fu is not None and fd is not None

    def run(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return filtered_lrelu(
            x, fu.double(), fd.double(), bias, up=2, down=2, padding=[10, 10, 10, 10], gain=1.4, slope=0.2, clamp=None
        )

    assert torch.autograd.gradcheck(run, (x, bias))


@pytest.mark.parametrize("kind", ["t", "r"])
def test_filters_have_their_designed_cutoffs(kind: str) -> None:
    """Every layer's filters pass the band below the cutoff and stop the band above `cutoff + half_width` (the
    stopband) to within 6 dB of the Kaiser design's attenuation; radial filters along both axes alike."""
    generator = StyleGAN3Generator(StyleGAN3Config(img_resolution=64, **SMALL, **(R_CHANGES if kind == "r" else {})))
    checked = 0
    for layer in generator.synthesis.layers:
        spec, fs = layer.spec, layer.tmp_sampling_rate
        for taps, cutoff, half_width in (
            (layer.up_filter, spec.in_cutoff, spec.in_half_width),
            (layer.down_filter, spec.out_cutoff, spec.out_half_width),
        ):
            if taps is None:
                continue
            f = taps.double().numpy()
            assert f.sum() == pytest.approx(1.0, abs=1e-6)
            if f.ndim == 1:
                response = np.abs(np.fft.rfft(f, 4096))
                freqs = np.fft.rfftfreq(4096, 1 / fs)
            else:
                spectrum = np.abs(np.fft.fft2(f, [1024, 1024]))
                assert np.allclose(spectrum[0, :513], spectrum[:513, 0], atol=1e-6)  # radially symmetric
                response, freqs = spectrum[0, :513], np.abs(np.fft.fftfreq(1024, 1 / fs)[:513])
            attenuation = scipy.signal.kaiser_atten(f.shape[0], 2 * half_width / (fs / 2))
            assert response[freqs <= cutoff / 2].min() > 0.8, (spec.name, "passband")
            assert 0.4 < np.interp(cutoff, freqs, response) < 0.8, (spec.name, "cutoff")
            stopband = response[freqs >= cutoff + half_width]
            if stopband.size:
                assert 20 * np.log10(stopband.max()) < -attenuation + 6, (spec.name, "stopband")
            checked += 1
    assert checked == 2 * (len(generator.synthesis.layers) - 1)


def test_layer_schedule_matches_nvidia_released_models() -> None:
    """The module names of NVIDIA's stylegan3-t/r-ffhq-1024x1024 and stylegan3-t-ffhqu-256x256 generators."""
    t1024 = [s.name for s in StyleGAN3Config.preset("stylegan3-t", 1024).layers()]
    assert t1024 == [
        "L0_36_512", "L1_36_512", "L2_52_512", "L3_52_512", "L4_84_512", "L5_148_512", "L6_148_512", "L7_276_323",
        "L8_276_203", "L9_532_128", "L10_1044_81", "L11_1044_51", "L12_1044_32", "L13_1024_32", "L14_1024_3",
    ]  # fmt: skip
    r1024 = [s.name for s in StyleGAN3Config.preset("stylegan3-r", 1024).layers()]
    assert r1024[6:] == [
        "L6_148_1024", "L7_276_645", "L8_276_406", "L9_532_256", "L10_1044_161", "L11_1044_102", "L12_1044_64",
        "L13_1024_64", "L14_1024_3",
    ]  # fmt: skip
    t256 = [s.name for s in StyleGAN3Config.preset("stylegan3-t", 256).layers()]
    assert t256[-6:] == ["L9_148_362", "L10_276_256", "L11_276_181", "L12_276_128", "L13_256_128", "L14_256_3"]
    assert StyleGAN3Config.preset("stylegan3-t", 1024).num_ws == 16


def test_config_round_trips_and_builds_its_family() -> None:
    config = StyleGAN3Config.preset("stylegan3-r", 64, **SMALL)
    again = config_from_json(config.to_json(), "stylegan3")
    assert again == config and again.kind == "stylegan3-r"
    assert isinstance(build_generator(again), StyleGAN3Generator)
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN3Config(img_resolution=48)


def test_make_transform_is_the_inverse_of_nvidia_matrix() -> None:
    angle = math.radians(30.0)
    forward = np.array([[math.cos(angle), math.sin(angle), 0.1], [-math.sin(angle), math.cos(angle), -0.2], [0, 0, 1]])
    assert np.allclose(make_transform((0.1, -0.2), 30.0).double().numpy() @ forward, np.eye(3), atol=1e-6)


@pytest.mark.parametrize("kind", ["t", "r"])
def test_rotation_by_360_degrees_is_the_identity(kind: str) -> None:
    generator = small_generator(kind)
    z = torch.randn([2, 32], generator=torch.Generator().manual_seed(3))
    plain = generator(z)
    generator.set_transform(rotate=360.0)
    turned = generator(z)
    torch.testing.assert_close(turned, plain, atol=2e-5, rtol=0)
    generator.set_transform(rotate=90.0)
    quarter = generator(z)
    quarter_turned = torch.rot90(plain, 1, dims=(2, 3))
    if kind == "r":
        # 1x1 convolutions and radial filters commute with quarter turns: config R rotates exactly.
        torch.testing.assert_close(quarter, quarter_turned, atol=2e-5, rtol=0)
    else:
        # 3x3 kernels do not (measured ~19 dB from the turned image), yet the image has changed.
        assert (quarter - plain).abs().mean() > 0.05
        assert (quarter - quarter_turned).abs().mean() > 0.05


@pytest.mark.parametrize(("kind", "minimum_db"), [("t", 50.0), ("r", 70.0)])
def test_translating_the_input_translates_the_output(kind: str, minimum_db: float) -> None:
    """EQ-T of random-weight 32 px networks (measured 58.8 dB for T and 89.1 dB for R with 16 samples); two
    unrelated images of the same networks are 5–9 dB apart, and a translation the wrong way round scores low."""
    generator = small_generator(kind)
    result = translation_equivariance(generator, num_samples=8, batch_size=4)
    assert result.psnr > minimum_db
    assert torch.equal(generator.transform, torch.eye(3))  # restored

    z = torch.randn([2, 32], generator=torch.Generator().manual_seed(5))
    reference = generator(z)
    generator.set_transform(translate=(4 / 32, -3 / 32))
    moved = generator(z)
    expected, mask = integer_shift(reference, 4, -3)
    wrong, _ = integer_shift(reference, -4, 3)
    error = ((moved - expected).square() * mask).sum() / mask.sum()
    wrong_error = ((moved - wrong).square() * mask).sum() / mask.sum()
    assert 10 * math.log10(4 / float(error)) > minimum_db - 10
    assert 10 * math.log10(4 / float(wrong_error)) < 20


def test_magnitude_ema_tracks_the_input_only_when_asked() -> None:
    generator = small_generator("t")
    layer = generator.synthesis.layers[0]
    before = float(layer.magnitude_ema)
    ws = generator.mapping(torch.randn([2, 32]))
    generator.synthesis(ws)
    assert float(layer.magnitude_ema) == before
    generator.synthesis(ws, update_emas=True)
    assert float(layer.magnitude_ema) != before
    with pytest.raises(ValueError, match="no noise inputs"):
        generator.synthesis(ws, noise=[torch.zeros(4, 4)])


def load_fixture(name: str) -> tuple[StyleGAN3Generator, dict[str, torch.Tensor]]:
    """A network and outputs recorded from NVIDIA's own StyleGAN3 code (tests/data/README.md)."""
    with safe_open(str(DATA / name), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        config = json.loads(handle.metadata()["config"])
    generator = StyleGAN3Generator(StyleGAN3Config(**config)).eval()
    state = {k.removeprefix("state."): v for k, v in tensors.items() if k.startswith("state.")}
    load_strict(generator, state, name)
    return generator.requires_grad_(False), {
        k.removeprefix("io."): v for k, v in tensors.items() if k.startswith("io.")
    }


@pytest.mark.parametrize("name", ["nvidia_sg3_t.safetensors", "nvidia_sg3_r.safetensors"])
def test_outputs_match_nvidia_stylegan3(name: str) -> None:
    generator, io = load_fixture(name)
    torch.testing.assert_close(generator.mapping(io["z"]), io["ws_psi1"], atol=1e-6, rtol=0)
    torch.testing.assert_close(generator.mapping(io["z"], truncation_psi=0.7), io["ws_psi07"], atol=1e-6, rtol=0)
    scale = float(io["img_identity"].abs().max())
    torch.testing.assert_close(generator.synthesis(io["ws_psi1"]), io["img_identity"], atol=1e-5 * scale, rtol=0)
    generator.set_transform(translate=(0.1, -0.05), rotate=17.0)
    torch.testing.assert_close(generator.transform, io["transform"], atol=1e-7, rtol=0)
    transformed = generator.synthesis(io["ws_psi07"])
    torch.testing.assert_close(transformed, io["img_transformed"], atol=1e-5 * scale, rtol=0)
    assert (io["img_transformed"] - io["img_identity"]).abs().max() > 0.1 * scale  # the transform mattered


def test_r_fixture_exercises_the_clamp() -> None:
    generator, io = load_fixture("nvidia_sg3_r.safetensors")
    assert all(layer.conv_clamp == 0.5 for layer in generator.synthesis.layers)
    for layer in generator.synthesis.layers:
        layer.conv_clamp = None
    assert (generator.synthesis(io["ws_psi1"]) - io["img_identity"]).abs().max() > 1e-3
