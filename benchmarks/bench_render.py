"""Render time of the demo report: evidence record → report.html + report.pdf (PDF/A-3b).

Builds the demo report once (unsigned: signing is not rendering), then prints the median wall
time over --repeats runs, after one warm-up, of:
  html           render_html   (Jinja2, images inlined)
  pdf            render_pdf    (Jinja2 + WeasyPrint layout + PDF/A writing)
  write_report   both, written atomically: what `auditor render` and `auditor demo` do
The record-and-reports issue sets a target of write_report ≤ 1 s (median of 5).

    python benchmarks/bench_render.py [--repeats 5] [--folder DIR]

--folder reuses a report folder (for example `demo-output/report`) instead of building one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from auditor.demo import run_demo
from auditor.evidence import load_record
from auditor.report import render_html, render_pdf, write_report


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up: fonts, compiled templates
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


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
        for name, fn in (
            ("html", lambda: render_html(record, folder)),
            ("pdf", lambda: render_pdf(record, folder)),
            ("write_report", lambda: write_report(record, folder, out_dir=out)),
        ):
            median, times = median_seconds(fn, args.repeats)
            print(f"{name:13s} median {median:.3f} s   runs {' '.join(f'{t:.3f}' for t in times)}")


if __name__ == "__main__":
    main()
