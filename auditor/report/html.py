"""Render an evidence record as HTML through the report templates.

Templates come from `templates/` (shipped in the wheel as `auditor/templates`); the operator can
override any file with a folder of their own (`templates_dir`: the CLI's `--templates` or the
local profile file), never a record. Templates render in Jinja's immutable sandbox with
autoescaping, and see only the record, a few flags and the public sentence builders of
`auditor.report.narrative`.

The HTML shows the pictures of the folder's `images/` by their relative paths (no copy inlined):
each path is one the record lists (a relative path inside the folder, `RELATIVE_PATH`), and the
folder's signed manifest binds those files to the signed HTML.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from auditor import i18n
from auditor.errors import ReportError
from auditor.evidence import (
    CheckedArtifacts,
    EvidenceRecord,
    read_artifacts,
)
from auditor.messages import N_
from auditor.report import alt_text, captions, narrative, narrative_trust, record_words
from auditor.report.charts import frame_importance_chart
from auditor.review.model import SLOTS, field_name, outcome_text

LOG = logging.getLogger(__name__)
ENTRY_TEMPLATE = "report.html.j2"
EXAMPLE_TIME = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)
PICTURE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
PDF_PICTURES_NOTE = N_("The pictures in this PDF are the image files listed above, with the same pixels.")


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
        extensions=["jinja2.ext.i18n"],
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    sentences = SimpleNamespace(**{name: getattr(narrative, name) for name in narrative.__all__})
    trust = SimpleNamespace(**{name: getattr(narrative_trust, name) for name in narrative_trust.__all__})
    words = SimpleNamespace(**{name: getattr(captions, name) for name in captions.__all__})
    env.globals.update(
        narrative=sentences, trust=trust, charts=SimpleNamespace(frame_importance=frame_importance_chart),
        captions=words, record_words=record_words,
        review_slots=SLOTS, review_field=field_name, outcome_example=outcome_example, outcome_line=outcome_text,
        alt=SimpleNamespace(**{name: getattr(alt_text, name) for name in alt_text.__all__}),
    )
    env.filters.update(seconds=narrative.seconds, css_content=css_content)
    i18n.install(env)
    return env


def css_content(text: str, **functions: str) -> Markup:
    """A CSS `content` value: `text` as quoted strings, each `%(name)s` in it replaced by the CSS
    function `functions[name]` ("Page %(page)s" -> `"Page " counter(page)`). The text (a
    translation) is escaped for a CSS string, so it cannot end the string or the style element."""
    parts = re.split(r"%\((\w+)\)s", str(text).replace("%%", "%"))
    pieces = [functions[part] if index % 2 else _css_string(part) for index, part in enumerate(parts)]
    return Markup(" ".join(piece for piece in pieces if piece != '""'))


def _css_string(text: str) -> str:
    return '"' + "".join(c if c.isalnum() or c in " .,:;!?()-–·'’" else f"\\{ord(c):x} " for c in text) + '"'


def outcome_example(slot: int, decision: str) -> str:
    """A page-1 outcome line worded exactly as verification accepts it, for the form's help."""
    return outcome_text(slot, decision, "Jane Doe", i18n._("Compliance officer"), EXAMPLE_TIME)


def render_document(
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
        with i18n.speaking(record.deployment.report_language):
            return env.get_template(ENTRY_TEMPLATE).render(
                record=record, draft=draft, image_src=source, for_pdf=for_pdf, pdf_pictures_note=i18n._(PDF_PICTURES_NOTE),
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
    return render_document(record, read_artifacts(record, folder), templates_dir, draft=draft, for_pdf=False)

