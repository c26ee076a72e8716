"""Translation equivariance of a StyleGAN3 network as one call, what `stylegan-edit metrics eqt` does: NVIDIA's
EQ-T (arXiv:2106.12423, appendix E) on a bundled name, a checkpoint or a loaded network."""

from __future__ import annotations

from stylegan_edit.generators import StyleGAN3Generator
from stylegan_edit.metrics.equivariance import Equivariance, translation_equivariance
from stylegan_edit.workflow.checks import at_least, finite
from stylegan_edit.workflow.evaluation import NetworkSpec, load_measured


def eqt(
    network: NetworkSpec,
    *,
    num: int = 1000,
    translate_max: float = 0.125,
    seed: int = 0,
    batch_size: int = 8,
    device: str = "cpu",
) -> tuple[Equivariance, str]:
    """EQ-T in dB of `network` over `num` images (NVIDIA measures 50,000), each batch translated by a random whole
    number of pixels up to `translate_max` of the width; and the name the result records. StyleGAN2 networks are
    refused with one line: their input is a learned constant that cannot be moved."""
    at_least("num", num, 1)
    at_least("batch_size", batch_size, 1)
    translate_max = finite("translate_max", translate_max, min=1e-6, max=0.999)
    loaded, name = load_measured(network, device)
    generator = loaded.generator
    if not isinstance(generator, StyleGAN3Generator):
        raise ValueError(f"{name} is a StyleGAN2 network; EQ-T measures StyleGAN3's translated Fourier input")
    result = translation_equivariance(
        generator, num_samples=num, batch_size=batch_size, translate_max=translate_max, seed=seed
    )
    return result, name
