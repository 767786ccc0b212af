"""A notice to the person concerned (`auditor notice`): its seal, its HTML, and its binding to one report.

A notice folder holds `notice.pdf`, sealed like a report (PAdES, certifying, DocMDP level 2), that
embeds `notice.json` (`NoticeBinding`: the report id, the SHA-256 of the report's `evidence.json`,
the language, the notice format's version), and `notice.html` with its detached signature, whose
`<meta>` tags name the same report and record. The notice is bound to its report when that report
folder is verified with it (`auditor verify NOTICE REPORT`): the SHA-256 of the report's record
must be the one `notice.json` names; without the report, a note says the binding was not checked.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pyhanko.pdf_utils.reader import PdfFileReader

from auditor.errors import AuditorError, first_problem
from auditor.evidence import load_record
from auditor.files import sha256_file
from auditor.names import RECORD_NAME, Sha256
from auditor.verify.detached import check_detached
from auditor.verify.pdf import check_pdf, embedded_file
from auditor.verify.status import FileVerdict, Findings, SignatureSummary
from auditor.verify.trust import TrustAnchors

NOTICE_PDF = "notice.pdf"
NOTICE_HTML = "notice.html"
NOTICE_JSON = "notice.json"  # embedded in notice.pdf
MAX_NOTICE_JSON_BYTES = 4096
MAX_NOTICE_HTML_BYTES = 1 << 20
META_REPORT_ID = "auditor-report-id"
META_RECORD_SHA256 = "auditor-record-sha256"
_META = re.compile(r'<meta name="(auditor-[a-z0-9-]+)" content="([^"<>]{0,200})">')


class NoticeBinding(BaseModel):
    """What a notice is about: `notice.json`, embedded in the sealed notice PDF."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor notice"] = "auditor notice"
    version: Literal[1] = 1
    report_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    record_sha256: Sha256  # of the report's evidence.json
    language: str = Field(pattern=r"^[a-z]{2,3}$")

    def json_bytes(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode("utf-8")

    def meta(self) -> dict[str, str]:
        """The `<meta>` tags of the notice's HTML, by name."""
        return {META_REPORT_ID: self.report_id, META_RECORD_SHA256: self.record_sha256}


def is_notice(path: Path) -> bool:
    """Whether `path` is a notice folder or its notice.pdf."""
    return os.path.lexists(path / NOTICE_PDF) if path.is_dir() else path.name == NOTICE_PDF


def given_records(paths: Iterable[Path]) -> dict[str, str]:
    """Report id -> SHA-256 of evidence.json, for the report folders among `paths` whose record reads."""
    found: dict[str, str] = {}
    for path in paths:
        record = Path(path) / RECORD_NAME
        try:
            if record.is_file():
                found[load_record(record).report.report_id] = sha256_file(record)
        except (AuditorError, OSError):
            continue  # that folder's own verdicts say what is wrong with it
    return found


def verify_notice(path: Path, anchors: TrustAnchors, records: Mapping[str, str]) -> list[FileVerdict]:
    """Verdicts for a notice folder (its PDF and HTML) or a notice PDF (and the HTML beside it, if any)."""
    folder = path if path.is_dir() else path.parent
    read: list[NoticeBinding] = []
    check = partial(_check_binding, records=records, read=read)
    pdf, _ = check_pdf(folder / NOTICE_PDF if path.is_dir() else path, anchors, content=check)
    verdicts = [pdf]
    html = folder / NOTICE_HTML
    if path.is_dir() or os.path.lexists(html):
        verdicts.append(_html_verdict(html, anchors, read[0] if read else None))
    return verdicts


def _check_binding(
    reader: PdfFileReader, path: Path, seal: SignatureSummary, findings: Findings, *,
    records: Mapping[str, str], read: list[NoticeBinding],
) -> bytes | None:
    data = embedded_file(reader, NOTICE_JSON)
    if data is None:
        findings.invalid.append(f"no embedded {NOTICE_JSON}: this is not an auditor notice")
        return None
    binding = _binding(data, findings)
    if binding is None:
        return None
    read.append(binding)
    expected = records.get(binding.report_id)
    if expected is None:
        findings.notes.append(
            f"bound to report {binding.report_id}, record SHA-256 {binding.record_sha256[:16]}…; that report was not "
            "verified with it: give its folder too (`auditor verify NOTICE REPORT`) to check the binding"
        )
    elif expected != binding.record_sha256:
        findings.invalid.append(
            f"the notice names record SHA-256 {binding.record_sha256[:16]}…, but report {binding.report_id}'s "
            f"{RECORD_NAME} has {expected[:16]}…: the notice is not about this report"
        )
    else:
        findings.notes.append(f"bound to report {binding.report_id}: its record's SHA-256 matches")
    return data


def _binding(data: bytes, findings: Findings) -> NoticeBinding | None:
    if len(data) > MAX_NOTICE_JSON_BYTES:
        findings.invalid.append(f"the embedded {NOTICE_JSON} is larger than {MAX_NOTICE_JSON_BYTES} bytes: refused")
        return None
    try:
        return NoticeBinding.model_validate_json(data)
    except ValidationError as exc:
        findings.invalid.append(f"the embedded {NOTICE_JSON} is not a notice binding: {first_problem(exc, NOTICE_JSON)}")
        return None


def _html_verdict(html: Path, anchors: TrustAnchors, binding: NoticeBinding | None) -> FileVerdict:
    verdict, data = check_detached(html, anchors, MAX_NOTICE_HTML_BYTES)
    if data is None or binding is None:
        return verdict
    found = dict(_META.findall(data.decode("utf-8", errors="replace")))
    wrong = [name for name, value in binding.meta().items() if found.get(name) != value]
    return verdict.with_problems(
        [f"{NOTICE_HTML}: its <meta name=\"{name}\"> is not what the sealed {NOTICE_PDF} names" for name in wrong]
    )
