"""The stand-in for NVIDIA's `torch_utils.persistence` objects that the allow-list unpickler builds: a class name
and module state, never the source code stored beside them."""

from __future__ import annotations

import pickle
from typing import Any


class PersistentRecord:
    """Stand-in for a `torch_utils.persistence` object: class name and module state, never its source code."""

    def __init__(self, meta: Any) -> None:
        if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
            raise pickle.UnpicklingError("persistent object record without a state dict")
        self.class_name = str(meta.get("class_name"))
        self.version = meta.get("version")
        self.state: dict[str, Any] = meta["state"]  # `meta["module_src"]` is left alone: never read, never run

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name})"

    def child(self, name: str) -> PersistentRecord | None:
        value = (self.state.get("_modules") or {}).get(name)
        return value if isinstance(value, PersistentRecord) else None

    def records(self) -> list[PersistentRecord]:
        """This record and all records below it."""
        found = [self]
        for value in (self.state.get("_modules") or {}).values():
            if isinstance(value, PersistentRecord):
                found.extend(value.records())
        return found
