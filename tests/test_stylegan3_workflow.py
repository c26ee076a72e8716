"""Everything downstream of a StyleGAN3 generator (arXiv:2106.12423): generate with translate / rotate, truncation
and style mixing, W / W+ projection without noise, SeFa / GANSpace / InterFaceGAN directions that know their family,
blending and interpolation by layer index and sampling rate, encoder training, the metrics, the editor's handlers,
and the CLI's one-line refusals of what StyleGAN3 (or StyleGAN2) cannot do."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from stylegan_edit.cli.main import cli
from stylegan_edit.editors import GANSpace, InterFaceGAN, SeFa, load_direction, sample_and_score, style_layers
from stylegan_edit.editors.sampling import sample_latents
from stylegan_edit.editors.sefa import modulation_matrix
from stylegan_edit.formats.native import load_generator, save_network
from stylegan_edit.generators import Generator, StyleGAN3Config, StyleGAN3Generator
from stylegan_edit.images import to_pil
from stylegan_edit.invert.projector import Projector
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.metrics.equivariance import integer_shift
from stylegan_edit.metrics.ppl import perceptual_path_length
from stylegan_edit.metrics.separability import measure_separability
from stylegan_edit.workflow import blend, encode, generate, interpolate, project, render, style_mix
from stylegan_edit.workflow.editing import transformed
from stylegan_edit.workflow.mixing import blend_shares
from tests.conftest import TINY_ENCODER

pytestmark = pytest.mark.usefixtures("isolated")

# 14 layers (num_ws 16) at sampling rates 16 (input, L0-L4) and 32 (L5-L14); output_scale 1 gives images of
# about 0.4 spread, so differences in the tests are far above float rounding.
TINY3 = StyleGAN3Config(img_resolution=32, z_dim=16, w_dim=16, channel_base=512, channel_max=16, output_scale=1.0)


def make_sg3(seed: int = 0) -> StyleGAN3Generator:
    torch.manual_seed(seed)
    generator = StyleGAN3Generator(TINY3).eval()
    with torch.no_grad():
        for layer in generator.synthesis.layers:
            layer.bias.normal_(0, 0.1)
        generator.mapping.w_avg.normal_()
    return generator.requires_grad_(False)


@pytest.fixture
def sg3() -> StyleGAN3Generator:
    return make_sg3()


@pytest.fixture
def sg3_file(tmp_path: Path, sg3: StyleGAN3Generator) -> Path:
    path = tmp_path / "sg3.safetensors"
    save_network(path, sg3)
    return path


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result: Result, text: str) -> None:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert text in result.output and len(result.output.strip().splitlines()) == 1, result.output


def usage_error(result: Result, text: str) -> None:
    """A refusal while parsing: exit 2, the usage lines, then one `Error:` line naming the problem."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and lines[-1].startswith("Error:") and text in lines[-1], result.output


def interior_errors(moved: torch.Tensor, reference: torch.Tensor, reach: int) -> dict[tuple[int, int], float]:
    """Mean squared difference between `moved` and `reference` shifted by every (dx, dy) up to `reach` px, over
    the pixels at least `reach` from the border (what translation brings in from outside is unknown)."""
    errors = {}
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            shifted, mask = integer_shift(reference, dx, dy)
            mask[..., :reach, :] = 0
            mask[..., -reach:, :] = 0
            mask[..., :reach] = 0
            mask[..., -reach:] = 0
            errors[(dx, dy)] = float(((moved - shifted).square() * mask).sum() / mask.sum())
    return errors


def test_translate_moves_the_content_by_as_many_pixels_and_rotate_360_changes_nothing(
    sg3: StyleGAN3Generator,
) -> None:
    """Measured on this net: the right shift (5, -3) leaves 8e-7 mean squared error, the nearest wrong one 4e-5,
    no shift 1e-3; rotating by 360 degrees differs by 4e-7 at most."""
    seeds = [0, 1, 2]
    reference = generate(sg3, seeds).images
    moved = generate(sg3, seeds, translate=(5 / 32, -3 / 32)).images
    errors = interior_errors(moved, reference, reach=7)
    ranked = sorted(errors, key=errors.__getitem__)
    assert ranked[0] == (5, -3)
    assert errors[(5, -3)] < 0.1 * errors[ranked[1]] and errors[(5, -3)] < 0.01 * errors[(0, 0)]
    assert torch.equal(sg3.transform, torch.eye(3))  # a shared generator is left untransformed

    torch.testing.assert_close(generate(sg3, seeds, rotate=360.0).images, reference, atol=2e-5, rtol=0)
    turned = generate(sg3, seeds, rotate=90.0).images
    assert (turned - reference).abs().mean() > 0.01  # measured 0.048
    with pytest.raises(RuntimeError, match="inside"), transformed(sg3, (0.1, 0.0), 30.0):
        assert not torch.equal(sg3.transform, torch.eye(3))
        raise RuntimeError("an error inside")
    assert torch.equal(sg3.transform, torch.eye(3))  # restored after an error too
    with pytest.raises(ValueError, match="translate x must be a finite number"):
        generate(sg3, seeds, translate=(math.nan, 0.0))


def test_render_style_mixing_and_truncation_use_all_16_codes(sg3: StyleGAN3Generator) -> None:
    assert sg3.num_ws == 16
    generated = generate(sg3, [3, 4], translate=(0.1, 0.0))
    again = render(sg3, generated.latents, translate=(0.1, 0.0))
    torch.testing.assert_close(again, generated.images, atol=1e-6, rtol=0)  # the latents reproduce the images
    mean_face = generate(sg3, [3, 4], trunc=0.0).images
    torch.testing.assert_close(mean_face[0], mean_face[1], atol=1e-5, rtol=0)
    partial = generate(sg3, [3, 4], trunc=0.0, trunc_cutoff=8).images
    assert (partial[0] - partial[1]).abs().max() > 1e-2  # the fine layers still differ
    # Taking every layer from the column seed gives the column seed's own image in each row.
    grid = np.asarray(style_mix(sg3, [3], [4], list(range(16))), dtype=np.float32)
    tile = 32
    assert np.abs(grid[tile:, tile:] - grid[:tile, tile:]).max() <= 1
    with pytest.raises(ValueError, match="the generator has 16 layers"):
        style_mix(sg3, [3], [4], [16])


def test_translate_and_rotate_are_refused_for_stylegan2(tiny_generator: Generator) -> None:
    with pytest.raises(ValueError, match="StyleGAN3's Fourier input; this StyleGAN2 network"):
        generate(tiny_generator, [0], translate=(0.1, 0.0))
    with pytest.raises(ValueError, match="StyleGAN3's Fourier input"):
        render(tiny_generator, Latents(torch.zeros(1, 16), LatentSpace.W), rotate=10.0)
    assert generate(tiny_generator, [0], translate=(0.0, 0.0), rotate=0.0).images.shape == (1, 3, 16, 16)


@pytest.mark.parametrize(("space", "preset", "steps"), [("w", "lbfgs", 10), ("w+", "nvidia", 20)])
def test_projection_in_w_and_w_plus_reduces_the_loss(
    sg3: StyleGAN3Generator, space: str, preset: str, steps: int
) -> None:
    """Measured: W with L-BFGS 0.040 -> 0.004 mean squared error in 15 steps, W+ with NVIDIA's Adam 0.044 ->
    0.008 in 30; no noise maps, no noise regulariser."""
    with torch.no_grad():
        target = sg3.synthesis(sg3.mapping(torch.randn([1, 16], generator=torch.Generator().manual_seed(9))))
    result = project(sg3, target, space=space, preset=preset, num_steps=steps, loss="mse", align=False)
    history = result.loss_history[:, 0]
    assert float(history[-1]) < 0.5 * float(history[0])
    assert result.noise == [] and result.objective == "1*mse"
    assert result.latents.space is LatentSpace(space) and result.num_ws == 16


def test_noise_optimisation_is_refused_and_encoder_starts_work(sg3: StyleGAN3Generator) -> None:
    target = generate(sg3, [11]).images
    with pytest.raises(ValueError, match="StyleGAN3 has no noise inputs to optimise"):
        project(sg3, target, noise=True, num_steps=2, loss="mse", align=False)
    with pytest.raises(ValueError, match="StyleGAN3 has no noise inputs to optimise"):
        next(Projector(optimize_noise=True, perceptual_weight=0, mse_weight=1).steps(sg3, target))
    from stylegan_edit.encoders import encoder_for

    encoder = encoder_for(sg3, "psp", num_w_samples=500, **TINY_ENCODER)  # type: ignore[arg-type]
    assert encoder.config.num_ws == 16
    encoded = encode(sg3, target, encoder=encoder, align=False)
    assert encoded.latents.tensor.shape == (1, 16, 16)
    refined = project(sg3, target, preset="encoder-lbfgs", encoder=encoder, num_steps=6, loss="mse", align=False)
    assert float(refined.loss_history[-1, 0]) < float(refined.loss_history[0, 0])


def test_sefa_factorises_the_alias_free_layers_modulations_only(sg3: StyleGAN3Generator) -> None:
    layers = style_layers(sg3)
    assert [layer.index for layer in layers] == list(range(1, 16))  # index 0 drives the Fourier input alone
    assert [layer.is_torgb for layer in layers] == [False] * 14 + [True]
    assert layers[5].resolution == 32 and layers[0].resolution == 16  # output sampling rates
    matrix, _ = modulation_matrix(sg3)
    rows = [layer.affine.weight * layer.affine.weight_gain for layer in sg3.synthesis.layers[:-1]]
    expected = torch.cat(rows).double()
    torch.testing.assert_close(matrix, expected / expected.norm(dim=1, keepdim=True))
    sefa = SeFa(n_components=3).fit(sg3)
    _, eigenvectors = torch.linalg.eigh(matrix.T @ matrix)
    assert abs(float(sefa.components_[0].double() @ eigenvectors[:, -1])) > 0.999
    assert sefa.layers_ == tuple(range(1, 15))
    # The input's affine map (a rotation and translation of the Fourier features) is no style modulation.
    with torch.no_grad():
        sg3.synthesis.input.affine.weight.normal_()
    torch.testing.assert_close(SeFa(n_components=3).fit(sg3).components_, sefa.components_)
    with torch.no_grad():
        sg3.synthesis.layers[-1].affine.weight.normal_()
    torch.testing.assert_close(SeFa(n_components=3).fit(sg3).components_, sefa.components_)
    with_torgb = SeFa(n_components=3, include_torgb=True).fit(sg3)
    assert with_torgb.layers_ == tuple(range(1, 16)) and not torch.allclose(with_torgb.components_, sefa.components_)
    with pytest.raises(ValueError, match="index 0 drives the Fourier input"):
        SeFa(layers=[0]).fit(sg3)


def test_directions_record_the_stylegan3_signature_and_check_it(
    tmp_path: Path, sg3: StyleGAN3Generator, tiny_generator: Generator
) -> None:
    ganspace = GANSpace(n_components=2, layers=[0, 1, 2]).fit(sample_latents(sg3, 300), generator=sg3)
    path = tmp_path / "pc0.safetensors"
    ganspace.directions_[0].save(path)
    loaded = load_direction(path, generator=sg3)
    assert loaded.generator is not None and loaded.generator.config == TINY3 and loaded.generator.family == "stylegan3"
    assert loaded.num_ws == 16 and torch.equal(loaded.vector, ganspace.components_[0])
    with pytest.raises(ValueError, match="generator class stylegan3 vs stylegan2"):
        load_direction(path, generator=tiny_generator)
    sefa_path = tmp_path / "sefa0.safetensors"
    SeFa(n_components=1).fit(tiny_generator).directions_[0].save(sefa_path)
    with pytest.raises(ValueError, match="generator class stylegan2 vs stylegan3"):
        load_direction(sefa_path, generator=sg3)


def test_interfacegan_with_the_attribute_classifier(sg3: StyleGAN3Generator) -> None:
    """The classifier's scores of SG3 renders line up with the latents (re-scored independently), and the fitted
    direction points from the low-scored samples to the high-scored ones."""
    from stylegan_edit.editors.sampling import attribute_scorer

    scorer = attribute_scorer(["smile"])
    samples = sample_and_score(sg3, scorer, 40, seed=2, batch_size=20)
    again = scorer(render(sg3, sample_latents(sg3, 40, seed=2)))
    torch.testing.assert_close(samples.scores, again, atol=1e-4, rtol=0)
    finder = InterFaceGAN(extreme_fraction=0.25, validation_fraction=0).fit(
        samples.latents, samples.scores, names=["smile"], generator=sg3
    )
    direction = finder.directions_[0]
    assert direction.generator is not None and direction.generator.family == "stylegan3"
    order = samples.scores[:, 0].argsort()
    projections = samples.latents.tensor @ direction.vector
    assert float(projections[order[-10:]].mean()) > float(projections[order[:10]].mean())
    assert finder.accuracies_[0] > 0.8


def test_blend_by_layer_index_and_sampling_rate_and_interpolate() -> None:
    assert [spec.out_sampling_rate for spec in TINY3.layers()] == [16] * 5 + [32] * 10
    model_a, model_b = make_sg3(0), make_sg3(1)
    ws = model_a.mapping(torch.randn([2, 16], generator=torch.Generator().manual_seed(4)))
    state_b = model_b.state_dict()
    for swap in ({"swap_layer": 0}, {"swap_res": 4}, {"swap_res": 16}):
        all_b = blend(model_a, model_b, **swap, mapping_from="b")  # type: ignore[arg-type]
        assert all(torch.equal(v, state_b[k]) for k, v in all_b.state_dict().items()), swap
    torch.testing.assert_close(all_b.synthesis(ws), model_b.synthesis(ws), atol=0, rtol=0)
    all_a = blend(model_a, model_b, swap_res=64)
    assert all(torch.equal(v, model_a.state_dict()[k]) for k, v in all_a.state_dict().items())

    by_rate = blend(model_a, model_b, swap_res=32)  # rate-16 parts (input, L0-L4) from A, rate-32 ones from B
    synthesis = by_rate.synthesis
    assert torch.equal(synthesis.input.freqs, model_a.synthesis.input.freqs)
    assert torch.equal(synthesis.layers[4].weight, model_a.synthesis.layers[4].weight)
    assert torch.equal(synthesis.layers[5].affine.weight, model_b.synthesis.layers[5].affine.weight)
    assert torch.equal(by_rate.mapping.fc0.weight, model_a.mapping.fc0.weight)
    by_layer = blend(model_a, model_b, swap_layer=3)  # ws[0:3]: input, L0, L1 from A
    assert torch.equal(by_layer.synthesis.layers[1].weight, model_a.synthesis.layers[1].weight)
    assert torch.equal(by_layer.synthesis.layers[2].weight, model_b.synthesis.layers[2].weight)
    shares = blend_shares(model_a, swap_layer=8, transition_width=4)
    assert list(shares)[:2] == ["input", "L0_36_16"] and len(shares) == 16
    assert [shares[name] for name in list(shares)[5:11]] == [0.0, 0.125, 0.375, 0.625, 0.875, 1.0]
    rate_shares = blend_shares(model_a, swap_res=32, transition_width=2)
    assert set(rate_shares.values()) == {0.25, 0.75}  # one octave apart, ramped across the boundary

    for alpha, model in ((0.0, model_a), (1.0, model_b)):
        mixed = interpolate(model_a, model_b, alpha=alpha)
        assert all(torch.equal(v, model.state_dict()[k]) for k, v in mixed.state_dict().items())
    half = interpolate(model_a, model_b, alpha=0.5, resolution_alphas={16: 0.0})
    assert torch.equal(half.synthesis.layers[0].weight, model_a.synthesis.layers[0].weight)
    expected = (model_a.synthesis.layers[9].weight + model_b.synthesis.layers[9].weight) / 2
    torch.testing.assert_close(half.synthesis.layers[9].weight, expected)
    with pytest.raises(ValueError, match="no layer at sampling rate 64"):
        interpolate(model_a, model_b, resolution_alphas={64: 1.0})


def test_blend_refuses_mixed_families_and_sg2_layer_swaps(tiny_generator: Generator) -> None:
    sg3 = make_sg3()
    with pytest.raises(ValueError, match="the first is stylegan2, the second stylegan3"):
        blend(tiny_generator, sg3, swap_res=8)
    with pytest.raises(ValueError, match="the first is stylegan3, the second stylegan2"):
        interpolate(sg3, tiny_generator)
    with pytest.raises(ValueError, match="swapping by layer index is for StyleGAN3"):
        blend(tiny_generator, tiny_generator, swap_layer=2)
    with pytest.raises(ValueError, match=r"swap layer must be in \[0, 16\]"):
        blend(sg3, sg3, swap_layer=17)
    with pytest.raises(ValueError, match="exactly one of swap_res and swap_layer"):
        blend(sg3, sg3, swap_res=16, swap_layer=2)


def test_metrics_run_on_stylegan3(sg3: StyleGAN3Generator) -> None:
    """PPL has no noise to share between a pair (the distance of a pair is the latents' doing alone), so it does
    not depend on epsilon much for a smooth generator; separability scores Z and W of the same samples."""

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).square().mean(dim=(1, 2, 3))

    fine = perceptual_path_length(sg3, distance, 6, epsilon=1e-3, batch_size=6)
    coarse = perceptual_path_length(sg3, distance, 6, epsilon=3e-3, batch_size=6)
    assert 0 < fine.mean < math.inf and abs(coarse.mean / fine.mean - 1) < 0.2
    assert perceptual_path_length(sg3, distance, 6, epsilon=1e-3, batch_size=6).mean == fine.mean

    def brightness(images: torch.Tensor) -> torch.Tensor:
        return torch.stack([images.mean(dim=(1, 2, 3)), images[:, 0].mean(dim=(1, 2))], dim=1)

    spaces = measure_separability(sg3, brightness, 40, names=["bright", "red"], batch_size=20)
    assert set(spaces) == {LatentSpace.Z, LatentSpace.W}
    for result in spaces.values():
        assert 1.0 <= result.score <= 4.0 and set(result.entropies) == {"bright", "red"}


def test_cli_generate_translates_and_refuses_it_for_stylegan2(
    tmp_path: Path, sg3_file: Path, sg3: StyleGAN3Generator, tiny_checkpoint: Path
) -> None:
    out = tmp_path / "gen"
    result = run(
        "generate", "--network", sg3_file, "--seeds", "2", "--translate", "0.125,0", "--rotate", 10, "--outdir", out
    )
    assert result.exit_code == 0, result.output
    expected = to_pil(generate(sg3, [2], translate=(0.125, 0.0), rotate=10.0).images)[0]
    assert np.array_equal(np.asarray(Image.open(out / "seed0002.png")), np.asarray(expected))
    refused = run("generate", "--network", tiny_checkpoint, "--translate", "0.1,0", "--outdir", tmp_path / "no")
    one_line_error(refused, "translate and rotate move StyleGAN3's Fourier input")
    assert not (tmp_path / "no").exists()
    usage_error(run("generate", "--network", tiny_checkpoint, "--translate", "0.1"), "not a pair X,Y")


def test_cli_project_refuses_noise_and_blends_by_layer(tmp_path: Path, sg3_file: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.RandomState(0).randint(0, 256, (32, 32, 3), dtype=np.uint8)).save(photo)
    refused = run("project", photo, "--network", sg3_file, "--noise", "--steps", 2, "--outdir", tmp_path / "p")
    one_line_error(refused, "StyleGAN3 has no noise inputs to optimise")
    other = tmp_path / "b.safetensors"
    model_b = make_sg3(1)
    save_network(other, model_b)
    result = run("blend", sg3_file, other, "--swap-layer", 6, "--outdir", tmp_path / "blend")
    assert result.exit_code == 0, result.output
    assert "input: 0.00, L0_36_16: 0.00" in result.output and "L4_36_16: 0.00, L5_52_16: 1.00" in result.output
    blended = load_generator(tmp_path / "blend" / "blended.safetensors")
    assert isinstance(blended, StyleGAN3Generator)
    assert torch.equal(blended.synthesis.layers[5].weight, model_b.synthesis.layers[5].weight)
    usage_error(run("blend", sg3_file, other, "--outdir", tmp_path / "x"), "exactly one of --swap-res and")


def test_cli_train_encoder_on_stylegan3(tmp_path: Path, sg3_file: Path) -> None:
    args = ["--network", sg3_file, "--no-progress", "--device", "cpu", "--synthetic-fraction", 1, "--arch", "e4e"]
    result = run("train-encoder", *args, "--outdir", "run", "--steps", 2, "--batch", 2)
    assert result.exit_code == 0, result.output
    from stylegan_edit.encoders import read_encoder

    encoder = read_encoder(tmp_path / "run" / "encoder-0000002.safetensors")
    assert (encoder.config.num_ws, encoder.config.img_resolution) == (16, 32)
    encoder.check_generator(load_generator(sg3_file))  # the shape and the fingerprint of the SG3 network


def test_the_editor_runs_on_a_stylegan3_network(tmp_path: Path, sg3_file: Path) -> None:
    pytest.importorskip("gradio", reason="the editor needs the ui extra")
    from stylegan_edit.ui.editor import Editor
    from stylegan_edit.ui.page import build_page

    other = tmp_path / "b.safetensors"
    save_network(other, make_sg3(1))
    editor = Editor(network=str(sg3_file), device="cpu")
    build_page(editor)
    photo = tmp_path / "face.png"
    editor.seed_photo(3).save(photo)
    session = editor.invert(photo, align=False, preset="lbfgs", num_steps=2)
    assert session.inversion.latents.tensor.shape == (1, 16, 16)
    assert all(direction is None for direction in editor.directions(session).values())  # bundled: SynthFaces SG2
    session = editor.find_directions(session, "sefa", 2)
    preview = editor.preview(session, {"sefa0": 2.0}, layers=(1, 8), truncation=0.8, blend_with=str(other), swap_res=32)
    assert preview.image.size == (32, 32) and preview.blended is not None
    assert not np.array_equal(np.asarray(preview.image), np.asarray(preview.blended))
    saved = editor.save(session, preview, tmp_path / "downloads")
    assert any(path.name == "blended.png" for path in saved)


def test_metrics_eqt_cli_measures_a_stylegan3_network_and_refuses_stylegan2(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = StyleGAN3Config(img_resolution=32, z_dim=32, w_dim=32, channel_base=2048, channel_max=64)
    save_network(tmp_path / "sg3.safetensors", StyleGAN3Generator(config))
    runner = CliRunner()
    result = runner.invoke(
        cli, ["metrics", "eqt", "--network", str(tmp_path / "sg3.safetensors"), "--num", "4", "--json",
              str(tmp_path / "eqt.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    measured = json.loads((tmp_path / "eqt.json").read_text())["eqt_db"]
    assert measured > 40 and f"EQ-T {measured:.2f} dB" in result.output
    refused = runner.invoke(cli, ["metrics", "eqt", "--network", "synthfaces-64", "--num", "4"])
    assert refused.exit_code != 0 and "StyleGAN2 network" in refused.output and "Traceback" not in refused.output
