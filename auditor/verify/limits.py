"""Bounds on the work `verify` does for one input, checked before any expensive parsing.

Every file handed to `verify` may be hostile (DESIGN §6). No file is read past its size limit;
the PDF's revisions and cross-reference sizes are counted in its bytes before the
PDF parser runs; the parser reads from a `BudgetedPdf`, which bounds how much it parses, under
tighter decoding limits for object streams; the form's fields, their values and the signatures
are counted (`check_form_limits`) before pyHanko enumerates or compares them; the certificates
a CMS container carries are counted before any is verified.
"""

from __future__ import annotations

import bisect
import io
import re
import stat
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    DocumentDecodeBudget,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.reader import PdfFileReader

from auditor.names import MAX_RECORD_BYTES
from auditor.review.model import FIELDS, MAX_TEXT, SLOTS
from auditor.verify.status import Findings

MiB = 1 << 20
MAX_PDF_BYTES = 256 * MiB
MAX_FILE_BYTES = 256 * MiB  # a file checked against a detached signature (report.html, evidence.json)
MAX_P7S_BYTES = 1 * MiB
MAX_MANIFEST_BYTES = 1 * MiB
MAX_MANIFEST_ENTRIES = 10_000
MAX_FOLDER_FILES = 10_000
MAX_REVISIONS = 64  # incremental updates of a PDF (a sealed report has 2; each review adds 1)
MAX_XREF_OBJECTS = 200_000  # objects a PDF's cross-reference sections may declare
MAX_CARRIED_CERTIFICATES = 16  # certificates in one CMS container (signer and its path)
MAX_TIMESTAMP_TOKENS = 2  # signature timestamps on one signer
MAX_XMP_BYTES = 1 * MiB
MAX_SIGNATURES = 1 + SLOTS  # the seal and one review per slot
MAX_DOC_TIMESTAMPS = 24  # document timestamps of `archive extend` (B-LTA), one every few years
REPORT_FORM_FIELDS = SLOTS * (len(FIELDS) + 2) + 1  # a report's form: per slot a parent, its fields and signature; the seal
MAX_FORM_FIELDS = 64  # field dictionaries in one revision's form
MAX_FIELD_VALUE = 4 * MAX_TEXT  # characters of one field's value (a review's text has at most MAX_TEXT)
MAX_PARSE_READS = 2_000_000  # reads while parsing a PDF's objects, about a byte each (a reviewed report takes ~40 000)
MAX_OBJECT_STREAM_BYTES = 4 * MiB  # one object stream unpacked (a report's first revision holds one of ~30 KiB)
PDF_DECODE_LIMITS = DecodeLimits(  # pyHanko's own decoding limits, tightened where a report never comes close
    per_purpose={
        **DEFAULT_PURPOSE_LIMITS,
        DecodePurpose.OBJECT_STREAM: StreamDecodeLimits(max_ratio=100, ratio_floor=MiB, max_output_size=MAX_OBJECT_STREAM_BYTES),
    },
    document_budget=DocumentDecodeBudget(base_allowance=MAX_RECORD_BYTES + 8 * MiB, max_ratio=1),
)

_SIZE = re.compile(rb"/Size\s+(\d{1,20})")
# an embedded file's /Params dictionary, up to its /Size (the file's bytes, not cross-reference entries): no
# "<" or ">" on the way but those of hex strings, so the match never leaves that dictionary
_PARAMS_SIZE = re.compile(rb"/Params\s*<<(?:[^<>]|<[0-9A-Fa-f\s]*>){0,200}?/Size\s+\d{1,20}")
_INDEX = re.compile(rb"/Index\s*\[([\d\s]*)\]")
_TABLE = re.compile(rb"xref\s+\d{1,20}\s+(\d{1,20})")  # first subsection header of a classic table
_PREV = re.compile(rb"/Prev\s+\d+(?!\d)(?!\s+\d+\s+R)")  # a trailer's /Prev (an outline's is a reference)
_XREF_KEYS = ("Prev", "Size", "Index", "Type", "XRef", "XRefStm", "W")


def _escaped_names(names: tuple[str, ...]) -> re.Pattern[bytes]:
    """Names among `names` spelled with at least one #xx escape (e.g. /P#72ev for /Prev)."""
    def char(c: str) -> str:
        code = f"{ord(c):02X}"
        return f"(?:{c}|#{code[0]}[{code[1]}{code[1].lower()}])"

    spelled = "|".join("".join(map(char, name)) for name in names)
    return re.compile(f"/(?=[^\\s/]{{0,24}}#)(?:{spelled})(?![A-Za-z0-9#])".encode())


_ESCAPED = _escaped_names(_XREF_KEYS)
_STREAM_START = re.compile(rb">>\s*stream(?:\r\n|\n|\r)")
_STARTXREF = re.compile(rb"startxref\s+(\d{1,20})")


def _stream_spans(data: bytes) -> list[tuple[int, int]]:
    """Where stream contents lie (after `>> stream`, up to `endstream`): compressed data may hold
    any byte sequence, so the scans below read only the bytes between streams."""
    spans, position = [], 0
    while (start := _STREAM_START.search(data, position)) is not None:
        end = data.find(b"endstream", start.end())
        end = len(data) if end == -1 else end
        spans.append((start.end(), end))
        position = end + len(b"endstream")
    return spans


def _outside(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    bounds = [0, *(edge for span in spans for edge in span), len(data)]
    return b"\n".join(data[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2))


def read_capped(path: Path, limit: int, findings: Findings) -> bytes | None:
    """The bytes of `path`, or None with a reason when it is missing, unreadable, special or too large."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            findings.invalid.append(f"{path.name} is not a regular file: refused")
            return None
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        hint = "; was the file signed (no .p7s for drafts)?" if path.suffix == ".p7s" else ""
        findings.invalid.append(f"{path.name} is missing{hint}")
        return None
    except OSError as exc:
        findings.invalid.append(f"cannot read {path}: {exc.strerror or exc}")
        return None
    if len(data) > limit:
        findings.invalid.append(f"{path.name} is larger than the {limit / MiB:g} MiB allowed: refused unread")
        return None
    return data


def pdf_structure_problem(data: bytes) -> str | None:
    """Too many revisions or cross-reference entries, counted in the raw bytes before parsing.

    The scans read the bytes between streams only (stream data may hold any bytes), and a
    `startxref` offset that points into a stream's data is refused, so nothing the parser will
    read as cross-reference can hide there. Revisions: `startxref`, `%%EOF`, trailer `/Prev`
    and `xref` keywords. Entries: every declared `/Size` (but an embedded file's, in its `/Params`:
    the PDF carries the report's clip, hundreds of kB), `/Index` and table header, and the
    room between each classic table and its `trailer` (20 bytes an entry). Only
    literal-prefixed scans: linear and fast. Cross-reference keys spelled with `#xx` escapes
    (which would hide them from these counts) are refused.
    """
    spans = _stream_spans(data)
    text = _outside(data, spans)
    starts = [start for start, _ in spans]
    for offset in map(int, _STARTXREF.findall(text)):
        index = bisect.bisect_right(starts, offset) - 1
        if index >= 0 and offset < spans[index][1]:
            return "the PDF's cross-reference offset points into a stream's data: refused unread"
    data = text
    if _ESCAPED.search(data):
        return "the PDF spells cross-reference keys with #-escapes: refused unread"
    revisions = max(
        data.count(b"startxref"), data.count(b"%%EOF"), len(_PREV.findall(data)) + 1, data.count(b"xref") // 2
    )
    if revisions > MAX_REVISIONS:
        return f"the PDF has {revisions} revisions, more than the {MAX_REVISIONS} allowed: refused unread"
    declared = [int(n) for n in _SIZE.findall(_PARAMS_SIZE.sub(b"/Params <<", data)) + _TABLE.findall(data)]
    declared += [sum(map(int, body.split()[1::2])) for body in _INDEX.findall(data)]
    largest = max([*declared, _table_room(data)])
    if largest > MAX_XREF_OBJECTS:
        return (
            f"the PDF declares or lists {largest} cross-reference entries, more than the {MAX_XREF_OBJECTS} "
            "allowed: refused unread"
        )
    return None


def _table_room(data: bytes) -> int:
    """Entries that fit between each classic table's `xref` and the next `trailer` (strict
    parsing cannot read an entry across that keyword)."""
    total, at = 0, data.find(b"xref")
    while at != -1:
        if data[max(at - 5, 0) : at] != b"start":
            end = data.find(b"trailer", at)
            total += ((end if end != -1 else len(data)) - at) // 20
        at = data.find(b"xref", at + 4)
    return total



class PdfLimitExceeded(Exception):
    """A PDF beyond what a report can be; its message is the one reason."""


class BudgetedPdf(io.BytesIO):
    """A PDF's bytes for pyHanko's reader, refusing reads beyond `MAX_PARSE_READS`. Its parser
    reads a byte or a token at a time (signatures are hashed through `readinto`, not counted), so
    the budget bounds parsing whatever the file hides in its objects: a field value of megabytes,
    or a string that the byte scans above take for stream data."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads_left = MAX_PARSE_READS

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads_left -= 1
        if self.reads_left < 0:
            raise PdfLimitExceeded(
                f"parsing the PDF takes more than {MAX_PARSE_READS} reads (a report takes well under 100 000): it holds "
                "far more or far larger objects than a report, such as a form field value of megabytes; refused"
            )
        return super().read(size)


def check_form_limits(reader: PdfFileReader) -> None:
    """PdfLimitExceeded when a revision's form has too many fields, a field value too long, or
    too many signatures: a bounded walk of each revision's form, before pyHanko enumerates the
    signatures or compares the revisions (its work grows with fields × revisions × signatures)."""
    for revision in range(reader.xrefs.total_revisions):
        try:
            fields = reader.get_historical_root(revision)["/AcroForm"]["/Fields"]
        except (KeyError, TypeError):
            continue
        problem = _fields_problem(fields, f"revision {revision + 1} of the PDF")
        if problem:
            raise PdfLimitExceeded(problem)


def _fields_problem(fields: generic.PdfObject, where: str) -> str | None:
    """The first problem of one revision's field tree."""
    stack: list[tuple[generic.PdfObject, generic.PdfObject | None]] = [(ref, None) for ref in _items(fields)]
    seen, signatures, timestamps = 0, 0, 0
    while stack:
        node, inherited = stack.pop()
        field = node.get_object()
        if not isinstance(field, generic.DictionaryObject):
            continue
        seen += 1
        if seen > MAX_FORM_FIELDS:
            return f"{where} has more than {MAX_FORM_FIELDS} form fields (a report's form has {REPORT_FORM_FIELDS}): refused"
        kind, value = field.get("/FT", inherited), field.get("/V")
        if isinstance(value, (generic.TextStringObject, generic.ByteStringObject)) and len(value) > MAX_FIELD_VALUE:
            return f"a form field in {where} holds a value of {len(value)} characters, more than the {MAX_FIELD_VALUE} allowed: refused"
        stamp = kind == "/Sig" and value is not None and _is_doc_timestamp(value)
        timestamps += 1 if stamp else 0
        signatures += 1 if kind == "/Sig" and value is not None and not stamp else 0
        if timestamps > MAX_DOC_TIMESTAMPS:
            return f"{where} holds more than {MAX_DOC_TIMESTAMPS} document timestamps: refused"
        if signatures > MAX_SIGNATURES:
            return (
                f"{where} holds more than {MAX_SIGNATURES} signatures, the most a report may carry "
                "(the seal and one per review slot): refused"
            )
        stack += [(kid, kind) for kid in _items(field.get("/Kids"))]
    return None


def _is_doc_timestamp(value: generic.PdfObject) -> bool:
    """Whether a signature field's value is a document timestamp (/Type /DocTimeStamp)."""
    resolved = value.get_object()
    return isinstance(resolved, generic.DictionaryObject) and resolved.get("/Type") == "/DocTimeStamp"


def _items(array: generic.PdfObject | None) -> list[generic.PdfObject]:
    """The first entries of a /Fields or /Kids array (no more than the walk may visit)."""
    resolved = array.get_object() if array is not None else None
    return list(resolved)[: MAX_FORM_FIELDS + 1] if isinstance(resolved, generic.ArrayObject) else []
