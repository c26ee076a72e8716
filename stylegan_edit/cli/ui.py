"""`stylegan-edit ui`: the browser editor (a local Gradio page) over the workflow API."""

from __future__ import annotations

import errno
import socket

import click

from stylegan_edit.cli.common import friendly_errors, pick_device
from stylegan_edit.cli.options import device_option, encoder_option, network_option

MISSING_GRADIO = "the editor needs Gradio: pip install 'stylegan-edit[ui]'"


@click.command()
@network_option
@encoder_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on: 127.0.0.1 keeps the editor on this machine; 0.0.0.0 opens it to the network.",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port to serve the editor on."
)
@device_option
@friendly_errors
def ui(network_spec: str | None, encoder_spec: str, host: str, port: int, device: str) -> None:
    """Start the editor in the browser: upload a photo (or generate one from a seed), invert it (the encoder at
    once, then an optional refinement), move one slider per direction with a live preview, blend with a second
    generator and download the edit and its latents. Serves until Ctrl-C."""
    from stylegan_edit.assets import resolve_encoder, resolve_network

    resolve_network(network_spec)
    resolve_encoder(encoder_spec, network_spec)
    _check_free(host, port)
    try:
        from stylegan_edit.ui.page import build_page, launch
    except ImportError as error:
        if "gradio" not in str(error):
            raise
        raise click.ClickException(MISSING_GRADIO) from None
    from stylegan_edit.ui.editor import Editor

    page = build_page(Editor(network=network_spec, encoder=encoder_spec, device=pick_device(device)))
    launch(page, host=host, port=port, ready=lambda url: click.echo(f"editor at {url} (Ctrl-C to stop)"))


def _check_free(host: str, port: int) -> None:
    """One line unless `host:port` can be bound (an unknown address, a port in use), before anything loads."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError):
        raise click.BadParameter(f"{host!r} is not an address of this machine", param_hint="'--host'") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be served ({error.strerror})"
            raise click.ClickException(f"port {port} on {host} {reason}; pass another --port") from None
