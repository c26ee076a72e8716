"""Fine-tuning on a small folder with and without ADA (arXiv:2006.06676): the bundled photo model `synthfaces-64`
fine-tuned on 100, 300 and 1,000 toon renders (a style it has not seen), each run with `--augment none` and
`--augment ada` for the same kimg. Each finished run is measured against fresh toon renders (the full style, seeds
far from the training ones) in the attribute classifier's feature space: FID and KID (NOT Inception's, compare
within the table only), PGGAN's MS-SSIM diversity beside the real images' value, and the final p. The paper's
claim in shape: at 100-300 images ADA is clearly better than no augmentation, and its samples show no augmentation.

Writes `OUTDIR/results.md` (the table, with the bundled `synthfaces-64` and `synthfaces-toon-64` as references),
`OUTDIR/results.json` and `OUTDIR/p_curves.png` (p against kimg per ADA run, drawn with PIL). Resumable: a finished
run (`result.json` in its folder) is skipped, an interrupted one continues from its state.

    python benchmarks/bench_ada.py --outdir runs/ada-study --kimg 200                # the study (hours on a CPU)
    python benchmarks/bench_ada.py --outdir /tmp/ada-smoke --kimg 0.5 --sizes 30 --num 200   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from stylegan_edit.data import write_dataset
from stylegan_edit.training import load_state
from stylegan_edit.workflow.small_data import small_data_metrics
from stylegan_edit.workflow.training import train_gan

SOURCE = "synthfaces-64"
REAL = "synthfaces:toon"
MODES = ("none", "ada")
COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75))


def training_folder(outdir: Path, size: int) -> Path:
    """`size` toon renders (seeds 0 ..) at 64 px, written once."""
    folder = outdir / "data" / f"toon-{size}"
    if len(list(folder.glob("*.png"))) != size:
        write_dataset(folder, size, style="toon", size=64, progress=False)
    return folder


def run_one(outdir: Path, size: int, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train (or continue, or skip) one run and measure its last snapshot."""
    run_dir = outdir / "runs" / f"{mode}-{size}"
    result_path = run_dir / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    changes: dict[str, Any] = {"total_kimg": args.kimg, "augment": mode, "snapshot_kimg": args.snapshot_kimg}
    if args.batch:
        changes["batch"] = args.batch
    if args.ada_kimg and mode == "ada":
        changes["ada_kimg"] = args.ada_kimg
    resume = (run_dir / "state.pt").exists()
    done_before = load_state(run_dir).state["cur_nimg"] if resume else 0
    start = time.perf_counter()
    if done_before < round(args.kimg * 1000):  # else: trained, killed before it was measured
        train_gan(
            run_dir,
            data=str(training_folder(outdir, size)),
            resume=resume,
            fine_tune=None if resume else SOURCE,
            changes={"total_kimg": args.kimg} if resume else changes,
            snapshot_metrics=args.snapshot_metrics,
            device=args.device,
        )
    seconds = time.perf_counter() - start
    state = load_state(run_dir).state
    trained_kimg = (state["cur_nimg"] - done_before) / 1000
    snapshot = sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]
    report = small_data_metrics(
        snapshot, real=REAL, num=args.num, num_real=args.num, seed=args.seed, device=args.device
    )
    result = {
        "size": size,
        "augment": mode,
        "kimg": state["cur_nimg"] / 1000,
        "final_p": float(state.get("augment_p", 0.0)),
        "seconds_per_kimg": seconds / trained_kimg if trained_kimg > 0 else None,
        **report.document(),
    }
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def reference(name: str, args: argparse.Namespace) -> dict[str, Any]:
    report = small_data_metrics(name, real=REAL, num=args.num, num_real=args.num, seed=args.seed, device=args.device)
    return {"size": "-", "augment": name, "kimg": "-", "final_p": "-", **report.document()}


def number(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| training images | augment | kimg | FID | KID | MS-SSIM (real) | final p |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        fid = number(r["fid"], 2) if r["fid"] is not None else "n/a"
        ms = f"{number(r['ms_ssim'])} ({number(r['ms_ssim_real'])})"
        lines.append(
            f"| {r['size']} | {r['augment']} | {number(r['kimg'], 1)} | {fid} | {number(r['kid'], 1)} | {ms} | "
            f"{number(r['final_p'])} |"
        )
    return "\n".join(lines) + "\n"


def p_curves(outdir: Path, sizes: list[int]) -> dict[str, list[tuple[float, float]]]:
    """kimg and p of each ADA run, from its `snapshot_metrics.jsonl` (one line per snapshot), else its
    `stats.jsonl` (one line per sample grid)."""
    curves = {}
    for size in sizes:
        run_dir = outdir / "runs" / f"ada-{size}"
        path = next((p for p in (run_dir / "snapshot_metrics.jsonl", run_dir / "stats.jsonl") if p.exists()), None)
        if path is not None:
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            curves[f"ADA, {size} images"] = [(0.0, 0.0)] + [(r["kimg"], r["augment_p"]) for r in records]
    return curves


def draw_curves(curves: dict[str, list[tuple[float, float]]], path: Path, *, y_label: str = "p") -> Path:
    """A line chart of `curves` (label -> points) as a PNG, drawn with PIL (matplotlib is not a dependency)."""
    width, height, left, right, top, bottom = 720, 420, 60, 20, 20, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    points = [pt for curve in curves.values() for pt in curve] or [(0.0, 0.0)]
    x_max = max(max(x for x, _ in points), 1e-6)
    y_max = max(max(y for _, y in points) * 1.1, 0.05)

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x / x_max * (width - left - right), height - bottom - y / y_max * (height - top - bottom)

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for i in range(6):
        x, y = x_max * i / 5, y_max * i / 5
        draw.text((at(x, 0)[0] - 10, height - bottom + 6), f"{x:.3g}", fill="black")
        draw.text((8, at(0, y)[1] - 6), f"{y:.2f}", fill="black")
        draw.line([at(0, y), at(x_max, y)], fill=(225, 225, 225))
    draw.text((width // 2 - 15, height - 22), "kimg", fill="black")
    draw.text((8, 2), y_label, fill="black")
    for index, (label, curve) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        draw.line([at(x, y) for x, y in curve], fill=colour, width=2)
        draw.text((left + 10, top + 8 + 14 * index), label, fill=colour)
    image.save(path)
    return path


def blend_figure(outdir: Path, size: int, path: Path, *, seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5)) -> Path:
    """Columns per seed row: the base model, its fine-tunes on `size` images without and with ADA, and the base
    blended with the ADA fine-tune (base below 16 px, fine-tune from 16 px up), all at truncation 0.7."""
    from stylegan_edit.images import make_grid
    from stylegan_edit.workflow import blend, generate

    def last_snapshot(mode: str) -> Path:
        return sorted((outdir / "runs" / f"{mode}-{size}").glob("network-snapshot-*.safetensors"))[-1]

    from stylegan_edit.formats import load_generator

    base = load_generator(SOURCE)
    tuned = {mode: load_generator(last_snapshot(mode)) for mode in MODES}
    columns = [base, tuned["none"], tuned["ada"], blend(base, tuned["ada"], swap_res=16)]
    rows = [generate(g, list(seeds), trunc=0.7).images for g in columns]
    tiles = torch.stack(rows, dim=1).flatten(0, 1)  # seed-major: one row per seed
    make_grid(tiles, ncols=len(columns), pad=2).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outdir", type=Path, default=Path("runs/ada-study"), help="Runs, data and results.")
    parser.add_argument("--kimg", type=float, default=200.0, help="Training length of every run.")
    parser.add_argument("--sizes", default="100,300,1000", help="Training set sizes, comma-separated.")
    parser.add_argument("--num", type=int, default=1000, help="Generated and real images per measurement.")
    parser.add_argument("--batch", type=int, default=None, help="Batch (default: the synthfaces-64 config's 16).")
    parser.add_argument(
        "--snapshot-kimg", type=float, default=20.0, help="Snapshot (and per-snapshot metric) interval."
    )
    parser.add_argument("--snapshot-metrics", type=int, default=64, help="Generated images per snapshot metric.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the measurements.")
    parser.add_argument("--modes", default=",".join(MODES), help="Augment modes to run (none, ada), comma-separated.")
    parser.add_argument(
        "--ada-kimg", type=float, default=None, help="ADA's adjustment speed (default: 100, for transfer)."
    )
    parser.add_argument("--figure", type=Path, default=None, help="Also draw the blend figure of the smallest size.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    args.outdir.mkdir(parents=True, exist_ok=True)
    for size in sizes:  # before any run, so that parallel lanes find the folders written
        training_folder(args.outdir, size)
    modes = args.modes.split(",")
    results = []
    for size in sizes:
        for mode in modes:
            result = run_one(args.outdir, size, mode, args)
            speed = f"{result['seconds_per_kimg']:.0f} s/kimg" if result["seconds_per_kimg"] else "measured only"
            scores = f"KID {result['kid']:.1f}, MS-SSIM {result['ms_ssim']:.3f}, p {result['final_p']:.3f}"
            print(f"{mode}-{size}: {scores}, {speed}", flush=True)
            results.append(result)
    results += [reference(SOURCE, args), reference("synthfaces-toon-64", args)]
    (args.outdir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    (args.outdir / "results.md").write_text(text)
    draw_curves(p_curves(args.outdir, sizes), args.outdir / "p_curves.png")
    if args.figure and set(modes) == set(MODES):
        blend_figure(args.outdir, min(sizes), args.figure)
    print(text)


if __name__ == "__main__":
    main()
