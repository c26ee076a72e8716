"""CPU time of one photo through an official 1024 px pSp / e4e / ReStyle checkpoint: encode, decode, peak memory.

Each checkpoint is written with random weights in the official key layout (the test helpers
`tests/official_checkpoints.py` and `tests/official_restyle_checkpoints.py`; weights do not change the time) and
read back by `load_encoder` / `load_generator`, as a user's `e4e_ffhq_encode.pt` would be. The photo is
scikit-image's astronaut (or `--photo`), centre-cropped and resized to the checkpoint's resolution.

Per model, in a fresh process (so the peak resident memory is the model's own): the load time, then, over `--runs`
runs after one warm-up, the median (and fastest) time of our encode (`encoder.encode`; ReStyle: `--iterations`
refinements, each one rendering at full resolution), of our decode (`generator.synthesis`, constant noise), and of
the same forward written in plain functional PyTorch eager by the test helpers (the baseline, same process, same
photo), with the largest difference between the two codes. Peak RSS is measured after our runs, before the baseline
loads its own copy of the weights.

    python benchmarks/bench_official_encoders.py                       # all four at 1024 px, 3 runs
    python benchmarks/bench_official_encoders.py --models e4e --runs 5 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

REPO = Path(__file__).resolve().parents[1]
MODELS = ("psp", "e4e", "restyle-psp", "restyle-e4e")
GOALS = {"e4e": 3.0, "restyle-psp": 12.0, "restyle-e4e": 12.0}  # seconds for one photo, encode + decode
RESTYLE_TYPES = {"restyle-psp": "BackboneEncoder", "restyle-e4e": "ProgressiveBackboneEncoder"}


def _helpers() -> Any:
    sys.path.insert(0, str(REPO))
    from tests import official_checkpoints

    return official_checkpoints


def write_checkpoint(model: str, path: Path, size: int) -> None:
    """A random-weight checkpoint of `model` at `size` px in the official layout."""
    helpers = _helpers()
    if model == "psp":
        helpers.write_psp_checkpoint(path, output_size=size)
    elif model == "e4e":
        helpers.write_e4e_checkpoint(path, stylegan_size=size)
    else:
        from tests.official_restyle_checkpoints import write_restyle_checkpoint

        write_restyle_checkpoint(path, encoder_type=RESTYLE_TYPES[model], output_size=size)


def read_photo(photo: Path | None, size: int) -> Tensor:
    from PIL import Image

    from stylegan_edit.images import center_crop_resize, from_pil, read_image

    if photo is not None:
        image = read_image(photo)
    else:
        try:
            from skimage import data

            image = Image.fromarray(data.astronaut())
        except ImportError:
            image = Image.fromarray((torch.rand(size, size, 3) * 255).to(torch.uint8).numpy())
    return from_pil(center_crop_resize(image, size))


def timed(runs: int, work: Callable[[], Any], cpu: list[float] | None = None) -> tuple[list[float], Any]:
    """One warm-up call, then `runs` timed calls; the wall seconds of each (their CPU seconds, all threads
    together, appended to `cpu`: on a busy machine wall time grows, CPU time much less) and the last result."""
    result = work()
    seconds = []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = work()
        seconds.append(time.perf_counter() - began)
        if cpu is not None:
            cpu.append(time.process_time() - began_cpu)
    return seconds, result


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux


def reference_forward(model: str, path: Path, photo: Tensor, iterations: int) -> tuple[Callable[[], Tensor], Any]:
    """The official forward in plain functional eager PyTorch (the test helpers): an encode and a decode."""
    helpers = _helpers()
    from stylegan_edit.encoders.official.encoder import official_input
    from tests import rosinality_reference
    from tests.official_restyle_checkpoints import reference_restyle, split

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    encoder, decoder = split(checkpoint, "encoder"), split(checkpoint, "decoder")
    size = photo.shape[-1]
    n_styles = helpers.n_styles_for(size)
    x = official_input(photo, channels=3, device=torch.device("cpu"))

    def encode() -> Tensor:
        with torch.no_grad():
            if model in RESTYLE_TYPES:
                return reference_restyle(checkpoint, x, iterations)[-1]
            raw = (helpers.reference_gradual_codes if model == "psp" else helpers.reference_e4e_codes)(
                encoder, x, n_styles
            )
            return raw + checkpoint["latent_avg"]

    def decode(codes: Tensor) -> Tensor:
        with torch.no_grad():
            return rosinality_reference.synthesis(decoder, codes)

    return encode, decode


def measure(model: str, path: Path, photo_path: Path | None, runs: int, iterations: int) -> dict[str, Any]:
    """One model's row (run in its own process)."""
    from stylegan_edit.encoders import load_encoder
    from stylegan_edit.formats.native import load_generator

    began = time.perf_counter()
    encoder = load_encoder(path)
    generator = load_generator(path)
    load_seconds = time.perf_counter() - began
    photo = read_photo(photo_path, generator.img_resolution)
    rss_loaded = peak_rss_gib()

    def encode() -> Tensor:
        if model in RESTYLE_TYPES:
            return encoder.encode(photo, iterations).tensor  # type: ignore[call-arg]
        return encoder.encode(photo).tensor

    def decode(codes: Tensor) -> Tensor:
        with torch.no_grad():
            return generator.synthesis(codes, noise_mode="const")

    encode_cpu: list[float] = []
    decode_cpu: list[float] = []
    encode_s, codes = timed(runs, encode, encode_cpu)
    decode_s, image = timed(runs, lambda: decode(codes), decode_cpu)
    rss_peak = peak_rss_gib()
    reference_encode, reference_decode = reference_forward(model, path, photo, iterations)
    reference_encode_s, reference_codes = timed(runs, reference_encode)
    reference_decode_s, reference_image = timed(runs, lambda: reference_decode(reference_codes))
    return {
        "model": model,
        "size": generator.img_resolution,
        "iterations": iterations if model in RESTYLE_TYPES else None,
        "threads": torch.get_num_threads(),
        "load_s": load_seconds,
        "encode_s": encode_s,
        "decode_s": decode_s,
        "total_s": [e + d for e, d in zip(encode_s, decode_s, strict=True)],
        "total_cpu_s": [e + d for e, d in zip(encode_cpu, decode_cpu, strict=True)],
        "load_average": os.getloadavg()[0],
        "eager_encode_s": reference_encode_s,
        "eager_decode_s": reference_decode_s,
        "max_code_diff": float((codes - reference_codes).abs().max()),
        "code_scale": float(reference_codes.abs().max()),
        "max_image_diff": float((image - reference_image).abs().max()),
        "peak_rss_loaded_gib": rss_loaded,
        "peak_rss_gib": rss_peak,
    }


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f})"


def print_table(rows: list[dict[str, Any]], runs: int) -> None:
    print(f"seconds per photo, median of {runs} runs (fastest in brackets); {rows[0]['threads']} threads")
    header = (
        "| model | load s | encode | eager encode | decode | eager decode | encode + decode | CPU s / threads | "
        "goal | max code diff | peak RSS GiB (loaded / run) | load avg |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        name = r["model"] + (f"-{r['iterations']}" if r["iterations"] else "") + f" {r['size']}"
        goal = GOALS.get(r["model"])
        verdict = "-" if goal is None else f"{goal:g} s " + ("met" if min(r["total_s"]) <= goal else "missed")
        print(
            f"| {name} | {r['load_s']:.1f} | {median(r['encode_s'])} | {median(r['eager_encode_s'])} | "
            f"{median(r['decode_s'])} | {median(r['eager_decode_s'])} | {median(r['total_s'])} | "
            f"{statistics.median(r['total_cpu_s']) / r['threads']:.2f} | {verdict} | "
            f"{r['max_code_diff']:.1e} of {r['code_scale']:.1f} | "
            f"{r['peak_rss_loaded_gib']:.2f} / {r['peak_rss_gib']:.2f} | {r['load_average']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    parser.add_argument("--size", type=int, default=1024, help="generator resolution of the checkpoints")
    parser.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up")
    parser.add_argument("--iterations", type=int, default=5, help="ReStyle refinements")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads")
    parser.add_argument("--photo", type=Path, default=None, help="photo to encode (default: the astronaut)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the checkpoints are written and kept")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    parser.add_argument("--row", default=None, help=argparse.SUPPRESS)  # internal: measure one model here
    parser.add_argument("--write", default=None, help=argparse.SUPPRESS)  # internal: write one checkpoint here
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = args.workdir or Path(tempfile.gettempdir()) / "stylegan-edit-bench-official"
    if args.write:
        write_checkpoint(args.write, workdir / f"{args.write}-{args.size}.pt", args.size)
        return
    if args.row:
        path = workdir / f"{args.row}-{args.size}.pt"
        print(json.dumps(measure(args.row, path, args.photo, args.runs, args.iterations)))
        return
    workdir.mkdir(parents=True, exist_ok=True)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {', '.join(unknown)} (choose from {', '.join(MODELS)})")
    common = ["--size", str(args.size), "--threads", str(args.threads), "--workdir", str(workdir)]
    rows = []
    for model in models:
        if not (workdir / f"{model}-{args.size}.pt").is_file():  # its own process: the writer's memory is not counted
            print(f"writing a random {model} checkpoint at {args.size} px ...", file=sys.stderr)
            subprocess.run([sys.executable, __file__, "--write", model, *common], check=True)
        print(f"measuring {model} ...", file=sys.stderr)
        extra = ["--runs", str(args.runs), "--iterations", str(args.iterations)]
        extra += ["--photo", str(args.photo)] if args.photo else []
        done = subprocess.run(
            [sys.executable, __file__, "--row", model, *common, *extra], check=True, stdout=subprocess.PIPE, text=True
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print_table(rows, args.runs)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
