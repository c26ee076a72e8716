"""Community direction files, each built in its project's saved layout: InterFaceGAN `.npy` boundaries, e4e's
`.pt` directions and GANSpace `ffhq_pca.pt`, GANSpace's `.npz` components; edits equal each project's formula."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from stylegan_edit.cli.edit import apply
from stylegan_edit.editors import ComponentEdit, LinearEdit, load_direction
from stylegan_edit.files import CheckpointError
from stylegan_edit.latents import Latents, LatentSpace, load_latents
from stylegan_edit.workflow.editing import edit
from tests.conftest import TINY

pytestmark = pytest.mark.usefixtures("one_thread")

W_DIM, NUM_WS, COMPONENTS = TINY.w_dim, TINY.num_ws, 6


def run(args: list[object]) -> Result:
    return CliRunner().invoke(apply, [str(a) for a in args])


def one_line_error(result: Result, text: str) -> None:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert text in result.output and len(result.output.strip().splitlines()) == 1, result.output


def unit_rows(rows: int, seed: int) -> np.ndarray:
    """Orthonormal rows, as PCA components are."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((W_DIM, rows)))
    return q.T


@pytest.fixture
def codes(tmp_path: Path) -> tuple[Path, torch.Tensor]:
    """Two W+ codes with distinct layers, saved as a latents file."""
    tensor = torch.randn(2, NUM_WS, W_DIM, generator=torch.Generator().manual_seed(5))
    path = tmp_path / "projected.safetensors"
    Latents(tensor, LatentSpace.W_PLUS).save(path)
    return path, tensor


@pytest.fixture
def boundary(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """An InterFaceGAN boundary: `[1, w_dim]` float64 of unit norm, as train_boundary.py saves it."""
    normal = unit_rows(1, 0)
    path = tmp_path / "age_boundary.npy"
    np.save(path, normal)
    return path, normal


@pytest.fixture
def e4e_pca(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """e4e's ganspace_pca/ffhq_pca.pt: `mean [1, w_dim]`, `comp [C, 1, w_dim]` (unit rows), `std [C]`."""
    gen = torch.Generator().manual_seed(3)
    pca = {
        "mean": torch.randn(1, W_DIM, generator=gen),
        "comp": torch.from_numpy(unit_rows(COMPONENTS, 1)).float().reshape(COMPONENTS, 1, W_DIM),
        "std": torch.rand(COMPONENTS, generator=gen) * 2 + 0.5,
    }
    path = tmp_path / "ffhq_pca.pt"
    torch.save(pca, path)
    return path, pca


def test_interfacegan_boundary_through_apply_is_code_plus_strength_times_n(
    tmp_path: Path, tiny_checkpoint: Path, codes: tuple[Path, torch.Tensor], boundary: tuple[Path, np.ndarray]
) -> None:
    (latents_path, code), (boundary_path, normal) = codes, boundary
    n = torch.from_numpy(normal.astype(np.float32))
    base = ["--direction", boundary_path, "--latents", latents_path, "--network", tiny_checkpoint]
    result = run([*base, "--strength", "3", "--outdir", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    edited, meta = load_latents(tmp_path / "out" / "edited.safetensors")
    assert meta["direction"] == "age_boundary"
    assert edited.space is LatentSpace.W_PLUS and torch.equal(edited.tensor, code + 3.0 * n)
    layered = run([*base, "--strength", "-2", "--layers", "1-2", "--outdir", tmp_path / "layers"])
    assert layered.exit_code == 0, layered.output
    only, _ = load_latents(tmp_path / "layers" / "edited.safetensors")
    expected = code.clone()
    expected[:, 1:3] += -2.0 * n
    assert torch.equal(only.tensor, expected)
    w = Latents(code[:, 0], LatentSpace.W)
    assert torch.equal(edit(w, str(boundary_path), 1.5).tensor, code[:, 0] + 1.5 * n)  # W stays W


def test_e4e_interfacegan_directions_w_and_per_layer(tmp_path: Path, tiny_generator: object) -> None:
    gen = torch.Generator().manual_seed(7)
    age = torch.nn.functional.normalize(torch.randn(1, W_DIM, generator=gen), dim=1)  # e4e's age.pt / smile.pt
    pose = torch.nn.functional.normalize(torch.randn(1, NUM_WS, W_DIM, generator=gen), dim=2)  # e4e's pose.pt
    torch.save(age, tmp_path / "age.pt")
    torch.save(pose, tmp_path / "pose.pt")
    latent = torch.randn(3, NUM_WS, W_DIM, generator=gen)  # e4e's codes: W+ from the encoder
    for name, direction in (("age", age), ("pose", pose)):
        loaded = load_direction(tmp_path / f"{name}.pt", generator=tiny_generator)  # type: ignore[arg-type]
        assert loaded.method == "e4e-interfacegan" and loaded.name == name
        edited = edit(Latents(latent, LatentSpace.W_PLUS), loaded, -2.5, generator=tiny_generator)  # type: ignore[arg-type]
        assert torch.allclose(edited.tensor, latent + -2.5 * direction, atol=1e-6, rtol=0)  # apply_interfacegan
    assert load_direction(tmp_path / "pose.pt").space is LatentSpace.W_PLUS


def e4e_ganspace(pca: dict[str, torch.Tensor], latent: torch.Tensor, idx: int, start: int, end: int, strength: float):
    """e4e's editings/ganspace.py `edit` for one W+ latent `[num_ws, w_dim]`, written from its published formula."""
    w_coord = torch.sum((latent - pca["mean"])[0].reshape(-1) * pca["comp"][idx].reshape(-1)) / pca["std"][idx]
    delta = (strength - w_coord) * pca["comp"][idx] * pca["std"][idx]
    padded = torch.zeros(latent.shape)
    padded[start:end] += delta.repeat(end - start, 1)
    return latent + padded


def test_e4e_ganspace_pca_sets_the_coordinate(
    tmp_path: Path, tiny_checkpoint: Path, codes: tuple[Path, torch.Tensor], e4e_pca: tuple[Path, dict]
) -> None:
    (latents_path, code), (pca_path, pca) = codes, e4e_pca
    base = ["--direction", f"{pca_path}#4", "--latents", latents_path, "--network", tiny_checkpoint]
    result = run([*base, "--strength", "5", "--layers", "2-4", "--outdir", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    edited, meta = load_latents(tmp_path / "out" / "edited.safetensors")
    assert meta["direction"] == "ffhq_pca#4"
    expected = torch.stack([e4e_ganspace(pca, latent, 4, 2, 5, 5.0) for latent in code])
    assert torch.allclose(edited.tensor, expected, atol=1e-5, rtol=0)
    assert torch.equal(edited.tensor[:, [0, 1, 5]], code[:, [0, 1, 5]])
    axis = load_direction(f"{pca_path}#4")
    w = Latents(code[:, 0], LatentSpace.W)
    at_five = ComponentEdit(axis, 5.0)(w).tensor
    coordinate = (at_five - pca["mean"][0]) @ pca["comp"][4, 0] / pca["std"][4]
    assert torch.allclose(coordinate, torch.full((2,), 5.0), atol=1e-4)  # a W code's coordinate is set to 5
    moved = edit(w, axis, 0.0)  # strength 0 moves onto the mean's coordinate: not linear
    assert moved.space is LatentSpace.W and not torch.allclose(moved.tensor, w.tensor)
    whole = torch.stack([e4e_ganspace(pca, latent.expand(NUM_WS, -1), 4, 0, NUM_WS, 0.0) for latent in w.tensor])
    assert torch.allclose(moved.to_w_plus(NUM_WS).tensor, whole, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="sets a coordinate; use ComponentEdit"):
        LinearEdit(axis, 1.0)(w)
    axis.save(tmp_path / "axis.safetensors")  # a native copy keeps the semantics
    again = load_direction(tmp_path / "axis.safetensors")
    assert again.centre is not None and torch.equal(
        ComponentEdit(again, 2.0)(w).tensor, ComponentEdit(axis, 2.0)(w).tensor
    )


def test_ganspace_npz_moves_in_standard_deviations(tmp_path: Path, tiny_generator: object) -> None:
    rng = np.random.default_rng(2)
    comp = unit_rows(COMPONENTS, 4).astype(np.float32).reshape(COMPONENTS, 1, W_DIM)
    stdev = (rng.random(COMPONENTS) + 0.5).astype(np.float32)
    arrays: dict[str, Any] = {  # decomposition.py's dump, StyleGAN2 with --use_w: latents of shape [1, w_dim]
        "act_comp": comp,
        "act_mean": rng.standard_normal((1, W_DIM)).astype(np.float32),
        "act_stdev": stdev,
        "lat_comp": comp,
        "lat_mean": rng.standard_normal((1, W_DIM)).astype(np.float32),
        "lat_stdev": stdev,
        "var_ratio": np.full(COMPONENTS, 0.1, np.float32),
        "random_stdevs": np.ones(COMPONENTS, np.float32),
    }
    path = tmp_path / "stylegan2-ffhq_style_ipca_c6_n1000_w.npz"
    np.savez_compressed(path, **arrays)
    code = torch.from_numpy(rng.standard_normal((2, NUM_WS, W_DIM)).astype(np.float32))
    edited = edit(Latents(code, LatentSpace.W_PLUS), f"{path}#2", 1.5, layers=[0, 1, 2], generator=tiny_generator)  # type: ignore[arg-type]
    expected = code.clone()
    delta = torch.from_numpy(comp[2] * 1.5 * stdev[2])  # notebook_utils: z[i] + lat_comp * sigma * lat_stdev
    for i in range(0, 3):
        expected[:, i] = expected[:, i] + delta
    assert torch.allclose(edited.tensor, expected, atol=1e-6, rtol=0)
    arrays["lat_stdev"] = np.ones(COMPONENTS, np.float32)  # GANSpace's Z decomposition writes ones
    np.savez_compressed(tmp_path / "z.npz", **arrays)
    assert load_direction(f"{tmp_path / 'z.npz'}#0").space is LatentSpace.Z


def test_wrong_width_and_bad_component_are_one_line(
    tmp_path: Path, tiny_checkpoint: Path, codes: tuple[Path, torch.Tensor], e4e_pca: tuple[Path, dict]
) -> None:
    (latents_path, _), (pca_path, _) = codes, e4e_pca
    np.save(tmp_path / "ffhq_age_w_boundary.npy", unit_rows(1, 0)[:, :8].repeat(64, axis=1))  # [1, 512]
    torch.save(torch.randn(1, 18, W_DIM), tmp_path / "pose.pt")
    base = ["--latents", latents_path, "--network", tiny_checkpoint, "--strength", "1", "--outdir", tmp_path / "o"]
    one_line_error(
        run(["--direction", tmp_path / "ffhq_age_w_boundary.npy", *base]),
        "ffhq_age_w_boundary.npy holds a 512-d direction, but the generator's W is 16-d",
    )
    one_line_error(
        run(["--direction", tmp_path / "pose.pt", *base]),
        "pose.pt holds 18 per-layer vectors, but the generator has 6 W+ layers",
    )
    one_line_error(run(["--direction", f"{pca_path}#6", *base]), "no component 6; the file holds 6 (0-5)")
    one_line_error(run(["--direction", pca_path, *base]), "holds 6 components; pick one as")
    one_line_error(run(["--direction", f"{pca_path}#x", *base]), "must be a whole number")
    one_line_error(run(["--direction", f"{tmp_path / 'pose.pt'}#0", *base]), "holds one direction")
    assert not (tmp_path / "o").exists()


def test_hostile_and_broken_files_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return os.system, (f"touch {marker}",)

    torch.save({"comp": Payload(), "mean": torch.zeros(1), "std": torch.ones(1)}, tmp_path / "ffhq_pca.pt")
    with pytest.raises(CheckpointError, match=r"ffhq_pca\.pt: refusing to load global posix\.system"):
        load_direction(f"{tmp_path / 'ffhq_pca.pt'}#0")
    assert not marker.exists()
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 truncated")
    np.savez(tmp_path / "projected_w.npz", w=np.zeros((1, NUM_WS, W_DIM), np.float32))  # latents, not components
    torch.save({"state_dict": {}, "opts": {}}, tmp_path / "e4e_ffhq_encode.pt")
    for name, text in (
        ("objects.npy", "objects.npy is not a readable .npy array"),
        ("cut.pt", "cut.pt is"),
        ("projected_w.npz#0", "not a GANSpace component file: no lat_comp, lat_mean, lat_stdev (it holds w)"),
        ("e4e_ffhq_encode.pt", "neither a direction tensor nor e4e's GANSpace dict"),
        ("missing.npy", "missing.npy: no such direction file"),
    ):
        with pytest.raises(CheckpointError, match=re.escape(text)) as caught:
            load_direction(f"{tmp_path}/{name}")
        assert "\n" not in str(caught.value)


def test_arrays_claiming_more_than_the_file_holds_are_refused_before_allocation(tmp_path: Path) -> None:
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**20, 2**20)})
    claim = header.getvalue() + b"\0" * 64  # 4 TiB claimed, 64 bytes held
    (tmp_path / "huge.npy").write_bytes(claim)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        for key in ("lat_comp", "lat_mean", "lat_stdev"):
            archive.writestr(f"{key}.npy", claim)
    with pytest.raises(CheckpointError, match=r"huge\.npy: the array claims shape .* more than the file holds"):
        load_direction(tmp_path / "huge.npy")
    with pytest.raises(CheckpointError, match=r"huge\.npz: lat_comp claims shape .* more than the file holds"):
        load_direction(f"{tmp_path / 'huge.npz'}#0")
