"""The StyleGAN2 generator: mapping + synthesis, with NVIDIA's parameter names (arXiv:1912.04958)."""

from __future__ import annotations

from stylegan_edit.generators.config import GeneratorConfig
from stylegan_edit.generators.mapping import MappedGenerator
from stylegan_edit.generators.synthesis import SynthesisNetwork


class Generator(MappedGenerator):
    """`G(z) = G.synthesis(G.mapping(z))`; state dict keys equal NVIDIA's `G_ema` keys."""

    config: GeneratorConfig
    synthesis: SynthesisNetwork

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.synthesis = SynthesisNetwork(config)
        self._add_mapping()
