"""The CPU allocator tuning: large blocks are reused instead of being faulted in afresh each time."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import resource, sys, torch
from stylegan_edit.allocator import tune_allocator
if sys.argv[1] == "tuned":
    assert tune_allocator()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(8):  # 64 MiB blocks, above glibc's largest mmap threshold; the heap settles within a few
    torch.ones(16 * 2**20).sum()
before = faults()
for _ in range(8):
    torch.ones(16 * 2**20).sum()
print(faults() - before)
"""


def page_faults(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the tuning applies to glibc only")
def test_tuned_allocator_reuses_large_blocks() -> None:
    pages = 8 * 64 * 2**20 // 4096
    assert page_faults("default") > pages * 0.9  # each 64 MiB block is mapped and faulted in again
    assert page_faults("tuned") < pages * 0.3  # once the heap has settled, freed blocks are reused


@pytest.mark.parametrize(("value", "expected"), [(None, []), ("0", []), ("1", [1])])
def test_cli_tunes_the_allocator_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: list[int]
) -> None:
    from stylegan_edit import allocator, cli

    calls: list[int] = []
    monkeypatch.setattr(allocator, "tune_allocator", lambda: calls.append(1) or True)
    if value is None:
        monkeypatch.delenv(allocator.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(allocator.ENV_VAR, value)
    monkeypatch.setattr(sys, "argv", ["stylegan-edit", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 0 and calls == expected
