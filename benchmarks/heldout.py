"""What the projection and encoder benchmarks share: the network, the held-out targets and attribute agreement.

The targets are SynthFaces photo renders from the classifier's held-out seeds (10,000,000 on), which neither the
GAN (seeds 0 .. 49,999), the encoders nor the classifier trained on. Attribute agreement is the share of binary
attributes on which the bundled classifier, applied to the reconstruction, gives the ground-truth label of the
target (the classifier scores 1.000 on held-out renders, so a disagreement is the reconstruction's fault).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Network
from stylegan_edit.training.options import synthfaces_64


def open_network(spec: str | None, device: torch.device) -> tuple[Network, str]:
    """The named checkpoint; without one the bundled synthfaces-64, else a random network of its architecture."""
    from stylegan_edit.assets import DEFAULT_NETWORK, resolve_network
    from stylegan_edit.formats.native import load_network

    try:
        return load_network(resolve_network(spec), device=device), spec or DEFAULT_NETWORK
    except ValueError:
        if spec is not None:
            raise
    return random_synthfaces_network(device), "random synthfaces-64 architecture"


def random_synthfaces_network(device: torch.device) -> Network:
    """A randomly initialised G and D of the synthfaces-64 architecture, noise strengths set to 0.1."""
    options = synthfaces_64()
    return random_network_of(options.generator, options.discriminator, device)


def random_network_of(g_config: GeneratorConfig, d_config: DiscriminatorConfig, device: torch.device) -> Network:
    """Randomly initialised (seed 0) G and D in eval mode, noise strengths set to 0.1 (untrained ones are 0)."""
    torch.manual_seed(0)
    generator = Generator(g_config)
    with torch.no_grad():
        for layer in generator.synthesis.noise_layers():
            layer.noise_strength.fill_(0.1)
    generator = generator.to(device).eval().requires_grad_(False)
    discriminator = Discriminator(d_config).to(device).eval().requires_grad_(False)
    return Network(generator, discriminator)


def held_out_faces(num: int, resolution: int, *, skip: int = 0) -> tuple[Tensor, Tensor]:
    """`num` held-out photo renders `[N, 3, R, R]` in [-1, 1] and their binary labels `[N, 7]` (ATTRIBUTES order),
    after the first `skip` of them (another set, e.g. to check settings chosen on the first ones)."""
    from stylegan_edit.classifiers.train import HELD_OUT_SEED_OFFSET
    from stylegan_edit.data import SynthFaces

    faces = SynthFaces(skip + num, size=resolution, style="photo", seed_offset=HELD_OUT_SEED_OFFSET)
    items = [faces[i] for i in range(skip, skip + num)]
    return torch.stack([image for image, _ in items]), torch.stack([labels for _, labels in items])


def attribute_agreement(device: torch.device) -> Callable[[Tensor, Tensor], float] | None:
    """`agreement(images, labels)`: share of (image, attribute) pairs the classifier labels as the ground truth.

    None when the bundled classifier is not installed.
    """
    from stylegan_edit.data.factors import ATTRIBUTES

    try:
        from stylegan_edit.classifiers.attributes import load_classifier

        classifier = load_classifier(device=device)
    except (ImportError, ValueError):
        return None
    columns = [classifier.index(name) for name in ATTRIBUTES]

    def agreement(images: Tensor, labels: Tensor) -> float:
        with torch.no_grad():
            predicted = torch.cat([classifier(part.to(device))[:, columns].cpu() > 0 for part in images.split(64)])
        return float((predicted == labels.bool()).float().mean())

    return agreement
