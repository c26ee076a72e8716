"""1024 px speed on this CPU: synthesis, projection steps, encoders and NVIDIA's projector, one table.

Every row runs in a fresh subprocess, so that its peak memory (the process's max RSS, Python and torch included)
is its own. Beside the seconds per image: the convolution / matmul FLOPs of one image's work (counted by
`torch.utils.flop_counter`'s formulas), the rate it reaches as a fraction of the peak measured in this run (a large
convolution and matmul, float32 and bfloat16; a row running in bfloat16 is compared with the bfloat16 peak), and the
ratio to the figures committed in `benchmarks/figures/bench_1024.json` (above 1: slower than committed).
Networks are randomly initialised in NVIDIA's layout (config f: channel_base 32768, channel_max 512); the LPIPS
trunks use torchvision's weights when cached and random ones otherwise (the same FLOPs: timing only).

NVIDIA's row runs `projector.project` of a stylegan2-ada-pytorch checkout (`--nvidia-repo`, never copied here)
on the CPU, where its custom ops fall back to their reference code, with torchvision-VGG LPIPS standing in for its
VGG16 TorchScript file (which cannot be downloaded here); without a checkout the row is skipped with one line.

    python benchmarks/bench_1024.py --nvidia-repo ~/src/stylegan2-ada-pytorch
    python benchmarks/bench_1024.py --rows synthesis,step-lpips-vgg --batches 1     # a subset
    python benchmarks/bench_1024.py --write-figures                                  # record the compared figures
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

FIGURES = Path(__file__).parent / "figures" / "bench_1024.json"
RESOLUTION = 1024
LOSSES = ("lpips-vgg", "lpips-alex", "lpips-squeeze", "disc", "mse")


class FlopCount(TorchDispatchMode):
    """Counts convolution and matmul FLOPs (forward and backward) with `torch.utils.flop_counter`'s formulas;
    unlike `FlopCounterMode` it tracks no modules, so it also counts inside `torch.autograd.grad`."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **(kwargs or {}), out_val=out)
        return out


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def flops_of(run: Callable[[], object]) -> int:
    with FlopCount() as counter:
        run()
    return counter.total


def random_network() -> Any:
    from heldout import random_network_of

    from stylegan_edit.generators import DiscriminatorConfig, GeneratorConfig

    g_config = GeneratorConfig(img_resolution=RESOLUTION, channel_base=32768, channel_max=512)
    d_config = DiscriminatorConfig(img_resolution=RESOLUTION, channel_base=32768, channel_max=512)
    return random_network_of(g_config, d_config, torch.device("cpu"))


def ensure_lpips_trunks() -> str:
    """Point the torch hub at random torchvision trunk weights when the real ones are not cached."""
    import torchvision

    from stylegan_edit.perceptual.losses import LPIPS_TRUNK_FILES, lpips_weights_path

    if all(lpips_weights_path(trunk).is_file() for trunk in LPIPS_TRUNK_FILES):
        return "cached torchvision weights"
    hub = Path(tempfile.mkdtemp(prefix="bench1024-hub-"))
    (hub / "checkpoints").mkdir()
    builders = {"vgg": torchvision.models.vgg16, "alex": torchvision.models.alexnet}
    builders["squeeze"] = torchvision.models.squeezenet1_1
    for trunk, file in LPIPS_TRUNK_FILES.items():
        torch.save(builders[trunk](weights=None).state_dict(), hub / "checkpoints" / file)
    torch.hub.set_dir(str(hub))
    return "random trunk weights (none cached)"


def known_targets(generator: Any, batch: int) -> Tensor:
    from stylegan_edit.generators.sampling import z_from_seeds

    with torch.no_grad():
        ws = generator.mapping(z_from_seeds(generator, range(1000, 1000 + batch)), truncation_psi=0.7)
        return generator.synthesis(ws, noise_mode="const")


def projection_row(loss: str, batch: int, repeats: int, **settings: Any) -> tuple[float, int, str]:
    """Seconds per image of one W+ projection step (median of `repeats` after one), FLOPs per image."""
    from stylegan_edit.invert import Projector
    from stylegan_edit.perceptual.losses import perceptual_loss

    note = ensure_lpips_trunks() if loss.startswith("lpips") else ""
    network = random_network()
    generator = network.generator
    perceptual = None if loss == "mse" else perceptual_loss(loss, network)
    weights = {"perceptual_weight": 0.0, "mse_weight": 1.0} if perceptual is None else {}
    projector = Projector(space="w+", num_steps=repeats + 3, perceptual=perceptual, **weights, **settings)
    steps = projector.steps(generator, known_targets(generator, batch))
    next(steps)  # warm-up (and the compile, when asked for)
    with FlopCount() as counter:
        next(steps)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        next(steps)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / batch, counter.total // batch, note


def synthesis_row(batch: int, repeats: int, *, grad: bool, **kwargs: Any) -> tuple[float, int, str]:
    generator = random_network().generator
    ws = generator.mapping(torch.randn(batch, generator.z_dim, generator=torch.Generator().manual_seed(0)))

    def run() -> None:
        if not grad:
            with torch.no_grad():  # (under inference_mode the FLOP counter sees no convolutions)
                generator.synthesis(ws, **kwargs)
            return
        latent = ws.detach().requires_grad_(True)
        images = generator.synthesis(latent, noise_mode="const", **kwargs)
        torch.autograd.grad(images.square().sum(), [latent])

    return median_seconds(run, repeats) / batch, flops_of(run) // batch, ""


def official_encoder(project: str) -> nn.Module:
    from stylegan_edit.encoders.official import OfficialEncoder, OfficialSpec
    from stylegan_edit.encoders.official.e4e import Encoder4Editing
    from stylegan_edit.encoders.official.psp import GradualStyleEncoder

    torch.manual_seed(0)
    encoder = Encoder4Editing(n_styles=18) if project == "e4e" else GradualStyleEncoder(n_styles=18)
    kind = "Encoder4Editing" if project == "e4e" else "GradualStyleEncoder"
    spec = OfficialSpec(project, kind, RESOLUTION, 3, 18, True, False)  # type: ignore[arg-type]
    return OfficialEncoder(encoder.eval(), spec, torch.zeros(18, 512), "random").eval().requires_grad_(False)


def encoder_row(kind: str, batch: int, repeats: int) -> tuple[float, int, str]:
    """Our pSp / e4e for the 1024 generator, the official architectures, ReStyle's iterations, e4e + decoding."""
    network = random_network()
    generator = network.generator
    images = known_targets(generator, batch)
    run: Callable[[], object]
    if kind in ("psp", "e4e"):
        from stylegan_edit.encoders import encoder_for

        encoder = encoder_for(generator, kind, num_w_samples=1000).eval().requires_grad_(False)  # type: ignore[arg-type]
        run = lambda: encoder.encode(images)  # noqa: E731
    elif kind in ("official-psp", "official-e4e"):
        encoder = official_encoder(kind.removeprefix("official-"))
        run = lambda: encoder.encode(images)  # noqa: E731
    elif kind == "official-e4e-decode":
        encoder = official_encoder("e4e")

        def run() -> None:
            with torch.no_grad():
                generator.synthesis(encoder.encode(images).tensor, noise_mode="const")

    elif kind == "restyle-psp":
        from stylegan_edit.encoders.official.encoder import OfficialSpec
        from stylegan_edit.encoders.official.restyle import BackboneEncoder, ReStyleEncoder

        torch.manual_seed(0)
        spec = OfficialSpec("restyle_psp", "BackboneEncoder", RESOLUTION, 6, 18, True, False)
        restyle = ReStyleEncoder(
            BackboneEncoder(n_styles=18), generator, generator.mapping.w_avg.repeat(18, 1), spec, ""
        )
        restyle = restyle.eval().requires_grad_(False)
        run = lambda: restyle.encode(images)  # noqa: E731  (5 iterations, the official default)
    elif kind == "pti-step":
        from stylegan_edit.invert.pivotal import PivotalTuner
        from stylegan_edit.latents import Latents, LatentSpace
        from stylegan_edit.perceptual.losses import perceptual_loss

        note = ensure_lpips_trunks()
        pivots = Latents(generator.mapping.w_avg.repeat(batch, 18, 1), LatentSpace.W_PLUS)
        tuner = PivotalTuner(num_steps=repeats + 3, perceptual=perceptual_loss("lpips-vgg", network))
        steps = tuner.steps(generator, pivots, images)
        next(steps)
        with FlopCount() as counter:
            next(steps)
        seconds = median_seconds(lambda: next(steps), repeats)
        return seconds / batch, counter.total // batch, note
    else:
        raise ValueError(f"unknown encoder row {kind!r}")
    with torch.no_grad():
        return median_seconds(run, repeats) / batch, flops_of(run) // batch, ""


class NvidiaVGGStandIn(nn.Module):
    """Called as NVIDIA's VGG16 TorchScript file is (`vgg16(images_0_255, resize_images=False, return_lpips=True)`):
    the torchvision-VGG LPIPS features, unit-normalised, weighted by the square roots of LPIPS's linear layers and
    of 1 / (h w), flattened, so that `(a - b).square().sum()` is the LPIPS distance. Records the time of each call
    (one per projection step after the target's) and counts the FLOPs of the first step."""

    def __init__(self) -> None:
        super().__init__()
        from stylegan_edit.perceptual.losses import LPIPSLoss

        self.lpips = LPIPSLoss("vgg")
        self.calls: list[float] = []
        self.counter = FlopCount()  # counts the first step: from its VGG call to the next one

    def forward(self, images: Tensor, resize_images: bool = False, return_lpips: bool = True) -> Tensor:
        self.calls.append(time.perf_counter())
        if len(self.calls) == 2:
            self.counter.__enter__()
        elif len(self.calls) == 3:
            self.counter.__exit__(None, None, None)
        model = self.lpips.model
        features = model.net(model.scaling_layer(images / 127.5 - 1))
        parts = []
        for lin, feature in zip(model.lins, features, strict=True):
            unit = feature / (feature.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            weight = lin.model[-1].weight.reshape(1, -1, 1, 1).clamp_min(0).sqrt()
            parts.append((unit * weight / (unit.shape[2] * unit.shape[3]) ** 0.5).flatten(1))
        return torch.cat(parts, dim=1)


def nvidia_row(repo: Path, repeats: int) -> tuple[float, int, str]:
    """NVIDIA's projector step (its `project()`, w space with noise maps, fused modconv) at batch 1."""
    if "pkg_resources" not in sys.modules:  # its conv2d_gradfix imports it; new setuptools no longer ships it
        with contextlib.suppress(ImportError):
            import pkg_resources  # noqa: F401
    if "pkg_resources" not in sys.modules:
        import types

        from packaging.version import parse

        stand_in = types.ModuleType("pkg_resources")
        stand_in.parse_version = parse  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = stand_in
    sys.path.insert(0, str(repo))
    import dnnlib  # type: ignore[import-not-found]
    import projector  # type: ignore[import-not-found]
    from training.networks import Generator  # type: ignore[import-not-found]

    note = ensure_lpips_trunks()
    torch.manual_seed(0)
    synthesis = {"channel_base": 32768, "channel_max": 512}
    generator = Generator(512, 0, 512, RESOLUTION, 3, mapping_kwargs={"num_layers": 8}, synthesis_kwargs=synthesis)
    vgg = NvidiaVGGStandIn()
    dnnlib.util.open_url = lambda url, *args, **kwargs: contextlib.nullcontext(url)
    torch.jit.load = lambda *args, **kwargs: vgg
    target = (torch.rand(3, RESOLUTION, RESOLUTION, generator=torch.Generator().manual_seed(0)) * 255).float()
    projector.project(generator, target, num_steps=repeats + 2, device=torch.device("cpu"))
    steps = [later - earlier for earlier, later in zip(vgg.calls[2:], vgg.calls[3:], strict=False)]
    return statistics.median(steps), vgg.counter.total, f"stand-in VGG: {note}"


def peak_rates() -> dict[str, float]:
    """GFLOP/s of a 512-channel 3x3 convolution at 64 px (NHWC) and a 2048 matmul, float32 and bfloat16."""
    rates = {}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        x = torch.randn(1, 512, 64, 64).to(dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(512, 512, 3, 3).to(dtype)
        a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
        conv = 2 * 512 * 512 * 9 * 64 * 64 / median_seconds(lambda x=x, w=w: nn.functional.conv2d(x, w, padding=1), 5)
        matmul = 2 * 2048**3 / median_seconds(lambda a=a, b=b: a @ b, 5)
        rates[name] = max(conv, matmul) / 1e9
    return rates


# name -> (description, batches it runs at, runs in bfloat16, measure(batch, repeats, args))
Measure = Callable[[int, int, argparse.Namespace], tuple[float, int, str]]
ROWS: dict[str, tuple[str, tuple[int, ...], bool, Measure]] = {
    "synthesis": ("synthesis forward", (1, 8), False, lambda b, r, a: synthesis_row(b, r, grad=False)),
    "synthesis-bf16": (
        "synthesis forward, bfloat16",
        (1, 8),
        True,
        lambda b, r, a: synthesis_row(b, r, grad=False, low_precision=True),
    ),
    "grad-reference": (
        "forward + backward to W+, non-fused float32",
        (1,),
        False,
        lambda b, r, a: synthesis_row(b, r, grad=True, fused_modconv=False),
    ),
    "grad": ("forward + backward to W+, float32", (1,), False, lambda b, r, a: synthesis_row(b, r, grad=True)),
    "grad-bf16": (
        "forward + backward to W+, bfloat16",
        (1,),
        True,
        lambda b, r, a: synthesis_row(b, r, grad=True, low_precision=True),
    ),
    **{
        f"step-{loss}": (
            f"projection step, {loss} (defaults)",
            (1, 8),
            RESOLUTION >= 256,
            lambda b, r, a, loss=loss: projection_row(loss, b, r),
        )
        for loss in LOSSES
    },
    "step-lpips-vgg-fp32": (
        "projection step, lpips-vgg, float32",
        (1,),
        False,
        lambda b, r, a: projection_row("lpips-vgg", b, r, low_precision=False),
    ),
    "step-lpips-vgg-compiled": (
        "projection step, lpips-vgg, torch.compile",
        (1,),
        True,
        lambda b, r, a: projection_row("lpips-vgg", b, r, compile=True),
    ),
    **{
        kind: (f"encoder: {kind}", (1,), False, lambda b, r, a, kind=kind: encoder_row(kind, b, r))
        for kind in ("psp", "e4e", "official-psp", "official-e4e", "official-e4e-decode", "restyle-psp", "pti-step")
    },
    "nvidia-step": (
        "NVIDIA's projector step (w + noise)",
        (1,),
        False,
        lambda b, r, a: nvidia_row(a.nvidia_repo, r),
    ),
}


def child(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    if args.child == "peak":
        result: dict[str, Any] = {"rates": peak_rates()}
    else:
        seconds, flops, note = ROWS[args.child][3](args.batch, args.repeats, args)
        result = {"seconds": seconds, "flops": flops, "note": note}
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


def run_child(args: argparse.Namespace, name: str, batch: int) -> dict[str, Any] | str:
    command = [sys.executable, __file__, "--child", name, "--batch", str(batch), "--threads", str(args.threads)]
    command += ["--repeats", str(args.repeats)]
    if args.nvidia_repo:
        command += ["--nvidia-repo", str(args.nvidia_repo)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    return (done.stderr.strip().splitlines() or ["no output"])[-1]


def table(args: argparse.Namespace) -> Iterator[str]:
    previous = json.loads(FIGURES.read_text())["rows"] if FIGURES.is_file() else {}
    peak = run_child(args, "peak", 1)
    assert isinstance(peak, dict), peak
    rates = peak["rates"]
    yield (
        f"torch {torch.__version__}, {args.threads} threads, {RESOLUTION} px config f (random weights); peak "
        f"{rates['float32']:.0f} GFLOP/s float32, {rates['bfloat16']:.0f} bfloat16; vs committed: "
        f"{FIGURES.name if previous else 'none committed'}"
    )
    yield ""
    yield "| row | batch | s / image | GFLOP / image | of peak | peak memory | vs committed | note |"
    yield "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    figures: dict[str, dict[str, float]] = {}
    for name in args.rows:
        description, batches, low, _ = ROWS[name]
        if name == "nvidia-step" and not args.nvidia_repo:
            yield f"| {description} | 1 | - | - | - | - | - | skipped: no --nvidia-repo given |"
            continue
        for batch in [b for b in batches if b in args.batches]:
            result = run_child(args, name, batch)
            if isinstance(result, str):
                yield f"| {description} | {batch} | - | - | - | - | - | failed: {result[:80]} |"
                continue
            key = f"{name}@{batch}"
            figures[key] = {"seconds": result["seconds"], "peak_mb": result["peak_mb"]}
            rate = result["flops"] / result["seconds"] / 1e9
            fraction = rate / rates["bfloat16" if low else "float32"]
            before = previous.get(key)
            ratio = f"{result['seconds'] / before['seconds']:.2f}x" if before else "-"
            yield (
                f"| {description} | {batch} | {result['seconds']:.3f} | {result['flops'] / 1e9:.1f} | "
                f"{fraction:.0%} | {result['peak_mb'] / 1024:.2f} GB | {ratio} | {result['note']} |"
            )
    if args.write_figures:
        FIGURES.parent.mkdir(exist_ok=True)
        merged = {**previous, **figures}
        FIGURES.write_text(json.dumps({"threads": args.threads, "rows": merged}, indent=1, sort_keys=True) + "\n")
        yield f"\nwrote {len(figures)} figures to {FIGURES}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nvidia-repo", type=Path, default=None, help="a stylegan2-ada-pytorch checkout")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows (default: all)")
    parser.add_argument("--batches", default="1,8", help="batch sizes, for the rows that run them")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: the machine's 2 cores)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (the median is shown)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one row may take")
    parser.add_argument("--write-figures", action="store_true", help=f"record the figures in {FIGURES}")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    args.rows = [row for row in args.rows.split(",") if row]
    if unknown := [row for row in args.rows if row not in ROWS]:
        parser.error(f"unknown rows {', '.join(unknown)} (choose from {', '.join(ROWS)})")
    args.batches = [int(b) for b in args.batches.split(",") if b]
    for line in table(args):
        print(line, flush=True)


if __name__ == "__main__":
    main()
