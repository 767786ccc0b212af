"""Time to seal one report folder (PAdES on the PDF, detached CMS on the HTML, the record and the
manifest) with an RSA-3072 seal, wall and CPU time, median of N runs.

    python benchmarks/bench_sign.py [--runs 5]

The folder is the small fixture report of the tests; the key is parsed once per identity.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from fixtures.identities import build_report, make_identities

from auditor.signing.seal import sign_report_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        identities = make_identities(base / "keys")
        unsigned = build_report(base / "unsigned", identity=identities.seal)
        sign_report_folder(shutil.copytree(unsigned, base / "warm-up"), identities.seal)
        wall, cpu = [], []
        for index in range(runs):
            folder = shutil.copytree(unsigned, base / f"r{index}")
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            sign_report_folder(folder, identities.seal)
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.process_time() - start_cpu)
    print(f"sign_report_folder, RSA-3072, median of {runs}: "
          f"{statistics.median(wall) * 1000:.0f} ms wall, {statistics.median(cpu) * 1000:.0f} ms CPU")


if __name__ == "__main__":
    main()
