"""Render an evidence record as a PDF/A-3 with the record, its schema and the clip embedded.

The report's artifacts are read once, checked against their SHA-256, and served from memory:
WeasyPrint fetches through `ArtifactFetcher`, which serves them and the fonts shipped with
auditor (`auditor.fonts`) and refuses every other URL. The PDF embeds the same pictures as
the HTML shows (WeasyPrint passes JPEG through unchanged and PNG with the same pixels), and the
review form's fields on the review section's boxes (`auditor.review.form`).

The PDF is tagged: WeasyPrint's `pdf/a-3a` variant writes the structure tree (headings, lists,
tables, figures with the `alt` text of `auditor.report.alt_text`), `/MarkInfo`, `/Lang` from
`<html lang>` and PDF/A-3 level A's identification. One file can claim PDF/UA-1 as well, and
does: the finisher adds `pdfuaid:part` to the XMP packet (`auditor.report.tagging`), with the PDF/A extension schema that
PDF/A-3 asks for a property outside its predefined schemas (WeasyPrint's `pdf/ua-1` variant alone
would drop the PDF/A identification, the output intent and the associated files).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pydyf
import weasyprint
from weasyprint.urls import URLFetcher, URLFetcherResponse

from auditor import fonts, i18n
from auditor.errors import ReportError
from auditor.evidence import (
    SCHEMA_RESOURCE,
    CheckedArtifacts,
    EvidenceRecord,
    committed_schema,
    read_artifacts,
    record_json,
)
from auditor.names import RECORD_NAME
from auditor.report import tagging
from auditor.report.html import picture_type, render_document
from auditor.report.spec_words import spec_text
from auditor.review.form import ReviewForm
from auditor.video import clock_time

LOG = logging.getLogger(__name__)
PDF_VARIANT = "pdf/a-3a"  # tagged PDF/A-3, level A; `tagging.declare_pdf_ua` adds the PDF/UA-1 identification


class ArtifactFetcher(URLFetcher):
    """Serves the report's own checked artifacts from memory, and the shipped fonts that
    `auditor-font:NAME` URLs name; refuses every other URL."""

    def __init__(self, artifacts: CheckedArtifacts) -> None:
        super().__init__(allowed_protocols=("file",))
        self.artifacts = artifacts
        self.requested: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        self.requested.append(url)
        font = fonts.font_of_url(url)
        try:
            if font is not None:
                return URLFetcherResponse(url, body=fonts.font_bytes(font))
            relative = self._relative_path(url)
        except ReportError as exc:
            self.refused.append(url)
            LOG.warning("refused to fetch %s: %s", url, exc)
            raise
        data = self.artifacts.files[relative]
        # Answer under the artifact's relative path, not its file: URL: given a file: URL,
        # WeasyPrint would read the file again when writing the PDF instead of these checked bytes.
        kind = picture_type(data)
        return URLFetcherResponse(relative, body=data, headers={"Content-Type": kind} if kind else None)

    def _relative_path(self, url: str) -> str:
        """The listed artifact a URL names, as a path relative to the report folder."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise ReportError("only the report's own files may be fetched")
        path = Path(unquote(parts.path))
        if not path.is_relative_to(self.artifacts.folder):
            raise ReportError("outside the report folder")
        relative = path.relative_to(self.artifacts.folder).as_posix()
        if relative not in self.artifacts.files:
            raise ReportError("not an artifact listed in the record")
        return relative


def render_pdf(
    record: EvidenceRecord, folder: Path, templates_dir: Path | str | None = None, *, draft: bool = False
) -> bytes:
    """The report as tagged PDF/A-3a and PDF/UA-1 (PDF 1.7), with evidence.json and its schema
    embedded, and the review form's fields on the review section's boxes (`auditor.review.form`)."""
    return render_pdf_bytes(record, read_artifacts(record, folder), templates_dir, draft=draft)


def render_pdf_bytes(
    record: EvidenceRecord, artifacts: CheckedArtifacts, templates_dir: Path | str | None, *, draft: bool
) -> bytes:
    html = render_document(record, artifacts, templates_dir, draft=draft, for_pdf=True)
    fetcher = ArtifactFetcher(artifacts)
    created = record.report.created_at
    attachments = [
        weasyprint.Attachment(
            string=record_json(record).encode("utf-8"), name=RECORD_NAME, relationship="Source",
            description="Machine-readable evidence record", created=created, modified=created,
            url_fetcher=fetcher,
        ),
        weasyprint.Attachment(
            string=committed_schema().encode("utf-8"), name=SCHEMA_RESOURCE,
            relationship="Supplement", description="JSON Schema of the evidence record",
            created=created, modified=created, url_fetcher=fetcher,
        ),
    ]
    attachments += _clip_attachments(record, artifacts, fetcher)
    source = weasyprint.HTML(string=html, base_url=artifacts.folder.as_uri() + "/", url_fetcher=fetcher)
    with _older_objects_left_to_refcounting(), i18n.speaking(record.deployment.report_language):
        document = source.render(pdf_variant=PDF_VARIANT)
        form = ReviewForm.prepare(document)
        tagging.scope_header_cells(document)
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT, attachments=attachments, finisher=_finisher(form))
    if fetcher.refused:
        raise ReportError(
            f"the templates refer to files that are not artifacts of this report: {', '.join(fetcher.refused)}; "
            "inline them in the templates or add them to the record"
        )
    return pdf


def _finisher(form: ReviewForm) -> Callable[[weasyprint.Document, pydyf.PDF], None]:
    """WeasyPrint finisher: the review form's fields, the header cells' /Scope, the PDF/UA identification."""
    def finish(document: weasyprint.Document, pdf: pydyf.PDF) -> None:
        form.finish(document, pdf)
        tagging.mark_header_scopes(document)
        tagging.margins_as_artifacts(pdf)
        tagging.declare_pdf_ua(pdf)
    return finish


def _clip_attachments(record: EvidenceRecord, artifacts: CheckedArtifacts, fetcher: URLFetcher) -> list[weasyprint.Attachment]:
    """clip.webm as an associated file of the PDF, its checked bytes, when the record has a clip
    (the heatmap clip stays in the folder: it is drawn from the clip and the maps of arrays.npz)."""
    clip = record.clip
    if clip is None:
        return []
    created = record.report.created_at
    with i18n.speaking("en"):  # the attachment's description is English, as the rest of it
        encoder = spec_text(clip.encoder)
    description = (
        f"Video of the explained window ({clock_time(clip.window_start_seconds)} to {clock_time(clip.window_end_seconds)} "
        f"of the clip) with the recording before and after it, from {clip.source_file} at "
        f"{clock_time(clip.source_start_seconds)}; faces {'masked' if clip.faces_masked else 'not masked'}; {encoder}"
    )
    return [weasyprint.Attachment(
        string=artifacts.files[clip.path], name=clip.path, relationship="Supplement", description=description,
        created=created, modified=created, url_fetcher=fetcher,
    )]


@contextlib.contextmanager
def _older_objects_left_to_refcounting() -> Iterator[None]:
    """Keep the objects that exist now (in `auditor demo`, TensorFlow's ~460k) out of the garbage
    collections that WeasyPrint's many allocations trigger; they rejoin the collector afterwards.
    Measured with benchmarks/bench_render.py."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()

