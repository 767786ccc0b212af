"""The files the desk serves from a report folder: only those its signed manifest lists, by the
manifest's own name (never a path taken from the URL), and only bytes whose SHA-256 is the one the
manifest states; and the sealed revision of report.pdf (its first bytes, as the manifest binds them)
for a reviewer who must not see the revisions added after the seal."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path, PurePosixPath

from auditor.names import MANIFEST_NAME, PDF_NAME
from auditor.signing.seal import FolderManifest, ManifestEntry
from auditor.verify.folder import parse_manifest
from auditor.verify.limits import MAX_MANIFEST_BYTES

MAX_SERVED_BYTES = 256 * 1024 * 1024  # a report's largest file (report.pdf with its clip) stays far below
MAX_PDF_BYTES = MAX_SERVED_BYTES
MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webm": "video/webm"}  # what a page shows


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file that is no link, up to `limit`; None otherwise."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        data = file.read(limit + 1)
    return data if len(data) <= limit else None


def manifest_of(folder: Path) -> FolderManifest | None:
    """The folder's manifest (its signature is checked by `verify_folder` before the desk serves)."""
    data = read_regular(Path(folder) / MANIFEST_NAME, MAX_MANIFEST_BYTES)
    return parse_manifest(data)[0] if data is not None else None


def listed_entry(folder: Path, name: str) -> ManifestEntry | None:
    """The manifest entry called exactly `name`, when it is a picture or a clip a page may show."""
    manifest = manifest_of(folder)
    if manifest is None or PurePosixPath(name).suffix.lower() not in MEDIA_TYPES:
        return None
    return next((entry for entry in manifest.files if entry.path == name), None)


def listed_file(folder: Path, name: str) -> tuple[bytes, str] | None:
    """The bytes and media type of the listed picture or clip `name`, as sealed; None otherwise."""
    entry = listed_entry(folder, name)
    if entry is None:
        return None
    data = _sealed_bytes(Path(folder), entry)
    return (data, MEDIA_TYPES[PurePosixPath(entry.path).suffix.lower()]) if data is not None else None


def sealed_pdf(folder: Path) -> bytes | None:
    """report.pdf as it was sealed: the first bytes the manifest binds, without any later revision."""
    manifest = manifest_of(folder)
    entry = next((e for e in manifest.files if e.path == PDF_NAME), None) if manifest else None
    if entry is None:
        return None
    data = read_regular(Path(folder) / PDF_NAME, MAX_PDF_BYTES)
    if data is None or len(data) < entry.size:
        return None
    sealed = data[: entry.size]
    return sealed if hashlib.sha256(sealed).hexdigest() == entry.sha256 else None


def current_pdf(folder: Path) -> bytes | None:
    """report.pdf with every revision signed into it (the caller has verified them)."""
    return read_regular(Path(folder) / PDF_NAME, MAX_PDF_BYTES)


def _sealed_bytes(folder: Path, entry: ManifestEntry) -> bytes | None:
    data = read_regular(folder.joinpath(*PurePosixPath(entry.path).parts), min(entry.size, MAX_SERVED_BYTES))
    return data if data is not None and hashlib.sha256(data).hexdigest() == entry.sha256 else None


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range `bytes=START-END` (or `START-`, `-SUFFIX`) of a Range header, inclusive and
    within `size`; None for no header or one the desk does not serve (it then sends everything)."""
    if not header or not header.startswith("bytes=") or "," in header or size == 0:
        return None
    first, _, last = header.removeprefix("bytes=").strip().partition("-")
    try:
        if first:
            start, end = int(first), int(last) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
    except ValueError:
        return None
    return (start, min(end, size - 1)) if 0 <= start <= end and start < size else None
