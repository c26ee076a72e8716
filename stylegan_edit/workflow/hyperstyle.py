"""HyperStyle inversion for users (Alaluf et al., arXiv:2111.15666): photos -> the W encoder's codes plus per-image
generator offsets, ours or an official checkpoint's; each image's tuned generator (`weight * (1 + delta)`) is
written beside its latents as a tuned-generator file (`formats.tuned`, as pivotal tuning writes it), which
`stylegan-edit apply` renders with."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from stylegan_edit.assets import DEFAULT_NETWORK
from stylegan_edit.encoders.hyperstyle import HyperStyle, materialise
from stylegan_edit.encoders.hyperstyle_config import PAPER_ITERATIONS
from stylegan_edit.encoders.hyperstyle_files import is_hyperstyle_file, read_hyperstyle
from stylegan_edit.encoders.official.hyperstyle import OfficialHyperStyle, read_official_hyperstyle
from stylegan_edit.files import read_safetensors
from stylegan_edit.formats.native import load_network, sniff_format
from stylegan_edit.formats.tuned import portable_spec, save_tuned
from stylegan_edit.generators import Generator, Network
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.perceptual.choice import choose_loss
from stylegan_edit.perceptual.losses import PerceptualLoss
from stylegan_edit.perceptual.reconstruction import identity_metric, reconstruction_metrics
from stylegan_edit.workflow.checks import at_least
from stylegan_edit.workflow.outputs import TUNED_KEY, SavedInversion, provenance, save_inversion
from stylegan_edit.workflow.results import Inversion
from stylegan_edit.workflow.targets import Images, read_targets

AnyHyperStyle = HyperStyle | OfficialHyperStyle
TUNED_FILE = "tuned.safetensors"  # per image folder: that image's generator


def load_hyperstyle(
    spec: str | Path,
    *,
    network: str | Path | None = None,
    w_encoder: str | Path | None = None,
    device: torch.device | str = "cpu",
) -> tuple[AnyHyperStyle, str | None]:
    """A HyperStyle and the spec of the generator it tunes (None when it is an official file's decoder): our
    `.safetensors` (for `network`; default: the network its training recorded, else the default model) or an
    official `.pt` checkpoint, which needs its W encoder file `w_encoder` (e.g. `faces_w_encoder.pt`)."""
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"{spec}: no such HyperStyle file")
    if sniff_format(path) == "torch-zip":
        if w_encoder is None:
            raise ValueError(
                f"{path} is an official HyperStyle checkpoint: pass its W encoder file (faces_w_encoder.pt)"
            )
        if network is not None:
            raise ValueError("an official HyperStyle tunes the decoder inside its checkpoint; leave out the network")
        return read_official_hyperstyle(path, w_encoder, device=device), str(path.resolve())
    if w_encoder is not None:
        raise ValueError(f"{path} carries its own W encoder; a separate W encoder is for official checkpoints")
    if not is_hyperstyle_file(path):
        raise ValueError(f"{path} is not a HyperStyle file (train one with `stylegan-edit train-hyperstyle`)")
    if network is None:
        network = read_safetensors(path, what="HyperStyle file")[1].get("network")
    return read_hyperstyle(path, load_network(network, device=device).generator), str(network or DEFAULT_NETWORK)


@dataclass(frozen=True, eq=False)
class HyperStyleInversion:
    """Photos inverted by HyperStyle (tensors on the CPU).

    inversion: the W encoder's codes as latents, the final reconstructions, targets and metrics (`iterations`
    records the passes). deltas: the summed offsets per generator layer (`[N, O, I, k, k]` or None). steps: the
    reconstruction after each pass. initial / initial_metrics: the W encoder's own reconstruction and its metrics.
    generator: the base generator; base_spec: how it resolves from any folder (None when passed as an object).
    """

    inversion: Inversion
    deltas: list[Tensor | None]
    steps: list[Tensor]
    initial: Tensor
    initial_metrics: dict[str, Tensor]
    generator: Generator
    base_spec: str | None

    def tuned_generator(self, index: int) -> Generator:
        """Image `index`'s generator: the base with `weight * (1 + delta)` in every tuned layer."""
        return materialise(self.generator, self.deltas, index)


def invert_hyperstyle(
    images: Images,
    hyperstyle: AnyHyperStyle | str | Path,
    *,
    network: str | Path | None = None,
    w_encoder: str | Path | None = None,
    iterations: int = PAPER_ITERATIONS,
    perceptual: str = "auto",
    align: bool | None = None,
    face_index: int = 0,
    batch_size: int = 4,
    progress: Callable[[int, int], None] | None = None,
    device: torch.device | str = "cpu",
) -> HyperStyleInversion:
    """Invert `images` (paths, PIL images or `[N, 3, R, R]` in [-1, 1]; align and face_index as `project` reads
    them) with a HyperStyle object or file (see `load_hyperstyle` for `network` and `w_encoder`): the W encoder's
    codes, then `iterations` hypernetwork passes (official: 5). perceptual: the distance reported in the metrics.
    progress: called with (images done, total) after each batch."""
    at_least("iterations", iterations, 1)
    at_least("batch_size", batch_size, 1)
    if isinstance(hyperstyle, str | Path):
        label = str(hyperstyle)
        model, base = load_hyperstyle(hyperstyle, network=network, w_encoder=w_encoder, device=device)
    else:
        label, model, base = f"a {type(hyperstyle).__name__}", hyperstyle, None
    generator = model.generator
    base_spec = portable_spec(base) if base is not None else None
    read = read_targets(images, generator.img_resolution, align=align, face_index=face_index)
    choice = choose_loss(perceptual, Network(generator))
    parts: dict[str, list[Tensor]] = {"latents": [], "images": [], "initial": []}
    deltas: list[list[Tensor]] = [[] for _ in generator.synthesis.weight_layers()]
    steps: list[list[Tensor]] = [[] for _ in range(iterations)]
    seconds = 0.0
    for first in range(0, len(read.images), batch_size):
        began = time.perf_counter()
        result = model.invert(read.images[first : first + batch_size], iterations)
        seconds += time.perf_counter() - began
        parts["latents"].append(result.latents.tensor.cpu())
        parts["images"].append(result.images[-1].cpu())
        parts["initial"].append(result.initial.cpu())
        for k, image in enumerate(result.images):
            steps[k].append(image.cpu())
        for i, delta in enumerate(result.deltas):
            if delta is not None:
                deltas[i].append(delta.cpu())
        if progress is not None:
            progress(min(first + batch_size, len(read.images)), len(read.images))
    final, initial = torch.cat(parts["images"]), torch.cat(parts["initial"])
    inversion = Inversion(
        latents=Latents(torch.cat(parts["latents"]), LatentSpace.W_PLUS),
        images=final,
        targets=read.images,
        metrics=_metrics(final, read.images, choice.metric, generator.device),
        noise=[],
        loss=choice,
        loss_history=torch.zeros(0, len(read.images)),
        frames={},
        num_ws=generator.num_ws,
        network=base,
        encoder=label,
        encoder_arch="hyperstyle",
        iterations=iterations,
        seconds=seconds,
        notes=read.notes,
    )
    return HyperStyleInversion(
        inversion=inversion,
        deltas=[torch.cat(layer) if layer else None for layer in deltas],
        steps=[torch.cat(step) for step in steps],
        initial=initial,
        initial_metrics=_metrics(initial, read.images, choice.metric, generator.device),
        generator=generator,
        base_spec=base_spec,
    )


def _metrics(images: Tensor, targets: Tensor, metric: PerceptualLoss | None, device: torch.device) -> dict[str, Tensor]:
    measured = reconstruction_metrics(images.to(device), targets.to(device), metric)
    return {**measured, **identity_metric(images, targets)}


def save_hyperstyle_inversion(
    result: HyperStyleInversion,
    outdir: str | Path,
    *,
    sources: list[str | Path] | None = None,
    names: list[str] | None = None,
    full: bool = False,
) -> SavedInversion:
    """Write the inversion as `save_inversion` does, plus per image `<name>/tuned.safetensors`: its generator, a
    float16 delta against the base (with `full`, or a base passed as an object, the whole generator); each image's
    latents record it as `tuned_network`, and so does `projected.safetensors` when there is one image (the
    returned `tuned`; with several images apply takes an image's own latents file)."""
    saved = save_inversion(result.inversion, outdir, sources=sources, names=names)
    inversion = result.inversion
    full = full or result.base_spec is None
    made_by = {"made_by": "HyperStyle (arXiv:2111.15666)", "iterations": str(inversion.iterations)}
    tuned_paths = []
    for k, folder in enumerate(saved.folders):
        path = folder / TUNED_FILE
        save_tuned(
            path, result.tuned_generator(k), result.generator, base_spec=result.base_spec, full=full, metadata=made_by
        )
        metadata = {**provenance(inversion, k), TUNED_KEY: str(path.resolve())}
        if sources is not None:
            metadata["source"] = str(sources[k])
        inversion.latents[k].save(folder / "latents.safetensors", metadata=metadata)
        tuned_paths.append(path)
    kind = "the full generator" if full else f"a float16 delta against {result.base_spec}"
    if len(tuned_paths) != 1:
        return dataclasses.replace(saved, tuned_kind=f"{kind}, one per image folder")
    _, meta = read_safetensors(saved.combined, what="latents file")
    inversion.latents.save(saved.combined, metadata={**meta, TUNED_KEY: str(tuned_paths[0].resolve())})
    return dataclasses.replace(saved, tuned=tuned_paths[0], tuned_kind=kind)
