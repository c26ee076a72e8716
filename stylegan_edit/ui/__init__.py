"""The browser editor of `stylegan-edit ui`: a local Gradio page over the workflow API. `ui.editor` holds the
handlers (no Gradio), `ui.page` the layout and its wiring, `ui.uploads` the checks on what a visitor uploads."""

from __future__ import annotations

import os

OFFLINE = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_SSR_MODE": "False",
    "GRADIO_MCP_SERVER": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
"""Set before Gradio is imported: no telemetry, no version check, nothing fetched from the network."""

for _name, _value in OFFLINE.items():
    os.environ.setdefault(_name, _value)
