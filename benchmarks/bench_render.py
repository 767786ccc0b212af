"""Render time of the demo report: evidence record → report.html + report.pdf (PDF/A-3b).

Builds the demo report once (unsigned: signing is not rendering) in this process, so TensorFlow
and the demo model are loaded as they are in `auditor demo`, then prints the median wall time
over --repeats rounds (each runs every line once), after one warm-up round, of:
  html                 render_html   (Jinja2; the pictures referenced by their paths)
  pdf                  render_pdf    (Jinja2 + WeasyPrint layout + PDF/A writing)
  write_report         both, written atomically: what `auditor render` and `auditor demo` do
  write_report, gc on  the same with every object visible to the garbage collector during layout
                       (report.py keeps the objects that existed before rendering out of it)
  python loop          5,000,000 additions in pure Python: a yardstick for the machine's speed
                       at that moment (0.21 s in this shared machine's fast phases, up to 0.37 s
                       in its slow ones)
The record-and-reports issue sets a target of write_report ≤ 1 s (median of 5).
The pictures of frames are JPEG files, which WeasyPrint embeds as they are (it decodes and
recompresses PNG, which cost about 0.2 s per report when they were PNG).

    python benchmarks/bench_render.py [--repeats 5] [--folder DIR]

--folder renders an existing report folder (for example `demo-output/report`) instead, in a
process without TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from auditor.demo import run_demo
from auditor.evidence import load_record
from auditor.report import pdf as report_pdf
from auditor.report.document import write_report
from auditor.report.html import render_html
from auditor.report.pdf import render_pdf


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times of each function, run in turn `repeats` times after one warm-up round, so that
    a slow phase of a shared machine does not fall on one line only."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if round_:
                times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=Path, help="an existing report folder to render")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or run_demo(Path(tmp) / "demo", sign=False, progress=lambda _: None).folder
        record = load_record(folder / "evidence.json")
        out = Path(tmp) / "rendered"
        pdf = render_pdf(record, folder)
        print(f"demo report: {len(record.explanations.images)} images, PDF {len(pdf) / 1e3:.0f} kB")
        timings = interleaved_medians({
            "html": lambda: render_html(record, folder),
            "pdf": lambda: render_pdf(record, folder),
            "write_report": lambda: write_report(record, folder, out_dir=out),
            "write_report, gc on": lambda: without_freezing(lambda: write_report(record, folder, out_dir=out)),
            "python loop": python_loop,
        }, args.repeats)
        for name, times in timings.items():
            runs = " ".join(f"{t:.3f}" for t in times)
            print(f"{name:20s} median {statistics.median(times):.3f} s   runs {runs}")


def python_loop() -> int:
    total = 0
    for i in range(5_000_000):
        total += i
    return total


def without_freezing(fn: Callable[[], object]) -> object:
    frozen = report_pdf._older_objects_left_to_refcounting
    report_pdf._older_objects_left_to_refcounting = contextlib.nullcontext
    try:
        return fn()
    finally:
        report_pdf._older_objects_left_to_refcounting = frozen


if __name__ == "__main__":
    main()
