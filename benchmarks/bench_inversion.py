"""One inversion benchmark: every method (`inversion_methods.py`) on the same held-out SynthFaces renders and the
same real face photos, each method and image set in a fresh process.

Image sets: held-out SynthFaces photo renders (`heldout.py`), skimage's astronaut (FFHQ-aligned when dlib finds the
face) and the first faces of skimage's `lfw_subset` (25 px grey crops, resized), see `real_faces.py`.
Columns: PSNR; the perceptual distance `project` reports (LPIPS-VGG when torchvision's VGG16 weights are cached,
else the named fallback); dlib's identity similarity; editability: a bundled direction (`--edit`) applied to the
codes at -strength, 0, +strength and rendered by the method's generator (PTI's and HyperStyle's tuned ones), per
unit strength the change of the target's classifier logit and the mean |probability change| of the other
attributes (leakage), with the generator's own samples as the reference row; seconds per image of the inversion
(encoder passes, optimisation, tuning; methods under 5 s for the set are timed on a second run, after a warm-up);
peak resident memory of the method's fresh process (`peak_memory.py`).

    OMP_NUM_THREADS=1 python benchmarks/bench_inversion.py --markdown OUT.md          # 5 renders, astronaut, 2 LFW
    OMP_NUM_THREADS=1 python benchmarks/bench_inversion.py --quick                    # smoke run, a few minutes
    ... --restyle-psp FILE --restyle-e4e FILE --hyperstyle FILE                        # the methods that need files
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from inversion_methods import METHODS, Method, Settings, method

SETS = {"renders": "held-out renders", "astronaut": "astronaut", "lfw": "LFW faces"}
REFERENCE = "the generator's own W codes (reference)"
DASH = "–"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default=None, help="Checkpoint or bundled name (default: synthfaces-64).")
    parser.add_argument("--num-renders", type=int, default=5, help="Held-out SynthFaces renders.")
    parser.add_argument("--lfw", type=int, default=2, help="Faces of skimage's lfw_subset (0: none).")
    parser.add_argument("--sets", default="renders,astronaut,lfw", help="Image sets: renders, astronaut, lfw.")
    parser.add_argument("--methods", default=",".join(m.key for m in METHODS), help="Methods to run, by key.")
    parser.add_argument("--steps", type=int, default=1000, help="Projection steps (also PTI's W pivot).")
    parser.add_argument("--refine-steps", type=int, default=100, help="L-BFGS steps after an encoder.")
    parser.add_argument("--tune-steps", type=int, default=350, help="PTI's tuning steps (at most).")
    parser.add_argument("--restyle-psp", default=None, help="ReStyle-pSp encoder file (none: skipped).")
    parser.add_argument("--restyle-e4e", default=None, help="ReStyle-e4e encoder file (none: skipped).")
    parser.add_argument("--restyle-iterations", type=int, default=5, help="ReStyle's iterations.")
    parser.add_argument("--hyperstyle", default=None, help="HyperStyle file (none: skipped).")
    parser.add_argument("--hyperstyle-iterations", type=int, default=5, help="HyperStyle's iterations.")
    parser.add_argument("--edit", default="age", help="Bundled direction of the editability columns.")
    parser.add_argument("--strength", type=float, default=2.0, help="Its strength: edits at -s, 0 and +s.")
    parser.add_argument("--reference-samples", type=int, default=20, help="Generator samples of the reference row.")
    parser.add_argument("--quick", action="store_true", help="Smoke run: 1 render, 1 LFW face, a few steps.")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per process.")
    parser.add_argument("--markdown", default=None, help="Also write the table (and the command) to this file.")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.num_renders, args.lfw, args.steps, args.refine_steps, args.tune_steps = 1, 1, 20, 5, 10
        args.reference_samples = 4
    args.sets = [s for s in args.sets.split(",") if s and not (s == "lfw" and args.lfw == 0)]
    if unknown := set(args.sets) - set(SETS):
        parser.error(f"unknown --sets {', '.join(sorted(unknown))} (use {', '.join(SETS)})")
    try:
        args.methods = [method(key) for key in args.methods.split(",") if key]
    except ValueError as exc:
        parser.error(str(exc))
    return args


def settings_of(args: argparse.Namespace) -> Settings:
    fields = Settings.__dataclass_fields__
    return Settings(**{name: getattr(args, name) for name in fields})


def run_job(argv: list[str], key: str, image_set: str) -> tuple[dict[str, Any] | None, str]:
    """One method on one image set in a fresh process: its result, or None and the error's last line."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, __file__, *argv, "--worker", f"{key}:{image_set}", "--result", str(out)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not out.is_file():
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            return None, lines[-1] if lines else f"exit status {done.returncode}"
        return json.loads(out.read_text()), ""


def _number(value: float | None, digits: int) -> str:
    return DASH if value is None or math.isnan(value) else f"{value:.{digits}f}"


def table_row(images: str, label: str, result: dict[str, Any] | None) -> str:
    if result is None:
        return f"| {images} | {label} | " + " | ".join([DASH] * 7) + " |"
    identity = _number(result.get("identity"), 3)
    if result.get("identity_found") not in (None, result["num_images"]):
        identity += f" ({result['identity_found']}/{result['num_images']})"
    peak = result.get("peak_mib")
    memory = DASH if peak is None else f"{peak:.0f} (+{peak - result['setup_mib']:.0f})"
    cells = [
        _number(result.get("psnr"), 2),
        _number(result.get("perceptual"), 4),
        identity,
        _number(result.get("edit_logit"), 2),
        _number(result.get("leakage"), 3),
        _number(result.get("seconds_per_image"), 3 if (result.get("seconds_per_image") or 0) < 1 else 1),
        memory,
    ]
    return f"| {images} | {label} | " + " | ".join(cells) + " |"


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.worker:
        from inversion_worker import work

        work(args, settings_of(args))
        return
    settings = settings_of(args)
    jobs: list[tuple[str, Method | None, str]] = [("samples", None, REFERENCE)]
    jobs += [(image_set, m, m.label(settings)) for image_set in args.sets for m in args.methods]
    skipped = {m.key: reason for m in args.methods if (reason := m.skip(settings)) is not None}
    for m in args.methods:
        if m.key in skipped:
            print(f"skipped: {m.label(settings)}: {skipped[m.key]}", flush=True)
    rows: list[str] = []
    results: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    began = time.perf_counter()
    for number, (image_set, entry, label) in enumerate(jobs, 1):
        key = "reference" if entry is None else entry.key
        result, error = (None, "") if key in skipped else run_job(argv, key, image_set)
        if error:
            print(f"failed: {label} on {SETS.get(image_set, image_set)}: {error}", flush=True)
        if result is not None:
            results.append(result)
            notes.setdefault(image_set, result["notes"])
            print(
                f"[{number}/{len(jobs)}] {label}, {image_set}: done after {time.perf_counter() - began:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        images = "generator samples" if entry is None else SETS[image_set]
        count = f" ({result['num_images']})" if result is not None else ""
        rows.append(table_row(images + count, label, result))
    lines = header(args, results, notes) + rows
    print("\n".join(lines))
    if args.markdown:
        command = "OMP_NUM_THREADS=1 python benchmarks/bench_inversion.py " + " ".join(argv)
        Path(args.markdown).write_text("```bash\n" + command.strip() + "\n```\n\n" + "\n".join(lines) + "\n")
        print(f"wrote {args.markdown}")


def header(args: argparse.Namespace, results: list[dict[str, Any]], notes: dict[str, list[str]]) -> list[str]:
    perceptual = sorted({r["perceptual_name"] for r in results if r.get("perceptual_name")}) or ["-"]
    memory = sorted({r["memory_method"] for r in results if r.get("memory_method")}) or ["-"]
    network = next((r["network"] for r in results), args.network or "default network")
    lines = [
        f"Inversion of the same images by every method: {network}, CPU, {args.threads} torch thread(s) per process.",
        f"perceptual: {', '.join(perceptual)}. identity: cosine of dlib's face descriptors (in brackets: faces found",
        f"/ images, where dlib missed some). {args.edit} logit / leakage: per unit strength of the bundled",
        f"`{args.edit}` direction at -{args.strength:g}, 0, +{args.strength:g}: the change of its classifier logit /",
        "the mean |probability change| of the other attributes. s / image: the inversion's wall time. peak MiB:",
        f"{', '.join(memory)}, in a fresh process per row; in brackets, above that process's RSS after",
        "loading torch, the network, the metrics' models and the targets.",
    ]
    for image_set, lines_of_set in notes.items():
        lines += [f"{SETS.get(image_set, image_set)}: {note}" for note in lines_of_set[:3]]
    lines += [
        "",
        f"| images | method | PSNR (dB) | perceptual | identity | {args.edit} logit | leakage | s / image | peak MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    return lines


if __name__ == "__main__":
    main(sys.argv[1:])
