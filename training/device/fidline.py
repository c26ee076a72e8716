"""One line of a `metrics fid --json` file: kimg, FID, real-vs-real FID, ratio, the largest frequency gaps and
the largest label-correlation gap (generated / real).

With `--best RUN_DIR`: the path of the evaluated snapshot with the lowest ratio instead (ties: the later one).
"""

import json
import pathlib
import sys

if sys.argv[1] == "--best":
    work = pathlib.Path(sys.argv[2])
    rows = [(json.loads(p.read_text())["ratio"], p.stem) for p in sorted((work / "fid").glob("*.json"))]
    ratio, stem = min(rows, key=lambda row: (row[0], -int(row[1].split("-")[-1])))
    print(work / "run" / f"{stem}.safetensors")
else:
    d = json.loads(pathlib.Path(sys.argv[1]).read_text())
    gaps = {k: d["frequency_generated"][k] - d["frequency_real"][k] for k in d["frequency_real"] if k != "toon"}
    worst = sorted(gaps.items(), key=lambda kv: -abs(kv[1]))[:3]
    kimg = d["network"].split("-")[-1].split(".")[0]
    line = f"{kimg} {d['fid']:.2f} {d['baseline_fid']:.2f} {d['ratio']:.2f} "
    line += " ".join(f"{k} {v:+.3f}" for k, v in worst)
    for gap in d.get("label_correlation_gaps", [])[:1]:  # written since 2026-11-23
        line += f" | {'~'.join(gap['attributes'])} {gap['generated']:+.2f}/{gap['real']:+.2f}"
    print(line)
