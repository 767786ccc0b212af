"""Write a report folder's `report.html` and `report.pdf` from its checked artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.evidence import (
    EvidenceRecord,
    read_artifacts,
)
from auditor.files import atomic_write_bytes, atomic_write_text
from auditor.i18n import speaking
from auditor.names import HTML_NAME, PDF_NAME
from auditor.report.html import render_document
from auditor.report.pdf import render_pdf_bytes


@dataclass(frozen=True)
class ReportResult:
    """Where a written report folder is and what it says."""

    folder: Path
    record: EvidenceRecord
    signed: bool


def write_report(
    record: EvidenceRecord,
    folder: Path,
    *,
    templates_dir: Path | str | None = None,
    draft: bool = False,
    out_dir: Path | None = None,
) -> list[Path]:
    """Write `report.html` and `report.pdf` atomically (into `out_dir`, default `folder`).

    The artifacts in `folder` are read and checked once, and both files are rendered from
    those checked bytes. The HTML shows the pictures by their paths relative to `folder`: in
    another `out_dir` it shows them only where that folder holds them too.
    """
    folder = Path(folder)
    target = Path(out_dir) if out_dir is not None else folder
    artifacts = read_artifacts(record, folder)
    with speaking(record.deployment.report_language):  # the PDF's own words (metadata, alt text) too
        html = render_document(record, artifacts, templates_dir, draft=draft, for_pdf=False)
        pdf = render_pdf_bytes(record, artifacts, templates_dir, draft=draft)
    target.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(target / HTML_NAME, html), atomic_write_bytes(target / PDF_NAME, pdf)]
