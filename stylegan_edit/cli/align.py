"""`stylegan-edit align`: FFHQ-style face crops (dlib landmarks), ready for `project`."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors, output_folder
from stylegan_edit.cli.options import outdir_option


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--size",
    type=click.IntRange(min=8, max=4096),
    default=1024,
    show_default=True,
    help="Side of each square crop in pixels (FFHQ: 1024; the model's resolution suits `project`).",
)
@click.option(
    "--face-index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Which face when there are several: 0 is the largest, 1 the next, ...",
)
@outdir_option(Path("out/aligned"), "one PNG per input, named after it")
@friendly_errors
def align(images: tuple[Path, ...], size: int, face_index: int, outdir: Path) -> None:
    """Detect the face in each of IMAGES and write its FFHQ-aligned square crop."""
    from stylegan_edit.images import read_image, save_pil
    from stylegan_edit.invert.align import align_face
    from stylegan_edit.workflow.outputs import output_names

    with output_folder(outdir):
        for path, name in zip(images, output_names(images), strict=True):
            try:
                aligned = align_face(read_image(path), output_size=size, face_index=face_index)
            except ValueError as exc:
                message = str(exc)
                raise ValueError(message if message.startswith(str(path)) else f"{path}: {message}") from None
            out = outdir / f"{name}.png"
            save_pil(aligned.image, out)
            click.echo(f"wrote {out} (face {face_index + 1} of {aligned.num_faces})")
