"""The inversion benchmark's plumbing: a method without its file is skipped with one line and a dash row, a run
method fills its row from its own process, and the peak-memory reset sees an allocation made after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def _cells(output: str, method: str) -> list[str]:
    row = next(line for line in output.splitlines() if line.startswith("| held-out renders") and method in line)
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_skipped_and_measured_rows(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    markdown = tmp_path / "table.md"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_inversion.py"),
            "--quick",
            "--sets",
            "renders",
            "--methods",
            "psp,restyle-e4e",
            "--markdown",
            str(markdown),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "skipped: ReStyle-e4e, 5 iterations: no --restyle-e4e file given" in done.stdout
    assert _cells(done.stdout, "ReStyle-e4e")[2:] == ["–"] * 7
    psp = _cells(done.stdout, "pSp")
    assert psp[0] == "held-out renders (1)"
    assert 20 < float(psp[2]) < 40  # PSNR of the bundled pSp on a held-out render
    assert float(psp[7]) < 1  # seconds per image of one encoder pass
    peak, above = psp[8].split()
    assert float(peak) > 100 and above.startswith("(+")
    assert "| ReStyle-e4e" in markdown.read_text()


PEAK_PROBE = """
import sys
from peak_memory import peak_mib, reset_peak
block = bytearray(300 * 2**20)
block[::4096] = b"\\1" * len(block[::4096])  # touch every page
del block
if reset_peak() != "VmHWM reset before the method":
    sys.exit(3)
before = peak_mib()
block = bytearray(100 * 2**20)
block[::4096] = b"\\1" * len(block[::4096])
print(peak_mib() - before)
"""


def test_peak_memory_sees_a_later_allocation() -> None:
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs Linux's /proc")
    # A fresh process, as the benchmark's worker is: the allocator of a long-lived one may serve the block from
    # pages it already holds.
    env = {**os.environ, "PYTHONPATH": str(BENCHMARKS)}
    probe = subprocess.run([sys.executable, "-c", PEAK_PROBE], env=env, capture_output=True, text=True, check=False)
    if probe.returncode == 3:
        pytest.skip("this kernel refuses the reset")
    assert probe.returncode == 0, probe.stderr
    assert float(probe.stdout) > 90
