"""CPU memory allocator tuning: keep freed blocks in the heap instead of handing each one back to the kernel.

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh `mmap` and returns it with
`munmap` when freed. PyTorch frees and re-allocates its large activations on every step, so at 256 px and above each
step pays for page faults and zeroing of hundreds of MiB: on the 2-core CI machine a batched 256 px projection step
spent about as long in the kernel as in computation. With mmap disabled and trimming deferred, freed blocks are
reused. This is what PyTorch's CPU performance guide gets by swapping in jemalloc or tcmalloc, done in-process.

The CLI tunes the allocator once at start; library users may call `tune_allocator()` themselves. It changes the
whole process (memory freed by PyTorch stays reserved for reuse, so the resident size stays at its peak), which is
why the library never does it on import. It cannot be undone exactly (setting these options also ends glibc's
dynamic threshold), so benchmarks measure the untuned baseline first.
"""

from __future__ import annotations

import ctypes
import ctypes.util
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


def tune_allocator() -> bool:
    """Serve large blocks from the heap and keep freed memory for reuse (glibc); False where not applicable."""
    return _mallopt(_M_MMAP_MAX, 0) and _mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
