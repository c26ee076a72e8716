"""Every reader, fed damaged and hostile files, either returns a sane result or raises one `CheckpointError` that
names the file: no other exception, no code from the file run, no allocation a file merely claims.

The default run tries a bounded, derandomised number of examples; `STYLEGAN_EDIT_FUZZ=long` tries 2,000 per test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from stylegan_edit.classifiers.attributes import AttributeClassifier, read_classifier
from stylegan_edit.editors.direction import Direction, load_direction
from stylegan_edit.encoders.checkpoint import read_encoder
from stylegan_edit.encoders.encoder import StyleEncoder
from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import load_network
from stylegan_edit.formats.rosinality import to_rosinality
from stylegan_edit.generators import Discriminator, Generator, Network
from stylegan_edit.latents import Latents, load_latents
from tests import fuzz_inputs as fz
from tests.conftest import make_generator

pytestmark = pytest.mark.usefixtures("one_thread")

LONG = os.environ.get("STYLEGAN_EDIT_FUZZ") == "long"
_COMMON: dict[str, Any] = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    database=None,
)


def fuzz(examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings: `examples` derandomised examples by default, 2,000 random ones with the long profile."""
    if LONG:
        return settings(max_examples=2000, **_COMMON)
    return settings(max_examples=examples, derandomize=True, **_COMMON)


def _is_network(result: Any) -> bool:
    return isinstance(result, Network) and isinstance(result.generator, Generator)


READERS: dict[str, tuple[Callable[[Path], Any], Callable[[Any], bool]]] = {
    "native": (load_network, _is_network),
    "nvidia": (load_network, _is_network),
    "tf": (load_network, _is_network),
    "rosinality": (load_network, _is_network),
    "latents": (load_latents, lambda r: isinstance(r[0], Latents) and isinstance(r[1], dict)),
    "npz": (load_latents, lambda r: isinstance(r[0], Latents) and r[1] == {}),
    "direction": (load_direction, lambda r: isinstance(r, Direction) and bool(torch.isfinite(r.vector).all())),
    "encoder": (read_encoder, lambda r: isinstance(r, StyleEncoder)),
    "classifier": (read_classifier, lambda r: isinstance(r[0], AttributeClassifier)),
}
SUFFIX = {"nvidia": ".pkl", "tf": ".pkl", "rosinality": ".pt", "npz": ".npz"}


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fz.write_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-cases")


@pytest.fixture(scope="session")
def tiny_network() -> Network:
    torch.manual_seed(1)
    return Network(make_generator(), Discriminator(fz.TINY_D).eval())


@pytest.fixture(scope="session")
def rosinality_checkpoint() -> dict[str, Any]:
    return to_rosinality(Network(make_generator(fz.ROSINALITY, seed=2), None), dtype=torch.float16)


def _damaged(drawn: tuple[str, bytes]) -> fz.Damaged:
    return fz.Damaged(*drawn)


def check_reader(reader: str, folder: Path, data: bytes, what: str) -> None:
    """Write `data` as a `reader` file and read it: a sane result or a one-line `CheckpointError` naming the file."""
    note(what)
    path = folder / f"fuzz-{reader}{SUFFIX.get(reader, '.safetensors')}"
    path.write_bytes(data)
    read, sane = READERS[reader]
    try:
        result = read(path)
    except CheckpointError as exc:
        message = str(exc)
        assert str(path) in message, f"{what}: the message does not name the file: {message}"
        assert "\n" not in message, f"{what}: a multi-line message: {message!r}"
        return
    assert sane(result), f"{what}: the reader returned {result!r}"


@pytest.mark.parametrize("reader", sorted(READERS))
@fuzz(30)
@given(data=st.data())
def test_damaged_bytes_are_refused_or_read(
    reader: str, data: st.DataObject, seeds: dict[str, Path], work: Path
) -> None:
    case = data.draw(fz.byte_damage(seeds[reader].read_bytes()).map(_damaged))
    check_reader(reader, work, case.data, case.what)


@pytest.mark.parametrize("reader", fz.SAFETENSORS_READERS)
@fuzz(40)
@given(data=st.data())
def test_lying_safetensors_headers_are_refused(
    reader: str, data: st.DataObject, seeds: dict[str, Path], work: Path
) -> None:
    case = data.draw(fz.header_damage(seeds[reader].read_bytes()).map(_damaged))
    check_reader(reader, work, case.data, case.what)


@pytest.mark.parametrize("reader", fz.SAFETENSORS_READERS)
@fuzz(20)
@given(data=st.data())
def test_wrong_tensors_under_the_right_names_are_refused(
    reader: str, data: st.DataObject, seeds: dict[str, Path], work: Path
) -> None:
    case = data.draw(fz.tensor_damage(seeds[reader].read_bytes()).map(_damaged))
    check_reader(reader, work, case.data, case.what)


@fuzz(60)
@given(data=st.data())
def test_nvidia_records_with_wrong_values_are_refused(data: st.DataObject, tiny_network: Network, work: Path) -> None:
    case = data.draw(fz.nvidia_record_damage(tiny_network).map(_damaged))
    check_reader("nvidia", work, case.data, case.what)


@fuzz(40)
@given(data=st.data())
def test_tf_pickles_with_wrong_variables_are_refused(data: st.DataObject, tiny_network: Network, work: Path) -> None:
    case = data.draw(fz.tf_variable_damage(tiny_network).map(_damaged))
    check_reader("tf", work, case.data, case.what)


@fuzz(25)
@given(data=st.data())
def test_rosinality_checkpoints_with_wrong_entries_are_refused(
    data: st.DataObject, rosinality_checkpoint: dict[str, Any], work: Path
) -> None:
    case = data.draw(fz.rosinality_damage(rosinality_checkpoint).map(_damaged))
    check_reader("rosinality", work, case.data, case.what)


@fuzz(30)
@given(data=st.data())
def test_npz_with_wrong_arrays_is_refused(data: st.DataObject, work: Path) -> None:
    case = data.draw(fz.npz_damage().map(_damaged))
    check_reader("npz", work, case.data, case.what)


def _hostile_files(sentinel: Path) -> dict[str, bytes]:
    files = {}
    for name, payload in fz.hostile_payloads(sentinel).items():
        files[f"{name} as the pickle"] = fz.pickle_of(payload)
        files[f"{name} as G_ema"] = fz.in_snapshot(payload)
        files[f"{name} in a torch zip"] = fz.torch_zip(fz.pickle_of(payload))
        files[f"{name} in a torch zip in a storage blob"] = fz.storage_blob(fz.torch_zip(fz.pickle_of(payload)))
    return files


@pytest.mark.parametrize("case", sorted(_hostile_files(Path("sentinel"))))
def test_hostile_pickles_run_no_code(case: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "SENTINEL"
    data = _hostile_files(sentinel)[case]
    path = tmp_path / ("hostile.pt" if data[:2] == b"PK" else "hostile.pkl")
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as caught:
        load_network(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert "refusing" in str(caught.value) or "corrupt" in str(caught.value)
    assert not sentinel.exists()


_CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from stylegan_edit.files import CheckpointError
from tests.test_readers_fuzz import READERS
cases = json.loads(Path(sys.argv[2]).read_text())
for reader, path in cases["warm"]:
    READERS[reader][0](Path(path))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
results = []
for name, reader, path in cases["cases"]:
    start = time.perf_counter()
    try:
        READERS[reader][0](Path(path))
        outcome = "returned"
    except CheckpointError as exc:
        outcome = "CheckpointError: " + str(exc)
    except BaseException as exc:
        outcome = type(exc).__name__ + ": " + str(exc)[:300]
    results.append([name, path, outcome, time.perf_counter() - start])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"results": results, "growth_kib": after - before}))
"""


def _claims_and_bombs(seeds: dict[str, Path]) -> dict[str, tuple[str, bytes]]:
    """Files that claim far more than they hold, or nest far deeper than any network: name -> (reader, bytes)."""
    cases: dict[str, tuple[str, bytes]] = {}
    for reader in fz.SAFETENSORS_READERS:
        header, body = fz.split_safetensors(seeds[reader].read_bytes())
        cases[f"{reader}: header length 1 TB"] = reader, fz.join_safetensors(header, body, claimed=fz.ONE_TB)
        name = next(k for k in header if k != "__metadata__")
        header[name] = {"dtype": "F32", "shape": [2**18, 2**18], "data_offsets": [0, fz.ONE_TB]}
        cases[f"{reader}: a 1 TB tensor"] = reader, fz.join_safetensors(header, body)
    for reader in ("native", "encoder"):
        header, body = fz.split_safetensors(seeds[reader].read_bytes())
        key = {"native": "generator_config", "encoder": "encoder_config"}[reader]
        meta = header["__metadata__"]
        for field, value in (
            ("z_dim", 2**31),
            ("w_dim", 2**33),
            ("mapping_layers", 10**9),
            ("stage_blocks", [10**9] * 4),
        ):
            config = json.loads(meta[key])
            if field in config:
                config[field] = value
                cases[f"{reader}: {key} {field}={value}"] = (
                    reader,
                    fz.join_safetensors(dict(header, __metadata__=dict(meta, **{key: json.dumps(config)})), body),
                )
    cases["npz: w claims 36 GB"] = "npz", fz.npz_claiming((1_000_000, 18, 512))
    cases["npz: w claims 2**62 floats"] = "npz", fz.npz_claiming((2**31, 2**31, 1))
    for name, data in fz.bombs().items():
        cases[f"pickle: {name}"] = "nvidia", data
        cases[f"torch zip: {name}"] = "rosinality", fz.torch_zip(data)
        cases[f"storage blob: {name}"] = "nvidia", fz.storage_blob(fz.torch_zip(data))
    return cases


def test_huge_claims_and_bombs_are_refused_fast_in_bounded_memory(seeds: dict[str, Path], tmp_path: Path) -> None:
    """Run in a child process: a crash there (a C stack overflow while hashing a nested tuple) fails this test
    instead of the test run, and the child's peak RSS measures what the readers really allocate."""
    cases = []
    for i, (name, (reader, data)) in enumerate(sorted(_claims_and_bombs(seeds).items())):
        path = tmp_path / f"case{i}{SUFFIX.get(reader, '.safetensors')}"
        path.write_bytes(data)
        cases.append([name, reader, str(path)])
    manifest = tmp_path / "cases.json"
    manifest.write_text(json.dumps({"cases": cases, "warm": [[r, str(p)] for r, p in seeds.items()]}))
    root = Path(__file__).resolve().parents[1]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert child.returncode == 0, f"the reader process died ({child.returncode}): {child.stderr[-2000:]}"
    report = json.loads(child.stdout.strip().splitlines()[-1])
    wrong = [
        f"{name}: {outcome[:200]}"
        for name, path, outcome, _ in report["results"]
        if not outcome.startswith("CheckpointError: ") or path not in outcome
    ]
    slow = [f"{name}: {seconds:.1f} s" for name, _, _, seconds in report["results"] if seconds > 10]
    timings = ", ".join(f"{name} {seconds:.2f} s" for name, _, _, seconds in report["results"])
    print(f"{len(report['results'])} cases, peak RSS growth {report['growth_kib'] / 1024:.0f} MiB: {timings}")
    assert not wrong, "\n".join(wrong)
    assert not slow, "\n".join(slow)
    assert report["growth_kib"] < 300 * 1024, f"peak memory grew by {report['growth_kib'] / 1024:.0f} MiB"


def test_seed_files_are_valid(seeds: dict[str, Path]) -> None:
    """The fuzz seeds read back: the damage, not the seed, is what the other tests refuse."""
    for reader, path in seeds.items():
        read, sane = READERS[reader]
        assert sane(read(path)), reader


def test_refusal_names_the_file_through_io_errors(tmp_path: Path) -> None:
    for reader, (read, _) in READERS.items():
        for path in (tmp_path / f"missing-{reader}.bin", tmp_path):
            with pytest.raises(CheckpointError, match=str(path).replace("\\", "\\\\")):
                read(path)
