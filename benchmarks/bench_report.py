"""One real report end to end: the stage timings and the folder size of a sealed report on
vtest.avi (768×576, Debian's opencv-doc) with TimeDistributed(MobileNetV2 α 0.35, 112²) → GRU.

Each progress step of `report_video` is timed (seconds until the next step starts): wall-clock
seconds, and the CPU seconds of this process (all its threads), which other work on the machine
disturbs less; the load average before and after says how busy the machine was. Then the folder's
size is printed, in total and for the largest kinds of file.

    python benchmarks/bench_report.py [--frames 16] [--size 112] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from bench_explain import build_mobilenet_model
from fixtures.identities import make_identities

from auditor._tensorflow import keras
from auditor.detector import load_detector
from auditor.pipeline import report_video
from auditor.signing.seal import SealSettings

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
SIDECAR = """{"format": "auditor-sidecar/1", "name": "mobilenet-bench", "version": "1",
"class_names": ["normal", "fight", "fall"], "normal_class": "normal", "threshold": 0.5}"""


class StageClock:
    """Remembers when each progress step started, in wall-clock and process CPU seconds."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float, float]] = []

    def __call__(self, step: str) -> None:
        self.steps.append((step, time.perf_counter(), time.process_time()))

    def report(self) -> None:
        ends = [(wall, cpu) for _, wall, cpu in self.steps[1:]] + [(time.perf_counter(), time.process_time())]
        total = ends[-1][0] - self.steps[0][1]
        print("     wall      cpu  share  step")
        for (step, wall, cpu), (wall_end, cpu_end) in zip(self.steps, ends, strict=True):
            print(f"  {wall_end - wall:7.1f} s {cpu_end - cpu:6.1f} s  {100 * (wall_end - wall) / total:4.0f} %  {step}")
        print(f"  {total:7.1f} s {ends[-1][1] - self.steps[0][2]:6.1f} s         total (after loading the model)")


def folder_sizes(folder: Path) -> None:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for path in folder.rglob("*"):
        if path.is_file():
            by_kind[path.suffix or path.name].append(path.stat().st_size)
    total = sum(sum(sizes) for sizes in by_kind.values())
    print(f"  folder {total / 1e6:.2f} MB in {sum(len(s) for s in by_kind.values())} files")
    for kind, sizes in sorted(by_kind.items(), key=lambda item: -sum(item[1])):
        print(f"    {kind:12s} {len(sizes):3d} files {sum(sizes) / 1e6:7.2f} MB")
    for name in ("report.html", "report.pdf", "arrays.npz", "evidence.json"):
        if (folder / name).exists():
            print(f"    {name:14s} {(folder / name).stat().st_size / 1e6:7.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--keep", type=Path, help="copy the report folder here")
    args = parser.parse_args()
    if not VTEST.exists():
        sys.exit(f"{VTEST} is missing: install opencv-doc (.ci/install)")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        model_path = base / "mobilenet.keras"
        keras.utils.set_random_seed(0)  # the same weights every run: the same report, comparable runs
        build_mobilenet_model(args.frames, args.size).save(model_path)
        model_path.with_suffix(".json").write_text(SIDECAR, encoding="utf-8")
        seal = make_identities(base / "keys").seal
        start = time.perf_counter()
        detector = load_detector(model_path)
        print(f"TD(MobileNetV2 a=0.35)->GRU, T={args.frames}, {args.size}x{args.size}, on {VTEST.name}")
        print(f"  {time.perf_counter() - start:7.1f} s  loading the model")
        clock = StageClock()
        out = args.keep or base / "report"
        load = os.getloadavg()[0]
        report_video(VTEST, detector, out, seal=SealSettings(identity=seal), progress=clock)
        clock.report()
        print(f"  load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
        folder_sizes(out)


if __name__ == "__main__":
    main()
