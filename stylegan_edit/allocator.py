"""CPU memory allocator tuning: keep freed blocks in the heap instead of handing each one back to the kernel.

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh `mmap` and returns it with
`munmap` when freed. PyTorch frees and re-allocates its large activations on every step, so at 256 px and above each
step pays for page faults and zeroing of hundreds of MiB: on the 2-core CI machine a batched 256 px projection step
spent about as long in the kernel as in computation. With mmap disabled and trimming deferred, freed blocks are
reused. This is what PyTorch's CPU performance guide gets by swapping in jemalloc or tcmalloc, done in-process.

It is opt-in (`STYLEGAN_EDIT_TUNE_MALLOC=1` for the CLI, or `tune_allocator()`): it changes the whole process, and
memory freed by PyTorch stays reserved, so fragmentation can grow the heap without bound. Measured on the 24 GB CI
machine kind: a batched 256 px projection step went from 6.05 to 3.45 s per image, but a 1024 px config-f
projection (batch 1, then 4) grew to 24 GB resident and spent three times longer in the kernel than computing.
Use it for 64-256 px work only. It cannot be undone exactly (setting these options also ends glibc's
dynamic threshold), so benchmarks measure the untuned baseline first.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def _mallopt(option: int, value: int) -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(ctypes.c_int(option), ctypes.c_int(value)))
    except (OSError, AttributeError):
        return False


ENV_VAR = "STYLEGAN_EDIT_TUNE_MALLOC"


def tune_allocator_if_asked() -> bool:
    """`tune_allocator()` when the environment variable STYLEGAN_EDIT_TUNE_MALLOC is 1; True when it was applied."""
    return os.environ.get(ENV_VAR) == "1" and tune_allocator()


def tune_allocator() -> bool:
    """Serve large blocks from the heap and keep freed memory for reuse (glibc); False where not applicable."""
    return _mallopt(_M_MMAP_MAX, 0) and _mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
