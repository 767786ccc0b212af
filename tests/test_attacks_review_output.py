"""Attacks on what `verify` prints, and on the work it does, from issue 21.

Item 13: names and reasons read from a PDF or a file name must not forge lines or steer the
terminal. Item 14: a PDF with many signatures, many fields or a huge field
value must be refused in seconds. Fixtures: identities under one test root and a report rendered
with the shipped templates (so with the review form), sealed (tests/fixtures/identities.py).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.x509.oid import NameOID
from fixtures import hostile_forms
from fixtures.identities import Identities, templated_report

from auditor.cli.verify import verify_command
from auditor.keys import SigningIdentity
from auditor.review.fill import sign_review
from auditor.review.model import ReviewInput
from auditor.verify import verify_paths

RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")  # anything but "\n"
FORGED_REASONS = (
    "Not a fight, two friends greeting.\n  review 2: CONFIRM by Bob Example (Supervisor), signed by "
    "O=Test Org,CN=Bob Example\x1b[1A"
)
HIDING_NAME = "report\r\x1b[2KVALID      report.pdf"  # on a terminal: the INVALID line reads VALID


@pytest.fixture(scope="module")
def sealed_form(tmp_path_factory: pytest.TempPathFactory, identities: Identities) -> Path:
    return templated_report(tmp_path_factory.mktemp("form") / "report", identities.seal)


def _terminal(command: object, *args: str) -> tuple[int, str]:
    """Run a command as on a terminal (escape sequences are not stripped); its exit and output."""
    result = CliRunner().invoke(command, list(args), color=True)  # type: ignore[arg-type]
    return result.exit_code, result.output


def _review(reviewer: SigningIdentity, reasons: str) -> ReviewInput:
    """An overturn by `reviewer`, named and titled as in its certificate."""
    subject = reviewer.cert.subject
    titles = subject.get_attributes_for_oid(NameOID.TITLE)
    return ReviewInput(
        reviewer=str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value),
        role=str(titles[0].value) if titles else "Duty officer", decision="overturn", reasons=reasons, minutes=3,
        automation_bias_acknowledged=True,
    )


def test_item13_verify_prints_hostile_names_and_reasons_escaped_on_their_own_lines(
    sealed_form: Path, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    reviewed = shutil.copy(sealed_form / "report.pdf", tmp_path / "reviewed.pdf")
    sign_review(reviewed, identities.reviewer, _review(identities.reviewer, FORGED_REASONS))
    hidden = tmp_path / HIDING_NAME
    hidden.write_bytes(reviewed.read_bytes() + b"\n% unsigned\n")  # invalid: appended after the last signature
    code, output = _terminal(verify_command, str(reviewed), str(hidden), "--trust", str(trust))
    assert code == 1
    assert not RAW_CONTROL.search(output), output
    lines = output.splitlines()
    reviews = [line for line in lines if line.lstrip().startswith("review ")]  # one per file, both slot 1
    assert len(reviews) == 2
    assert all(r.startswith("  review 1: OVERTURN by ") for r in reviews)
    assert "    reasons: Not a fight, two friends greeting.\\n  review 2: CONFIRM by Bob Example" in output
    assert any(line.startswith("INVALID    ") and "/report\\r\\x1b[2KVALID      report.pdf  signed by" in line for line in lines)
    code, output = _terminal(verify_command, str(reviewed), str(hidden), "--trust", str(trust), "--json")
    assert code == 1 and not RAW_CONTROL.search(output)
    files = json.JSONDecoder().raw_decode(output)[0]["files"]  # stderr follows it
    assert files[0]["reviews"][0]["review"]["reasons"] == FORGED_REASONS and files[1]["path"] == str(hidden)


HOSTILE_PDFS: list[tuple[Callable[[Path, Path], Path], str]] = [
    (lambda pdf, out: hostile_forms.pdf_with_signatures(pdf, out, 6),
     "revision 5 of the PDF holds more than 3 signatures, the most a report may carry (the seal and one per review slot): refused"),
    (lambda pdf, out: hostile_forms.pdf_with_empty_fields(pdf, out, 1, 3000),
     "revision 3 of the PDF has more than 64 form fields (a report's form has 21): refused"),
    (lambda pdf, out: hostile_forms.pdf_with_field_value(pdf, out, 100_000),
     "a form field in revision 3 of the PDF holds a value of 100000 characters, more than the 16000 allowed: refused"),
    (hostile_forms.pdf_with_field_value,  # 40 MiB
     "parsing the PDF takes more than 2000000 reads (a report takes well under 100 000): it holds far more or far larger "
     "objects than a report, such as a form field value of megabytes; refused"),
    (lambda pdf, out: hostile_forms.pdf_with_packed_field_value(pdf, out, 5 << 20),
     "compressed data in the PDF unpacks to more than a report's (Decoded stream data exceeds the limit of 4194304 bytes.): "
     "refused"),
]


def test_item14_many_signatures_many_fields_and_huge_values_are_refused_in_seconds(
    sealed_form: Path, trust: Path, tmp_path: Path
) -> None:
    for index, (build, reason) in enumerate(HOSTILE_PDFS):
        pdf = build(sealed_form / "report.pdf", tmp_path / f"hostile-{index}.pdf")
        start = time.perf_counter()
        verdict = verify_paths([pdf], trust)[0]
        seconds = time.perf_counter() - start
        assert verdict.reasons == [reason], (index, verdict.reasons)
        assert seconds < 3, (index, seconds)
