"""Tiny networks shared by the tests: they build in milliseconds and run on CPU."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from stylegan_edit.formats.native import save_network
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

TINY = GeneratorConfig(img_resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32)
# EncoderConfig fields for a pSp / e4e encoder that builds and steps in milliseconds.
TINY_ENCODER = {
    "stem_channels": 8,
    "stage_channels": (8, 16, 16, 16),
    "stage_blocks": (1, 1, 1, 1),
    "pyramid_channels": 16,
    "head_channels": 16,
}


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread: two threads on a shared two-core machine ran ~20x slower. Modules
    take it with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give zero-initialised parameters (biases, noise strengths) non-trivial values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("noise_strength") or (name.endswith("bias") and "affine" not in name):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        for name, b in module.named_buffers():
            if name.endswith("w_avg"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.3)
    return module


def make_generator(config: GeneratorConfig = TINY, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return randomize_(Generator(config), seed).eval()  # type: ignore[return-value]


@pytest.fixture
def tiny_generator() -> Generator:
    return make_generator()


@pytest.fixture
def tiny_discriminator() -> Discriminator:
    torch.manual_seed(1)
    return Discriminator(DiscriminatorConfig(img_resolution=16, channel_base=256, channel_max=32)).eval()


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_generator: Generator, tiny_discriminator: Discriminator) -> Path:
    path = tmp_path / "tiny.safetensors"
    save_network(path, tiny_generator, tiny_discriminator)
    return path


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A private cache, no LPIPS weights (the download-free fallback), the working folder in `tmp_path`, and one
    torch thread (two threads on a shared two-core machine run far slower than one for tiny networks)."""
    monkeypatch.setenv("STYLEGAN_EDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
