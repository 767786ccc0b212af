"""What sealed ledger checkpoints cost per report, as a share of the time a report takes, without
and with an RFC 3161 timestamp authority (certomancer's Animator on loopback, as in the tests).

    python benchmarks/bench_checkpoint.py [--registrations 50] [--incidents 3]

Two measurements, one run each, printed with their ratio:
- report time: a real batch (demo model, one synthetic video with `--incidents` flagged clips,
  in-process worker, after a warm-up batch) with a checkpoint forced after every registered
  unit; the time per report is the batch's wall time (its scan included, its checkpoints
  excluded) over its reports; the checkpoint time is measured inside it;
- checkpoint time on a 50-report ledger: `--registrations` report folders (copies of the test
  fixture report) registered one by one, a checkpoint after each, so the ledger grows as in a
  50-report batch; the median checkpoint time over them.
A 50-report batch of real reports takes too long for a benchmark on 2 cores, hence the split.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from fixtures.identities import make_identities, signed_report
from fixtures.sealed_batch import register
from pki import serve_local_pki

import auditor.batch.sealing as sealing
from auditor.archive.checkpoint import write_checkpoint
from auditor.keys import SigningIdentity


def timed(calls: list[float], function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            calls.append(time.perf_counter() - start)

    return wrapper


def real_batch(base: Path, seal: SigningIdentity, incidents: int, tsa_url: str | None) -> tuple[float, int, list[float]]:
    """(seconds per report, reports, checkpoint times) of a batch over one synthetic video."""
    from auditor.batch.executors import open_executor
    from auditor.batch.inputs import collect_inputs
    from auditor.batch.run import BatchSettings, run_batch
    from auditor.batch.tasks import DetectorSpec
    from auditor.demo import demo_model_path
    from auditor.signing.seal import SealSettings
    from auditor.synthetic import make_clip
    from auditor.video import write_video

    labels = [("fight", 101), ("normal", 12), ("fall", 102), ("normal", 13), ("fight", 103), ("normal", 14), ("fall", 104)]
    frames = np.concatenate([make_clip(label, seed).frames for label, seed in labels[: 2 * incidents - 1]])
    (base / "cam").mkdir(parents=True)
    write_video(base / "cam" / "clip.avi", frames, 10.0)
    checkpoints: list[float] = []
    sealing.Sealer.now_and_then = sealing.Sealer.seal  # type: ignore[method-assign]  # one after every unit: the worst case
    sealing.checkpoint.write_checkpoint = timed(checkpoints, write_checkpoint)  # type: ignore[attr-defined]
    settings = BatchSettings(spec=DetectorSpec(str(demo_model_path()), None, None))
    start = time.perf_counter()
    summary = run_batch(collect_inputs([base / "cam"]), base / "out", settings, SealSettings(seal, tsa_url), open_executor)
    wall = time.perf_counter() - start
    reports = summary.count("reported")
    return (wall - sum(checkpoints)) / max(reports, 1), reports, checkpoints


def fifty(base: Path, seal: SigningIdentity, registrations: int, tsa_url: str | None) -> list[float]:
    """The checkpoint times of a ledger growing to `registrations` reports."""
    report = signed_report(base / "report", seal)
    out = base / "out"
    (out / "reports").mkdir(parents=True)
    times: list[float] = []
    original = write_checkpoint
    import fixtures.sealed_batch as fixture

    fixture.write_checkpoint = lambda out, seal: timed(times, original)(out, seal, tsa_url=tsa_url)  # type: ignore[assignment]
    for number in range(1, registrations + 1):
        register(out, report, f"r{number:03d}", number, seal)
    fixture.write_checkpoint = original
    size = (out / "ledger.jsonl").stat().st_size
    print(f"  ledger after {registrations} reports and {registrations} checkpoints: {size / 1024:.0f} KiB")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=50)
    parser.add_argument("--incidents", type=int, default=3, choices=range(1, 5))
    args = parser.parse_args()
    for name in ("pyhanko", "pyhanko_certvalidator", "werkzeug"):  # the TSA root is not the batch's: logged, not fatal
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        seal = make_identities(base / "keys").seal
        real_batch(base / "warm-up", seal, 1, None)  # TensorFlow and the model loaded once, not counted
        with serve_local_pki(base / "pki") as pki:
            tsa_url = pki.tsa_url
            for label, url in (("no TSA", None), ("TSA on loopback", tsa_url)):
                print(f"{label}:")
                per_report, reports, inside = real_batch(base / f"batch-{bool(url)}", seal, args.incidents, url)
                print(f"  real batch: {reports} reports, {per_report:.2f} s per report (checkpoints excluded); "
                      f"{len(inside)} checkpoints in it, median {statistics.median(inside) * 1000:.1f} ms")
                times = fifty(base / f"fifty-{bool(url)}", seal, args.registrations, url)
                median = statistics.median(times)
                print(f"  {args.registrations} registrations: checkpoint median {median * 1000:.1f} ms, "
                      f"max {max(times) * 1000:.1f} ms")
                print(f"  overhead per report, one checkpoint per report: {median / per_report:.2%} of report time "
                      f"(in the real batch: {statistics.median(inside) / per_report:.2%})")


if __name__ == "__main__":
    main()
