"""The desk over a 100-report batch: the server's memory (RSS, psutil) and the time to show the
queue, first (every report verified) and again (verified folders cached until a file changes),
with its 100 thumbnails, one report's page, and one decision.

    python benchmarks/bench_desk.py [--reports 100]

The batch is built cheaply: one small sealed report with the review form (the tests' fixture
report: 48x48 synthetic frames, its pictures, no clip) copied N times under OUT/reports, each copy
registered in the ledger and checkpointed by the seal, as `auditor batch` leaves a folder, without
running a detector. The desk runs as the officer runs it: `python -m auditor desk OUT` in a
subprocess, asked over HTTP on loopback.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from fixtures.identities import PASSPHRASE, make_identities, templated_report
from fixtures.sealed_batch import sealed_batch

MiB = 1024 * 1024


def build(base: Path, count: int) -> tuple[Path, Path, Path]:
    """OUT with `count` registered copies of one sealed report, the trusted root, and a reviewer."""
    identities = make_identities(base / "keys")
    report = templated_report(base / "report", identities.seal)
    names = tuple(f"cam1-{number:04d}" for number in range(1, count + 1))
    out = sealed_batch(base / "out", report, identities.seal, names)
    return out, identities.seal_dir / "root.cert.pem", base / "keys" / "reviewer"


def decide(opener: urllib.request.OpenerDirector, base: str, name: str) -> float:
    """Seconds to sign a decision on report `name` through the desk's form."""
    _, page = timed(opener, f"{base}/report/{name}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.decode())
    assert csrf is not None
    form = {"csrf": csrf.group(1), "decision": "confirm", "reasons": "I watched the whole clip; the alert is right.",
            "minutes": "2", "bias": "yes", "passphrase": PASSPHRASE}
    start = time.perf_counter()
    with opener.open(f"{base}/report/{name}/decision", urllib.parse.urlencode(form).encode(), timeout=600) as answer:
        assert 'id="saved"' in answer.read().decode()
    return time.perf_counter() - start


def timed(opener: urllib.request.OpenerDirector, url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with opener.open(url, timeout=600) as answer:
        data = answer.read()
    return time.perf_counter() - start, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100)
    count = parser.parse_args().reports
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out, root, reviewer = build(Path(tmp), count)
        print(f"batch of {count} reports built in {time.perf_counter() - start:.1f} s")
        desk = subprocess.Popen([sys.executable, "-m", "auditor", "desk", str(out), "--trust", str(root), "--as", str(reviewer),
                                 "--no-browser"],
                                stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            assert desk.stdout is not None
            url = desk.stdout.readline().split(" at ", 1)[1].strip()
            server = psutil.Process(desk.pid)
            idle = server.memory_info().rss
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            first, page = timed(opener, url)
            again, _ = timed(opener, url.split("?", 1)[0])
            base = url.split("/?", 1)[0]
            thumbnails = re.findall(r'<img src="([^"]+)"', page.decode())
            start = time.perf_counter()
            for path in thumbnails:
                timed(opener, base + path)
            pictures = time.perf_counter() - start
            report, _ = timed(opener, f"{base}/report/cam1-0001")
            served = server.memory_info().rss
            decision = decide(opener, base, "cam1-0001")
        finally:
            desk.terminate()
            desk.wait(timeout=30)
    rows = page.decode().count('class="row')
    print(f"queue of {rows} reports: first {first:.2f} s (asked at once after start: it waits for every report to be verified), again {again:.2f} s (cached); "
          f"{len(thumbnails)} thumbnails {pictures:.2f} s; a report's page {report:.2f} s")
    print(f"a decision (sign the PDF revision and review-1.json, register it, rewrite the index): {decision:.2f} s")
    print(f"desk RSS: {idle / MiB:.0f} MiB idle, {served / MiB:.0f} MiB after serving the queue, thumbnails and a report")


if __name__ == "__main__":
    main()
