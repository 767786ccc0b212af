"""What long-term validation costs per report folder: sealing (PAdES on the PDF, detached CMS on
the HTML, the record and the manifest) at each level, and one `archive extend` of its PDF,
against the tests' local PKI (certomancer's Animator on loopback: TSA, OCSP, CRLs).

    python benchmarks/bench_ltv.py [--runs 5]

Levels, median wall time of N runs each (the small fixture report of the tests, P-256 keys):
- B-B: no timestamp, no revocation source (a seal without URLs, its keys folder without a CRL);
- B-T: the same with an RFC 3161 timestamp on each of the four signatures;
- B-LT local: the keys folder's revoked.crl embedded (DSS), with a timestamp;
- B-LT online: a seal whose certificate names OCSP and CRL URLs (fetched at each seal), with a timestamp;
- extend: one DSS update with fresh validation data and a document timestamp on a B-LT PDF.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from fixtures.identities import PASSPHRASE, ROOT_PASSPHRASE, build_report
from pki import serve_local_pki

from auditor.archive.extend import ExtensionTrust, extend_report_folder
from auditor.keys import CRL_FILE, SigningIdentity, create_identity, import_identity, load_identity, read_certificates
from auditor.signing.seal import sign_report_folder


def median_seconds(runs: int, prepare: Callable[[int], Path], work: Callable[[Path], object]) -> float:
    times = []
    for run in range(runs):
        target = prepare(run)
        start = time.perf_counter()
        work(target)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per PKI request otherwise
    logging.getLogger("pyhanko").setLevel(logging.ERROR)  # "revocation mode is soft-fail" per extension
    with tempfile.TemporaryDirectory() as tmp, serve_local_pki(Path(tmp) / "pki") as pki:
        base = Path(tmp)
        create_identity(base / "local", PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Seal", organisation="Org", key_type="p256")
        shutil.copytree(base / "local", base / "bare")
        (base / "bare" / CRL_FILE).unlink()
        import_identity(pki.identity_files("seal", base / "src"), base / "online", PASSPHRASE)
        seals = {name: load_identity(base / name, PASSPHRASE) for name in ("bare", "local", "online")}
        unsigned = build_report(base / "unsigned", identity=seals["local"])

        def fresh(seal: SigningIdentity) -> Callable[[int], Path]:
            return lambda run: shutil.copytree(unsigned, base / f"{seal.paths.folder.name}-{time.monotonic_ns()}-{run}")

        levels = {
            "B-B": (seals["bare"], None),
            "B-T": (seals["bare"], pki.tsa_url),
            "B-LT local": (seals["local"], pki.tsa_url),
            "B-LT online": (seals["online"], pki.tsa_url),
        }
        figures = {
            level: median_seconds(runs, fresh(seal), lambda folder, s=seal, t=tsa: sign_report_folder(folder, s, tsa_url=t))
            for level, (seal, tsa) in levels.items()
        }
        sealed = base / "sealed"
        shutil.copytree(unsigned, sealed)
        sign_report_folder(sealed, seals["online"], tsa_url=pki.tsa_url)
        trust = ExtensionTrust(tuple(read_certificates(pki.root_file) + read_certificates(pki.tsa_root_file)))
        figures["extend"] = median_seconds(
            runs, lambda run: shutil.copytree(sealed, base / f"extend-{run}"),
            lambda folder: extend_report_folder(folder, pki.long_tsa_url, trust),
        )
    for level, seconds in figures.items():
        print(f"{level:12s} {seconds * 1000:8.1f} ms per report folder ({seconds / figures['B-B']:.1f}x B-B)")


if __name__ == "__main__":
    main()
