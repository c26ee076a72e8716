"""The CLI contract, generated from the input table of `stylegan_edit.cli.options`: every option of every command
is declared with a known type and explained; every value its type must refuse is refused during parsing with one
`Error:` line naming it, no traceback and no output folder; Ctrl-C and SIGTERM end a command with one line,
exit status 130 and nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from stylegan_edit.cli.main import cli
from stylegan_edit.cli.options import BAD_VALUES, INPUT_TYPES, bad_values

REPO = Path(__file__).resolve().parents[1]

FREE_TEXT = {
    "network_spec": "a bundled name or a checkpoint path; the loader names both kinds when it is neither",
    "encoder_spec": "psp, e4e or an encoder checkpoint; resolved like --network",
    "resume_from": "a checkpoint path or a bundled name, resolved like --network",
    "model_a": "a checkpoint path or a bundled name, resolved like --network",
    "model_b": "a checkpoint path or a bundled name, resolved like --network",
    "data_spec": "an image folder or synthfaces:STYLE; the data loader refuses anything else in one line",
    "real_spec": "an image folder or synthfaces:STYLE, as --data",
    "direction_spec": "a bundled direction, a file, or a name in ./directions (a library that grows)",
    "direction_specs": "direction names or files, as --direction",
    "conditions": "direction names or files, as --direction",
    "name": "the name given to the directions written (any text)",
    "host": "a host name or address to serve on; `ui` resolves and binds it before anything loads",
    "perceptual": "the registry of perceptual losses is extensible (registered feature extractors)",
    "loss": "the registry of perceptual losses is extensible (registered feature extractors)",
}
"""Options that take free text, with why no narrower type fits; any other text option fails the contract."""

WORDS_NOT_IN_HELP = ("see README", "(README)", "session", "issue")


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under `group`, with the words that call it; groups are included."""
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(commands())
PARAMETERS = [(path, param) for path, command in COMMANDS.items() for param in command.params]


def ids(case: tuple[tuple[str, ...], click.Parameter]) -> str:
    return " ".join(case[0]) + ":" + (case[1].name or "?")


@pytest.mark.parametrize("case", PARAMETERS, ids=[ids(c) for c in PARAMETERS])
def test_every_option_has_a_declared_type_and_plain_help(case: tuple[tuple[str, ...], click.Parameter]) -> None:
    _, param = case
    assert type(param.type) in INPUT_TYPES, f"{ids(case)}: type {type(param.type).__name__} is not in the table"
    if isinstance(param.type, click.types.StringParamType):
        assert param.name in FREE_TEXT, f"{ids(case)}: free text; give it a type or a reason in FREE_TEXT"
    if isinstance(param.type, click.types.FloatParamType):
        raise AssertionError(f"{ids(case)}: floats are FiniteFloat")
    if not isinstance(param, click.Option):
        return
    assert param.help and len(param.help) > 10, f"{ids(case)} has no help"
    assert not any(word in param.help for word in WORDS_NOT_IN_HELP), param.help
    if not param.required and param.default is None and not param.is_flag:
        assert "[default: " in param.help, f"{ids(case)}: say what the default None means"


def test_shared_options_have_one_name_one_default_and_one_help() -> None:
    """--network, --device, --seeds, --layers, --latents, --progress, --encoder, --trunc mean one thing."""
    seen: dict[str, list[tuple[str, object, str]]] = {}
    for path, command in COMMANDS.items():
        for param in command.params:
            if isinstance(param, click.Option):
                seen.setdefault(param.opts[0], []).append((" ".join(path), param.default, param.help or ""))
    seen["--layers"] = [entry for entry in seen["--layers"] if entry[0] != "directions fit"]  # what to factorise
    for flag in ("--device", "--progress", "--encoder", "--trunc", "--layers"):
        assert len({(d, h) for _, d, h in seen[flag]}) == 1, (flag, seen[flag])
    for flag in ("--network", "--latents", "--seeds"):  # their default differs by command, the text before it not
        assert len({h.split("[default")[0].split("(")[0] for _, _, h in seen[flag]}) == 1, (flag, seen[flag])
    assert not {"--out", "--truncation-psi", "--run-dir"} & set(seen), "one name for each meaning"
    assert all(d == "psp" for _, d, _ in seen["--encoder"])


def test_every_choice_offered_works() -> None:
    from stylegan_edit.classifiers.attributes import ClassifierConfig
    from stylegan_edit.cli.directions import CLASSIFIER_ATTRIBUTES
    from stylegan_edit.workflow.conversion import WRITABLE

    assert ClassifierConfig().attribute_names == CLASSIFIER_ATTRIBUTES
    convert = COMMANDS[("convert",)]
    to = next(p for p in convert.params if p.name == "to")
    assert isinstance(to.type, click.Choice) and set(to.type.choices) == set(WRITABLE)


def test_the_group_help_explains_the_terms() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for term in ("W+", " Z ", "truncation", "L-BFGS", "LPIPS", "PSNR", "130"):
        assert term in result.output, term


# Valid arguments that let each command reach its options (none of them runs: a bad value stops parsing).
def minimal_arguments(path: tuple[str, ...], checkpoint: Path, image: Path, tmp: Path) -> dict[str, list[str]]:
    return {
        "convert": [str(checkpoint), str(tmp / "converted.safetensors")],
        "align": [str(image)],
        "project": [str(image)],
        "encode": [str(image)],
        "apply": ["--direction", "age", "--strength", "1"],
        "directions fit": ["--method", "sefa"],
        "directions show": ["age"],
        "blend": [str(checkpoint), str(checkpoint), "--swap-res", "8"],
        "interpolate": [str(checkpoint), str(checkpoint)],
        "metrics identity": [str(image), str(image)],
    }.get(" ".join(path), [])


def path_bad_values(param_type: click.Path, tmp: Path) -> list[str]:
    """A missing path where one must exist, a folder where a file is needed, a file where a folder is."""
    values = []
    if param_type.exists:
        values.append(str(tmp / "does-not-exist"))
    if not param_type.dir_okay:
        values.append(str(tmp))
    if not param_type.file_okay:
        values.append(str(tmp / "a-file"))
    return values


def bad_cases() -> list[tuple[tuple[str, ...], str, str]]:
    cases = []
    for path, param in PARAMETERS:
        if isinstance(param, click.Option) and param.is_flag:
            continue
        values = list(bad_values(param.type)) or (["<path>"] if isinstance(param.type, click.Path) else [])
        cases += [(path, param.name or "", value) for value in values]
    return cases


BAD_CASES = bad_cases()


def test_the_bad_values_reach_every_typed_option() -> None:
    typed = {
        (path, p.name)
        for path, p in PARAMETERS
        if type(p.type) in BAD_VALUES or (isinstance(p.type, click.Path) and (p.type.exists or not p.type.file_okay))
    }
    assert typed <= {(path, name) for path, name, _ in BAD_CASES}
    assert len(COMMANDS) >= 20 and len(BAD_CASES) >= 300


def test_bad_values_are_refused_before_any_work(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """Every bad value of every option and argument: exit 2, the last line an `Error:` naming it, no traceback,
    no output folder. One test looping over the table (about a thousand parses) keeps it to seconds."""
    from PIL import Image

    image = tmp_path / "face.png"
    Image.new("RGB", (16, 16)).save(image)
    (tmp_path / "a-file").write_text("x")
    runner = CliRunner()
    tried, failures = 0, []
    for path, name, value in BAD_CASES:
        command = COMMANDS[path]
        param = next(p for p in command.params if p.name == name)
        values = path_bad_values(param.type, tmp_path) if value == "<path>" else [value]  # type: ignore[arg-type]
        for bad in values:
            tried += 1
            outdir = tmp_path / "out" / f"case{tried}"
            arguments = _arguments(path, param, bad, tiny_checkpoint, image, tmp_path, outdir)
            result = runner.invoke(cli, arguments)
            lines = result.output.strip().splitlines()
            named = param.opts if isinstance(param, click.Option) else [param.human_readable_name, bad]
            problem = (
                "exit 0"
                if result.exit_code == 0
                else "traceback"
                if "Traceback" in result.output or (result.exception and not isinstance(result.exception, SystemExit))
                else "last line"
                if not lines or not lines[-1].startswith("Error:") or not any(n in lines[-1] for n in named)
                else "output folder left"
                if outdir.exists()
                else None
            )
            if problem:
                failures.append(f"{' '.join(arguments)}: {problem}: {result.output.strip()[-300:]}")
    assert not failures, f"{len(failures)} of {tried} bad values not refused cleanly:\n" + "\n".join(failures[:20])
    assert tried >= 300


def _arguments(
    path: tuple[str, ...],
    param: click.Parameter,
    bad: str,
    checkpoint: Path,
    image: Path,
    tmp: Path,
    outdir: Path,
) -> list[str]:
    base = minimal_arguments(path, checkpoint, image, tmp)
    command = COMMANDS[path]
    if isinstance(param, click.Argument):
        position = [p for p in command.params if isinstance(p, click.Argument)].index(param)
        base = [*base]
        base[position] = bad
        tested: list[str] = []
    else:
        flag = param.opts[0]
        if flag in base:
            at = base.index(flag)
            base = base[:at] + base[at + 2 :]
        tested = [flag, bad]
    has_outdir = any(isinstance(p, click.Option) and "--outdir" in p.opts for p in command.params)
    destination = ["--outdir", str(outdir)] if has_outdir and "--outdir" not in param.opts else []
    return [*path, *tested, *base, *destination]


@pytest.mark.parametrize(
    "arguments",
    [
        ["apply", "--direction", "age", "--strength", "nan"],
        ["apply", "--direction", "age", "--strength", "inf"],
        ["apply", "--direction", "age", "--strength", "-3:inf:7"],
        ["generate", "--trunc", "nan"],
        ["generate", "--trunc", "3"],
        ["metrics", "fid", "--trunc", "inf"],
        ["interpolate", "a", "b", "--alpha", "nan"],
        ["train", "--lr", "nan"],
    ],
    ids=lambda a: " ".join(a),
)
def test_non_finite_and_meaningless_numbers_are_refused(arguments: list[str], tmp_path: Path) -> None:
    destination = ["--json", str(tmp_path / "m.json")] if arguments[0] == "metrics" else ["--outdir", str(tmp_path)]
    result = CliRunner().invoke(cli, [*arguments, *destination])
    assert result.exit_code == 2 and "Traceback" not in result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and arguments[-2] in error[0], result.output


def test_a_strength_far_beyond_a_unit_direction_is_used_with_a_warning(tmp_path: Path) -> None:
    missing = tmp_path / "missing.safetensors"
    result = CliRunner().invoke(cli, ["apply", "--strength", "1e30", "--direction", "age", "--latents", str(missing)])
    assert "warning: '--strength' 1e+30 is outside the usual range [-10, 10]" in result.stderr
    assert result.exit_code == 2 and "'--latents'" in result.output  # the strength itself was accepted
    assert "beyond [-10, 10] a warning" in " ".join(CliRunner().invoke(cli, ["apply", "--help"]).output.split())
    assert "outside [-1, 2] are refused" in " ".join(CliRunner().invoke(cli, ["generate", "--help"]).output.split())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_command_ends_with_one_line_status_130_and_no_output(tmp_path: Path, signum: int) -> None:
    outdir = tmp_path / "faces" / "run"
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    arguments = ["dataset", "synthfaces", "--num", "100000", "--size", "32", "--no-progress", "--outdir", str(outdir)]
    process = subprocess.Popen(
        [sys.executable, "-m", "stylegan_edit.cli", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (outdir.is_dir() and any(outdir.glob("*.png"))):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["interrupted"] and stdout == ""
    assert not (tmp_path / "faces").exists()
