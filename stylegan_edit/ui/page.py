"""The editor's page: Gradio controls laid out and wired to the `Editor`'s handlers; errors show in the page as
one line, never a stack trace."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from stylegan_edit.assets import bundled
from stylegan_edit.images import to_pil
from stylegan_edit.ui.editor import ENCODER_ONLY, MAX_EXTRA_DIRECTIONS, Editor, Preview, Session, metrics_line
from stylegan_edit.ui.uploads import DIRECTION_SUFFIXES, MAX_UPLOAD_BYTES, PHOTO_SUFFIXES, check_photo
from stylegan_edit.workflow import PRESETS

F = TypeVar("F", bound=Callable[..., Any])
NO_BLEND = "none"
STRENGTH_RANGE = 6.0
"""Sliders move a unit direction by up to this many W units either way."""
PIXELS: dict[str, Any] = {"type": "pil", "interactive": False, "height": 220, "elem_classes": ["pixels"]}
"""The generator's images: shown enlarged, pixel for pixel."""
CSS = ".pixels img {width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated;}"
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def shown(handler: F) -> F:
    """`handler` with its one-line `ValueError`s shown in the page (as `gr.Error`)."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except ValueError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return wrapped  # type: ignore[return-value]


def swap_choices(resolution: int) -> list[int]:
    """The swap resolutions of a blend: powers of two from 4 to twice the generator's resolution."""
    return [2**k for k in range(2, resolution.bit_length() + 1)]


def notes_text(state: Session) -> str:
    """What was done to the photo, naming the upload by its file name (not the server's copy of it)."""
    text = "\n".join(state.inversion.notes) or "taken as it is"
    return text.replace(state.source, Path(state.source).name) if state.source else text


def build_page(editor: Editor) -> gr.Blocks:
    """The page: input and inversion, the sliders with a live preview, blending, downloads."""
    generator = editor.generator()
    networks = list(bundled("network"))
    with gr.Blocks(title="stylegan-edit", analytics_enabled=False) as page:
        session, photo, edited = gr.State(None), gr.State(None), gr.State(None)
        gr.Markdown("## stylegan-edit: invert a photo, move the sliders, download the edit")
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(
                    label=f"Photo: drop or click ({', '.join(PHOTO_SUFFIXES)}; up to {MAX_UPLOAD_BYTES >> 20} MiB)",
                    file_types=list(PHOTO_SUFFIXES),
                    height=120,
                    elem_id="upload",
                )
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, minimum=0, label="or a seed")
                    from_seed = gr.Button("Generate from seed")
                align = gr.Checkbox(True, label="Align faces (auto: FFHQ alignment where a face is found)")
                with gr.Row():
                    network = gr.Dropdown(
                        networks, value=editor.network, allow_custom_value=True, label="Generator (name or path)"
                    )
                    encoder = gr.Dropdown(
                        ["psp", "e4e"], value=editor.encoder, allow_custom_value=True, label="Encoder"
                    )
                invert = gr.Button("Invert", variant="primary")
                with gr.Row():
                    preset = gr.Dropdown([ENCODER_ONLY, *PRESETS], value="encoder-lbfgs", label="Refinement preset")
                    steps = gr.Slider(1, 1000, value=50, step=1, label="Refinement steps")
                refine = gr.Button("Refine")
            with gr.Column(scale=3):
                with gr.Row():
                    shown_photo = gr.Image(**PIXELS, label="Photo")
                    target = gr.Image(**PIXELS, label="Aligned target")
                    recon = gr.Image(**PIXELS, label="Reconstruction")
                notes = gr.Textbox(label="Alignment", interactive=False, elem_id="notes")
                metrics = gr.Textbox(label="Metrics", interactive=False, elem_id="metrics")
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    named = [
                        gr.Slider(-STRENGTH_RANGE, STRENGTH_RANGE, 0, step=0.1, label=name, elem_id=f"slider-{name}")
                        for name in editor.direction_names
                    ]
                with gr.Row():
                    extra = [
                        gr.Slider(-STRENGTH_RANGE, STRENGTH_RANGE, 0, step=0.1, visible=False, elem_id=f"extra-{i}")
                        for i in range(MAX_EXTRA_DIRECTIONS)
                    ]
                with gr.Row():
                    first = gr.Slider(0, generator.num_ws - 1, value=0, step=1, label="First layer")
                    last = gr.Slider(0, generator.num_ws - 1, value=generator.num_ws - 1, step=1, label="Last layer")
                    psi = gr.Slider(-1, 2, value=1, step=0.05, label="Truncation psi")
                    reset = gr.Button("Reset", elem_id="reset")
                with gr.Row():
                    direction_files = gr.File(
                        label="Direction files", file_count="multiple", file_types=list(DIRECTION_SUFFIXES), height=90
                    )
                    method = gr.Radio(["ganspace", "sefa"], value="sefa", label="Components")
                    count = gr.Number(value=5, precision=0, minimum=1, maximum=MAX_EXTRA_DIRECTIONS, label="How many")
                    find = gr.Button("Find components")
            with gr.Column(scale=2):
                with gr.Row():
                    result = gr.Image(**PIXELS, format="png", label="Edited", elem_id="edited")
                    blended = gr.Image(**PIXELS, format="png", label="Blended", elem_id="blended")
                with gr.Row():
                    blend_with = gr.Dropdown(
                        [NO_BLEND, *networks], value=NO_BLEND, allow_custom_value=True, label="Blend with"
                    )
                    swap_res = gr.Dropdown(swap_choices(generator.img_resolution), value=16, label="Swap resolution")
                save = gr.Button("Prepare downloads", variant="primary")
        downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")

        sliders = [*named, *extra]
        settings = [first, last, psi, blend_with, swap_res]

        def slider_updates(state: Session) -> list[Any]:
            directions = editor.directions(state)
            updates = [
                gr.update(value=0, interactive=directions[name] is not None, info=None if directions[name] else "n/a")
                for name in editor.direction_names
            ]
            labels = [label for label, _ in state.extras]
            for i in range(MAX_EXTRA_DIRECTIONS):
                visible = i < len(labels)
                updates.append(gr.update(value=0, visible=visible, label=labels[i] if visible else None))
            return updates

        @shown
        def on_upload(path: str | None) -> tuple[Any, Any]:
            if path is None:
                return gr.update(), gr.update()
            picture = check_photo(path)
            return picture, path

        @shown
        def on_seed(value: float | None, spec: str) -> tuple[Any, Any]:
            if value is None or value < 0:
                raise ValueError("the seed must be a whole number, 0 or more")
            picture = editor.seed_photo(int(value), spec)
            return picture, picture

        def inverted(state: Session, previous: Session | None) -> list[Any]:
            if previous is not None and previous.network == state.network:
                state = replace(state, extras=previous.extras)  # the directions added stay for a new photo
            num_ws = editor.generator(state.network).num_ws
            resolution = editor.generator(state.network).img_resolution
            choices = swap_choices(resolution)
            return [
                state,
                *to_pil(state.inversion.targets[:1]),
                *to_pil(state.inversion.images[:1]),
                notes_text(state),
                metrics_line(state.inversion),
                *slider_updates(state),
                gr.update(maximum=num_ws - 1, value=0),
                gr.update(maximum=num_ws - 1, value=num_ws - 1),
                gr.update(choices=choices, value=min(16, choices[-1])),
            ]

        @shown
        def on_invert(previous: Session | None, picture: Any, spec: str, arch: str, aligned: bool) -> list[Any]:
            if picture is None:
                raise ValueError("upload a photo or generate one from a seed first")
            return inverted(editor.invert(picture, network=spec, encoder=arch, align=aligned), previous)

        @shown
        def on_refine(
            previous: Session | None,
            picture: Any,
            spec: str,
            arch: str,
            aligned: bool,
            name: str,
            num: float,
            progress: Any = gr.Progress(),  # noqa: B008 (Gradio finds the page's progress bar by this default)
        ) -> list[Any]:
            if picture is None:
                raise ValueError("upload a photo or generate one from a seed first")

            def report(done: int, total: int) -> None:
                progress((done, total), desc="refining", unit="steps")

            state = editor.invert(
                picture, network=spec, encoder=arch, align=aligned, preset=name, num_steps=int(num), progress=report
            )
            return inverted(state, previous)

        @shown
        def on_preview(state: Session | None, *values: Any) -> tuple[Any, Any, Any]:
            if state is None:
                return gr.update(), gr.update(), None
            strengths_count = len(editor.direction_names)
            strengths = dict(zip(editor.direction_names, values[:strengths_count], strict=True))
            extras = values[strengths_count : strengths_count + MAX_EXTRA_DIRECTIONS]
            strengths.update(zip([label for label, _ in state.extras], extras, strict=False))
            lo, hi, trunc, other, res = values[strengths_count + MAX_EXTRA_DIRECTIONS :]
            if lo > hi:
                raise ValueError(f"the first layer ({lo:g}) is after the last ({hi:g})")
            view = editor.preview(
                state,
                strengths,
                layers=(int(lo), int(hi)),
                truncation=float(trunc),
                blend_with=None if other in (None, "", NO_BLEND) else other,
                swap_res=int(res) if res else None,
            )
            return view.image, view.blended, view

        @shown
        def on_directions(state: Session | None, paths: list[str] | None) -> list[Any]:
            if state is None:
                raise ValueError("invert a photo first: directions are checked against its generator")
            state = editor.load_directions(state, paths or [])
            return [state, *slider_updates(state)[len(editor.direction_names) :]]

        @shown
        def on_find(state: Session | None, how: str, num: float | None) -> list[Any]:
            if state is None:
                raise ValueError("invert a photo first: components are found for its generator")
            state = editor.find_directions(state, how, int(num or 1))
            return [state, *slider_updates(state)[len(editor.direction_names) :]]

        @shown
        def on_save(state: Session | None, view: Preview | None) -> list[str]:
            if state is None or view is None:
                raise ValueError("invert a photo first")
            return [str(path) for path in editor.save(state, view)]

        def on_reset(state: Session | None) -> list[Any]:
            num_ws = editor.generator(state.network).num_ws if state is not None else generator.num_ws
            return [*[0.0] * len(sliders), 0, num_ws - 1, 1.0]

        preview: dict[str, Any] = {
            "fn": on_preview,
            "inputs": [session, *sliders, *settings],
            "outputs": [result, blended, edited],
        }
        results = [session, target, recon, notes, metrics, *sliders, first, last, swap_res]
        busy = [recon, metrics]  # where the progress bar shows
        inversion: dict[str, Any] = {
            "inputs": [session, photo, network, encoder, align],
            "outputs": results,
            "show_progress_on": busy,
        }
        upload.upload(on_upload, [upload], [shown_photo, photo]).success(on_invert, **inversion).success(**preview)
        from_seed.click(on_seed, [seed, network], [shown_photo, photo]).success(on_invert, **inversion).success(
            **preview
        )
        invert.click(on_invert, **inversion).success(**preview)
        refinement = [session, photo, network, encoder, align, preset, steps]
        refine.click(on_refine, refinement, results, show_progress_on=busy).success(**preview)
        direction_files.upload(on_directions, [session, direction_files], [session, *extra])
        find.click(on_find, [session, method, count], [session, *extra])
        reset.click(on_reset, [session], [*sliders, first, last, psi]).success(**preview)
        controls: list[Any] = [*sliders, *settings]
        for control in controls:
            control.change(**preview, trigger_mode="always_last", show_progress="hidden")
        save.click(on_save, [session, edited], [downloads])
    return page


def launch(page: gr.Blocks, *, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve `page` on `host:port` until interrupted (no share link, no telemetry, nothing fetched); `ready` is
    called with the page's address once it answers. Ctrl-C (KeyboardInterrupt) closes the server and propagates."""
    _, url, _ = page.queue().launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=True,
        show_error=False,
        quiet=True,
        max_file_size=MAX_UPLOAD_BYTES,
        ssr_mode=False,
        mcp_server=False,
        footer_links=[],
        theme=THEME,
        css=CSS,
    )
    try:
        ready(url)
        while page.is_running:
            time.sleep(0.2)
    finally:
        page.close(verbose=False)
