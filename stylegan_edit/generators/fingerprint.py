"""A generator's fingerprint: a short digest of its weights that survives dtype and device changes."""

from __future__ import annotations

import hashlib

import torch
from torch import nn


def fingerprint(module: nn.Module, *, salt: str = "") -> str:
    """16 hex digits of SHA-256 over `salt` and the module's tensors rounded to float16, sorted by name.

    Rounding first makes a float32 checkpoint, its float16 shipped copy and its copy on another device share a
    fingerprint. Directions use the mapping network's (`fingerprint(G.mapping)`: the same W space, kept by a
    fine-tuned model that kept its mapping); encoders the whole generator's, salted with its config.
    """
    digest = hashlib.sha256(salt.encode())
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float16).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
