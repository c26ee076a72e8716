"""What the editor's page does, as calls over the workflow API: invert a photo (the encoder, then a preset's optional
refinement), edit its latents along directions with a layer range and truncation, blend with a second generator,
and write the files the CLI writes. No Gradio here: the page (`ui.page`) only wires these to its controls."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from stylegan_edit.assets import DEFAULT_NETWORK, bundled
from stylegan_edit.editors import Direction, load_direction
from stylegan_edit.formats.native import load_generator
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.images import make_grid, save_pil, to_pil
from stylegan_edit.latents import Latents
from stylegan_edit.ui.uploads import check_direction_file
from stylegan_edit.workflow import Inversion, blend, edit, encode, fit_direction, generate, project, render
from stylegan_edit.workflow import save_inversion as write_inversion
from stylegan_edit.workflow.editing import truncate
from stylegan_edit.workflow.inversion import ProjectionEvent, ProjectionProgress, ProjectionStart

ENCODER_ONLY = "none"
"""The refinement choice that keeps the encoder's codes as they are."""
MAX_EXTRA_DIRECTIONS = 8
"""Directions loaded from files or found by GANSpace / SeFa that the page holds sliders for (the newest kept)."""

Progress = Callable[[int, int], None]
Photo = str | Path | Image.Image


@dataclass(frozen=True, eq=False)
class Session:
    """One visitor's inverted photo: the network it was inverted into (as chosen: a bundled name or a path), the
    `Inversion`, the uploaded file (None for a seed's image), the name its downloads go under, and the directions
    added to the bundled ones, by label (unique among all sliders)."""

    network: str
    inversion: Inversion
    source: str | None
    name: str
    extras: tuple[tuple[str, Direction], ...] = ()


@dataclass(frozen=True, eq=False)
class Preview:
    """An edit of a session's latents: the edited W+ `latents` `[1, num_ws, w_dim]`, its image at the generator's
    resolution, the same latents rendered by the blended generator (None without a blend), and what was done."""

    latents: Latents
    image: Image.Image
    blended: Image.Image | None
    settings: dict[str, object]


class Editor:
    """The handlers behind the page, with the generators, blends and bundled directions loaded once.

    network: the generator the page starts with (a bundled name or a checkpoint; None: the default model);
    encoder: `psp`, `e4e` or an encoder checkpoint; device: where the models run.
    """

    def __init__(self, *, network: str | None = None, encoder: str = "psp", device: str = "cpu") -> None:
        self.network = network or DEFAULT_NETWORK
        self.encoder = encoder
        self.device = device
        self.direction_names = tuple(bundled("direction"))
        self._generators: dict[str, AnyGenerator] = {}
        self._blends: dict[tuple[str, str, int], AnyGenerator] = {}
        self._directions: dict[tuple[str, str], Direction | None] = {}

    def generator(self, network: str | None = None) -> AnyGenerator:
        """The generator of `network` (a bundled name or a path the server can read; None: the page's)."""
        spec = (network or self.network).strip()
        if spec not in self._generators:
            self._generators[spec] = load_generator(spec, device=self.device)
        return self._generators[spec]

    def seed_photo(self, seed: int, network: str | None = None) -> Image.Image:
        """The image the generator makes from `seed` (NVIDIA's rule), to invert as a photo."""
        return to_pil(generate(self.generator(network), [int(seed)]).images)[0]

    def invert(
        self,
        photo: Photo,
        *,
        network: str | None = None,
        encoder: str | None = None,
        align: bool = True,
        preset: str = ENCODER_ONLY,
        num_steps: int | None = None,
        progress: Progress | None = None,
    ) -> Session:
        """Invert `photo` (an uploaded file or an image): the encoder's codes, or with `preset` (a name of
        `PRESETS`) a projection of `num_steps` (None: the preset's) from them, reporting (step, steps) to
        `progress`. align: auto alignment as the workflow does it (False: centre-crop)."""
        spec = (network or self.network).strip()
        generator = self.generator(spec)
        images = [str(photo) if isinstance(photo, str | Path) else photo]
        mode = None if align else False
        if preset == ENCODER_ONLY:
            result = encode(spec, images, encoder=encoder or self.encoder, align=mode, device=generator.device)
        else:
            result = project(
                spec,
                images,
                preset=preset,
                num_steps=num_steps,
                encoder=encoder or self.encoder,
                align=mode,
                progress=_steps(progress),
                device=generator.device,
            )
        source = str(photo) if isinstance(photo, str | Path) else None
        return Session(spec, result, source, Path(source).stem if source else "photo")

    def directions(self, session: Session) -> dict[str, Direction | None]:
        """Every slider's direction by label: the bundled ones (None where one does not load for this generator),
        then the session's extras."""
        generator = self.generator(session.network)
        found: dict[str, Direction | None] = {}
        for name in self.direction_names:
            key = (session.network, name)
            if key not in self._directions:
                try:
                    self._directions[key] = load_direction(name, generator=generator)
                except ValueError:
                    self._directions[key] = None
            found[name] = self._directions[key]
        return {**found, **dict(session.extras)}

    def load_directions(self, session: Session, paths: Sequence[str | Path]) -> Session:
        """The session with the direction files at `paths` added (each checked against the generator)."""
        generator = self.generator(session.network)
        loaded = [load_direction(check_direction_file(path), generator=generator) for path in paths]
        return self._with_extras(session, loaded)

    def find_directions(self, session: Session, method: str, count: int) -> Session:
        """The session with `count` GANSpace (`ganspace`) or SeFa (`sefa`) components of its generator added."""
        found = fit_direction(self.generator(session.network), method, components=int(count))
        return self._with_extras(session, found)

    def preview(
        self,
        session: Session,
        strengths: Mapping[str, float],
        *,
        layers: tuple[int, int] | None = None,
        truncation: float = 1.0,
        blend_with: str | None = None,
        swap_res: int | None = None,
    ) -> Preview:
        """Render the session's latents moved by `strengths` (W units, by slider label; 0 leaves a direction
        out) on the W+ layers `first..last` of `layers` (None or all of them: each direction's own layers), pulled
        towards the mean W by `truncation` psi; with `blend_with`, also by the blend swapping at `swap_res`."""
        generator = self.generator(session.network)
        directions = self.directions(session)
        chosen = None if layers is None else list(range(layers[0], layers[1] + 1))
        if chosen is not None and len(chosen) == generator.num_ws:
            chosen = None
        latents = session.inversion.latents
        used = {label: float(s) for label, s in strengths.items() if s}
        for label, strength in used.items():
            direction = directions.get(label)
            if direction is None:
                raise ValueError(f"the direction {label} does not fit the generator {session.network}")
            latents = edit(latents, direction, strength, layers=chosen, generator=generator)
        latents = truncate(generator, latents, float(truncation))
        image = to_pil(render(generator, latents))[0]
        blended = None
        if blend_with and swap_res:
            mixed = self.blended(session.network, blend_with, int(swap_res))
            blended = to_pil(render(mixed, latents))[0]
        settings: dict[str, object] = {"strengths": used, "layers": chosen, "truncation": float(truncation)}
        if blended is not None:
            settings.update(blend_with=blend_with, swap_res=int(swap_res or 0))
        return Preview(latents, image, blended, settings)

    def blended(self, network: str, other: str, swap_res: int) -> AnyGenerator:
        """`network`'s coarse blocks with `other`'s blocks from `swap_res` up (layer swapping), made once."""
        key = (network, other.strip(), swap_res)
        if key not in self._blends:
            self._blends[key] = blend(self.generator(network), self.generator(other), swap_res=swap_res)
        return self._blends[key]

    def save(self, session: Session, preview: Preview, folder: str | Path | None = None) -> list[Path]:
        """Write what `encode` / `project` and `apply` write, under `folder` (None: a new temporary folder):
        `<name>/` latents.safetensors, projected_w.npz, target.png, proj.png, compare.png, metrics.json; then
        edited.png, edited.safetensors, edited_projected_w.npz, before_after.png (target | reconstruction |
        edit [| blend]) and blended.png with a blend; and projected.safetensors. Returns the files written."""
        root = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="stylegan-edit-ui-"))
        result = session.inversion
        sources = [session.source] if session.source else None
        saved = write_inversion(result, root, sources=sources, names=[session.name])
        out = saved.folders[0]
        metadata = {key: json.dumps(value) for key, value in preview.settings.items()}
        preview.latents.save(out / "edited.safetensors", metadata={**metadata, "network": session.network})
        preview.latents.save_npz(out / "edited_projected_w.npz", num_ws=result.num_ws)
        save_pil(preview.image, out / "edited.png")
        strip = [*to_pil(result.targets[:1]), *to_pil(result.images[:1]), preview.image]
        if preview.blended is not None:
            save_pil(preview.blended, out / "blended.png")
            strip.append(preview.blended)
        save_pil(make_grid(strip, ncols=len(strip)), out / "before_after.png")
        return sorted(path for path in root.rglob("*") if path.is_file())

    def _with_extras(self, session: Session, added: Sequence[Direction]) -> Session:
        taken = set(self.direction_names) | {label for label, _ in session.extras}
        extras = list(session.extras)
        for direction in added:
            label, count = direction.name, 1
            while label in taken:
                count += 1
                label = f"{direction.name} ({count})"
            taken.add(label)
            extras.append((label, direction))
        return replace(session, extras=tuple(extras[-MAX_EXTRA_DIRECTIONS:]))


def metrics_line(result: Inversion) -> str:
    """The inversion's metrics in one line (`PSNR 26.58 dB  SSIM 0.9031  classifier 0.4386  ...`), with what ran."""
    metrics = {key: float(value[0]) for key, value in result.metrics.items()}
    parts = [f"PSNR {metrics.pop('psnr'):.2f} dB", f"SSIM {metrics.pop('ssim'):.4f}", f"MSE {metrics.pop('mse'):.5f}"]
    if "perceptual" in metrics:
        name = result.loss.metric.name if result.loss.metric is not None else "perceptual"
        parts.append(f"{name} {metrics.pop('perceptual'):.4f}")
    parts += [f"{key} {value:.4f}" for key, value in metrics.items()]
    how = (
        f"{result.encoder_arch} encoder" if result.preset is None else f"{result.preset.name}, {result.num_steps} steps"
    )
    return "  ".join(parts) + f"  ({how}, {result.seconds:.2f} s)"


def _steps(progress: Progress | None) -> Callable[[ProjectionEvent], None] | None:
    if progress is None:
        return None
    total = [1]

    def report(event: ProjectionEvent) -> None:
        if isinstance(event, ProjectionStart):
            total[0] = event.num_steps
        elif isinstance(event, ProjectionProgress):
            progress(event.step.step + 1, total[0])

    return report
