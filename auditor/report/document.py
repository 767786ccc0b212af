"""Render an evidence record as an HTML file and a PDF/A-3b with the record embedded.

Templates come from `templates/` (shipped in the wheel as `auditor/templates`); the operator can
override any file with a folder of their own (`templates_dir`: the CLI's `--templates` or the
local profile file), never a record. Templates render in Jinja's immutable sandbox with
autoescaping, and see only the record, a few flags and the public sentence builders of
`auditor.report.narrative`. The report's artifacts are read once, checked against their SHA-256, and
served from memory: WeasyPrint fetches through `ArtifactFetcher`, which serves them and the fonts
shipped with auditor (`auditor.report.fonts`) and refuses every other URL.

The HTML shows the pictures of the folder's `images/` by their relative paths (no copy inlined):
each path is one the record lists (a relative path inside the folder, `RELATIVE_PATH`), and the
folder's signed manifest binds those files to the signed HTML. The PDF embeds the same pictures
as they are (WeasyPrint passes JPEG through unchanged and PNG with the same pixels).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import jinja2
import weasyprint
from jinja2.sandbox import ImmutableSandboxedEnvironment
from weasyprint.urls import URLFetcher, URLFetcherResponse

from auditor.errors import ReportError
from auditor.evidence import (
    SCHEMA_RESOURCE,
    CheckedArtifacts,
    EvidenceRecord,
    committed_schema,
    read_artifacts,
    record_json,
)
from auditor.files import atomic_write_bytes, atomic_write_text
from auditor.names import HTML_NAME, PDF_NAME, RECORD_NAME
from auditor.report import fonts, narrative, narrative_trust
from auditor.report.charts import frame_importance_chart
from auditor.review.form import add_review_form
from auditor.review.model import SLOTS, field_name
from auditor.video import clock_time

LOG = logging.getLogger(__name__)
ENTRY_TEMPLATE = "report.html.j2"
NOT_PROVIDED = "not provided"
PICTURE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
PDF_PICTURES_NOTE = "The pictures in this PDF are the image files listed above, with the same pixels."


def builtin_templates() -> Path:
    """The shipped templates: `auditor/templates` in a wheel, `templates/` in a source tree."""
    package = Path(__file__).parents[1]
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / ENTRY_TEMPLATE).is_file():
            return candidate
    raise ReportError("the report templates are missing from this installation; reinstall auditor")


def check_templates_dir(templates_dir: Path | str | None) -> Path | None:
    """The operator's templates folder, resolved; a clear error when it does not exist."""
    if templates_dir is None:
        return None
    folder = Path(templates_dir)
    if not folder.is_dir():
        raise ReportError(f"templates folder {folder} does not exist; give an existing folder with --templates")
    return folder.resolve()


def _environment(templates_dir: Path | str | None) -> jinja2.Environment:
    chosen = check_templates_dir(templates_dir)
    folders = [builtin_templates()] if chosen is None else [chosen, builtin_templates()]
    return _cached_environment(tuple(str(f) for f in folders))


@functools.lru_cache(maxsize=8)
def _cached_environment(folders: tuple[str, ...]) -> jinja2.Environment:
    """One sandboxed environment per template search path, so templates compile once."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(list(folders)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    sentences = SimpleNamespace(**{name: getattr(narrative, name) for name in narrative.__all__})
    trust = SimpleNamespace(**{name: getattr(narrative_trust, name) for name in narrative_trust.__all__})
    env.globals.update(
        narrative=sentences, trust=trust, charts=SimpleNamespace(frame_importance=frame_importance_chart), NOT_PROVIDED=NOT_PROVIDED,
        review_slots=SLOTS, review_field=field_name,
    )
    env.filters.update(percent=narrative.percent, seconds=narrative.seconds, clock=clock_time)
    return env


def _render(
    record: EvidenceRecord, artifacts: CheckedArtifacts, templates_dir: Path | str | None, *, draft: bool, for_pdf: bool
) -> str:
    env = _environment(templates_dir)
    images = {image.path for image in record.explanations.images}

    def source(path: str) -> str:
        if path not in images:
            raise ReportError(f"template asked for {path!r}, which the record does not list as an image")
        if picture_type(artifacts.files[path]) is None:
            raise ReportError(f"{path} is not a PNG or JPEG picture; the report folder is damaged or not auditor's")
        return path

    try:
        return env.get_template(ENTRY_TEMPLATE).render(
            record=record, draft=draft, image_src=source, for_pdf=for_pdf, pdf_pictures_note=PDF_PICTURES_NOTE,
        )
    except jinja2.TemplateError as exc:
        raise ReportError(f"template error: {exc}; check the templates folder") from exc
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(
            f"the record cannot be rendered ({type(exc).__name__}: {exc}); it is inconsistent or damaged"
        ) from exc


def picture_type(data: bytes) -> str | None:
    """"image/png" or "image/jpeg" by the file's first bytes; None for anything else."""
    return next((kind for magic, kind in PICTURE_SIGNATURES.items() if data.startswith(magic)), None)


def render_html(
    record: EvidenceRecord, folder: Path, templates_dir: Path | str | None = None, *, draft: bool = False
) -> str:
    """The report as one HTML document that shows the pictures of `folder` by their relative paths."""
    return _render(record, read_artifacts(record, folder), templates_dir, draft=draft, for_pdf=False)


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
    """The report as PDF/A-3b (PDF 1.7), with evidence.json and its schema embedded, and the
    review form's fields on the review section's boxes (`auditor.review.form`)."""
    return _render_pdf(record, read_artifacts(record, folder), templates_dir, draft=draft)


def _render_pdf(
    record: EvidenceRecord, artifacts: CheckedArtifacts, templates_dir: Path | str | None, *, draft: bool
) -> bytes:
    html = _render(record, artifacts, templates_dir, draft=draft, for_pdf=True)
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
    document = weasyprint.HTML(string=html, base_url=artifacts.folder.as_uri() + "/", url_fetcher=fetcher)
    with _older_objects_left_to_refcounting():
        pdf = document.write_pdf(pdf_variant="pdf/a-3b", attachments=attachments, finisher=add_review_form)
    if fetcher.refused:
        raise ReportError(
            f"the templates refer to files that are not artifacts of this report: {', '.join(fetcher.refused)}; "
            "inline them in the templates or add them to the record"
        )
    return pdf


def _clip_attachments(record: EvidenceRecord, artifacts: CheckedArtifacts, fetcher: URLFetcher) -> list[weasyprint.Attachment]:
    """clip.webm as an associated file of the PDF, its checked bytes, when the record has a clip
    (the heatmap clip stays in the folder: it is drawn from the clip and the maps of arrays.npz)."""
    clip = record.clip
    if clip is None:
        return []
    created = record.report.created_at
    description = (
        f"Video of the explained window ({clock_time(clip.window_start_seconds)} to {clock_time(clip.window_end_seconds)} "
        f"of the clip) with the recording before and after it, from {clip.source_file} at "
        f"{clock_time(clip.source_start_seconds)}; faces {'masked' if clip.faces_masked else 'not masked'}; {clip.encoder}"
    )
    return [weasyprint.Attachment(
        string=artifacts.files[clip.path], name=clip.path, relationship="Supplement", description=description,
        created=created, modified=created, url_fetcher=fetcher,
    )]


@dataclass(frozen=True)
class ReportResult:
    """Where a written report folder is and what it says."""

    folder: Path
    record: EvidenceRecord
    signed: bool


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
    html = _render(record, artifacts, templates_dir, draft=draft, for_pdf=False)
    pdf = _render_pdf(record, artifacts, templates_dir, draft=draft)
    target.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(target / HTML_NAME, html), atomic_write_bytes(target / PDF_NAME, pdf)]
