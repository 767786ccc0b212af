"""Bounds on the work `verify` does for one input, checked before any expensive parsing.

Every file handed to `verify` may be hostile (DESIGN §6). No file is read past its size limit;
the PDF's revisions and cross-reference sizes are counted in its bytes before the
PDF parser runs; the certificates a CMS container carries are counted before any is verified.
"""

from __future__ import annotations

import bisect
import re
import stat
from pathlib import Path

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

_SIZE = re.compile(rb"/Size\s+(\d{1,20})")
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
    and `xref` keywords. Entries: every declared `/Size`, `/Index` and table header, and the
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
    declared = [int(n) for n in _SIZE.findall(data) + _TABLE.findall(data)]
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

