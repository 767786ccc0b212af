"""The batch index: `OUT/index.csv` for machines and spreadsheets, `OUT/index.html` for operators.

Both list every detection, sorted by video then start time, with its source, time, class, score,
status (reported, failed with the reason, pending) and the report folder. The page's Status
column shows a reported row's review status (awaiting review, overdue, reviewed, overturned,
escalated, …: the start of its review column) rather than "reported". They are made from the
rows alone: every value is data. The HTML page renders in Jinja's immutable sandbox with
autoescape, is self-contained (no scripts, fonts or remote resources) and links each report's
`report.pdf` and `report.html` by a relative path, in the batch's report language (its `<html lang>`
says which, so `write_index` and verify render it again in the same one). CSV cells that a spreadsheet would read as a
formula (starting with = + - @ or a tab) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor import i18n
from auditor.errors import ArchiveError, ReportError
from auditor.files import atomic_write_text
from auditor.messages import N_
from auditor.names import HTML_NAME, PDF_NAME
from auditor.video import format_time

INDEX_CSV = "index.csv"
INDEX_HTML = "index.html"
TEMPLATE = "batch-index.html.j2"
REPORT_FILES = (PDF_NAME, HTML_NAME)  # what each row links to, inside its report folder
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_INDEX_BYTES = 64 << 20
NOT_KNOWN = "—"  # what the page shows for a value nobody gave or found
_REVIEW_STATUS = re.compile(r"(.*?)(?: by |; |: |$)", re.DOTALL)  # "overturned by Jane Doe" → "overturned"
_REVIEW_PARTS = re.compile(  # "overturned by Jane Doe", "awaiting review; due 2026-12-08 11:10 UTC", "report invalid: …"
    r"(?P<status>[a-z ]+?)(?: by (?P<names>.+)|; due (?P<due>\d{4}-\d\d-\d\d \d\d:\d\d) UTC|: (?P<problem>.+))?", re.DOTALL
)
_LANG = re.compile(rb"<html lang=\"([A-Za-z]{2,8}(?:[_-][A-Za-z0-9]{1,8})?)\">")
STATUS_WORDS = {  # the Status column's words: index row statuses and review statuses (auditor.review.state)
    "reported": N_("reported"), "failed": N_("failed"), "pending": N_("pending"),
    "report invalid": N_("report invalid"), "review file invalid": N_("review file invalid"), "no alert": N_("no alert"),
    "awaiting review": N_("awaiting review"), "overdue": N_("overdue"), "awaiting second review": N_("awaiting second review"),
    "reviewed": N_("reviewed"), "overturned": N_("overturned"), "escalated": N_("escalated"), "disagreement": N_("disagreement"),
}


class IndexRow(BaseModel):
    """One detection as the index lists it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detection_id: str
    source: str  # camera or source id, or the video's stem
    video: str  # file name
    video_sha256: str
    first_frame: int | None = None  # None where nobody gave or found it (a failed scan, a bad or timed log row)
    last_frame: int | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    class_name: str  # empty where none was given or found
    score: float | None = None  # None until a model scored the window (never a made-up 0.0)
    threshold: float | None = None
    status: Literal["reported", "failed", "pending"]
    reason: str | None = None  # why it failed
    note: str | None = None  # what the operator should know of a reported row (e.g. where decoding stopped)
    review: str | None = None  # where the report stands in its human review (auditor.review.state)
    report: str | None = Field(default=None, pattern=r"^reports/[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$")


def registered_row(facts: object, path: str) -> IndexRow:
    """The row a ledger report entry registered (the ledger is input too: a bad row is named)."""
    try:
        return IndexRow.model_validate(facts).model_copy(update={"status": "reported", "report": path})
    except ValidationError as exc:
        raise ArchiveError(f"the ledger entry of {path} holds no valid index row; check it with `auditor verify`") from exc


def write_index(out: Path, rows: Sequence[IndexRow], language: str | None = None) -> tuple[Path, Path]:
    """Write `OUT/index.csv` and `OUT/index.html` (each atomically); return their paths. The page
    speaks `language`; by default the one the page already there speaks (English for a new one)."""
    ordered = ordered_rows(rows)
    out = Path(out)
    page = index_html(ordered, language or existing_language(out))
    return atomic_write_text(out / INDEX_CSV, index_csv(ordered)), atomic_write_text(out / INDEX_HTML, page)


def existing_language(out: Path) -> str:
    """The language of `OUT/index.html` (its `<html lang>`), English when there is none or no
    catalog speaks it (the page is rewritten, never refused, for a lang changed by hand)."""
    try:
        with open(Path(out) / INDEX_HTML, "rb") as handle:
            code = language_of(handle.read(4096))
    except OSError:
        return i18n.SOURCE_LANGUAGE
    return code if code in i18n.available() else i18n.SOURCE_LANGUAGE


def language_of(page: bytes) -> str | None:
    """The `<html lang>` of an index page, when it names one; None otherwise."""
    match = _LANG.search(page[:4096])
    return match.group(1).decode("ascii") if match else None


def ordered_rows(rows: Sequence[IndexRow]) -> list[IndexRow]:
    """The rows in index order: by video, then start time."""
    return sorted(rows, key=lambda r: (r.video, r.start_seconds or 0.0, r.first_frame or 0, r.class_name, r.detection_id))


def read_index(out: Path) -> list[IndexRow]:
    """The rows of `OUT/index.csv` as `write_index` wrote them (ArchiveError when it is not one)."""
    path = Path(out) / INDEX_CSV
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            raise ArchiveError(f"{path} is larger than {MAX_INDEX_BYTES >> 20} MiB; it is not an index auditor wrote")
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        return [IndexRow.model_validate({k: _uncell(k, v) for k, v in row.items()}) for row in rows]
    except FileNotFoundError as exc:
        raise ArchiveError(f"{out} holds no {INDEX_CSV}; is it the --out folder of a batch?") from exc
    except (OSError, UnicodeDecodeError, ValidationError, csv.Error) as exc:
        raise ArchiveError(f"{path} cannot be read back ({exc}); run the batch again to rewrite it") from exc


def _uncell(column: str | None, value: str | None) -> str | None:
    """A CSV cell back to its value: empty is None where a column may be empty, a defused formula
    loses its apostrophe."""
    field = IndexRow.model_fields.get(column or "")
    if not value:
        return None if field is not None and not field.is_required() else (value or "")
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def index_csv(rows: Sequence[IndexRow]) -> str:
    """The rows as CSV with a header line (the IndexRow field names)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(IndexRow.model_fields)
    for row in rows:
        writer.writerow(_cell(value) for value in row.model_dump().values())
    return buffer.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def index_html(rows: Sequence[IndexRow], language: str = i18n.SOURCE_LANGUAGE) -> str:
    """The self-contained index page, in `language`."""
    counts = {status: sum(r.status == status for r in rows) for status in ("reported", "failed", "pending")}
    reviews = Counter(shown_status(r) for r in rows if r.status == "reported")
    try:
        with i18n.speaking(language):
            review_counts = [(_word(s), n) for s, n in sorted(reviews.items())] if set(reviews) != {"reported"} else []
            return _environment().get_template(TEMPLATE).render(
                rows=[_shown(r) for r in rows], counts=counts, review_counts=review_counts, total=len(rows),
                language=language,
            )
    except ReportError as exc:
        raise ArchiveError(f"the index cannot be written in {language!r}: {exc}") from exc
    except jinja2.TemplateError as exc:
        raise ArchiveError(f"the index template cannot be rendered ({exc}); reinstall auditor") from exc


def _decimal(value: float | None) -> str:
    """Three decimals, the locale's decimal sign, no grouping (an English page stays byte for byte
    what it was before the pages spoke other languages: verify renders old batches' pages again)."""
    return NOT_KNOWN if value is None else f"{value:.3f}".replace(".", i18n.decimal_symbol())


def _review_words(review: str | None) -> str:
    """A review column (`ReviewState.describe`, verify's `describe`) as the page shows it, in the
    active language: the status word, who decided or when it is due; anything else as it is. In
    English the column is shown as written, so the pages of batches written before stay valid."""
    match = _REVIEW_PARTS.fullmatch(review or "")
    if i18n.active().code == i18n.SOURCE_LANGUAGE or match is None or match["status"] not in STATUS_WORDS:
        return review or ""
    status = _word(match["status"])
    if match["names"]:
        return i18n._("%(status)s by %(names)s") % {"status": status, "names": match["names"]}
    if match["due"]:
        due = datetime.strptime(match["due"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        return i18n._("%(status)s; due %(when)s") % {"status": status, "when": i18n.datetime(due)}
    if match["problem"]:
        return i18n._("%(status)s: %(problem)s") % {"status": status, "problem": match["problem"]}
    return status


def _word(status: str) -> str:
    """A status as the page shows it, in the active language."""
    return i18n._(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def shown_status(row: IndexRow) -> str:
    """The Status column of the page: a reported row's review status when its review column names
    one (written by `auditor.verify.batch_index.describe`: "<status>", "<status> by <names>",
    "<status>; due …" or "<status>: <problem>"), else the row's status."""
    if row.status != "reported" or not row.review:
        return row.status
    match = _REVIEW_STATUS.match(row.review)
    return match.group(1).strip() if match and match.group(1).strip() else row.status


def _shown(row: IndexRow) -> dict[str, object]:
    """What the page shows of a row: plain strings (escaped by the template)."""
    links = {name: f"{quote(row.report)}/{name}" for name in REPORT_FILES} if row.report else {}
    shown = shown_status(row)
    return {
        "status": row.status,
        "shown_status": _word(shown),
        "status_word": _word(row.status),
        "review_shown": shown != row.status,
        "status_class": re.sub(r"[^a-z]+", "-", shown.lower()).strip("-"),
        "source": row.source,
        "video": row.video,
        "video_sha256": row.video_sha256,
        "time": _span(_clock(row.start_seconds), _clock(row.end_seconds), " – "),
        "frames": _span(row.first_frame, row.last_frame, "–"),
        "class_name": row.class_name,
        "score": _decimal(row.score),
        "threshold": _decimal(row.threshold),
        "reason": row.reason or "",
        "note": row.note or "",
        "review": _review_words(row.review),
        "detection_id": row.detection_id,
        "links": links,
    }


def _clock(seconds: float | None) -> str | None:
    return None if seconds is None else format_time(seconds).replace(".", i18n.decimal_symbol())


def _span(first: object, last: object, dash: str) -> str:
    """`first–last`, `first` alone when the end is not known, NOT_KNOWN when neither is."""
    if first is None:
        return NOT_KNOWN
    return str(first) if last is None or last == first else f"{first}{dash}{last}"


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(_templates())),
        extensions=["jinja2.ext.i18n"],
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    i18n.install(env)
    return env


def _templates() -> Path:
    """The shipped templates: `auditor/templates` in a wheel, `templates/` in a source tree."""
    package = Path(__file__).parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise ArchiveError(f"the template {TEMPLATE} is missing from this installation; reinstall auditor")
