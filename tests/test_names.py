"""auditor/names.py is the one module that spells the SHA-256 and relative-path patterns and the
size of a record; every other module imports them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

import auditor
from auditor.errors import ArchiveError
from auditor.names import MAX_RECORD_BYTES, RECORD_NAME, MiB, RelativePath, Sha256
from auditor.review.submission_records import report_binding

PACKAGE = Path(auditor.__file__).parent
SPELLED = {
    "a SHA-256 pattern": re.compile(r"(0-9a-f|a-f0-9)\]\{64\}"),
    "a relative-path pattern": re.compile(r"\[A-Za-z0-9\._-\](\*|\{0,254\})(\(/|#)|^RELATIVE_PATH\w*\s*(:[^=\n]*)?=", re.M),
    "a record size limit": re.compile(r"^MAX_RECORD_BYTES\s*(:[^=\n]*)?=", re.M),
}


class _Holder(BaseModel):
    digest: Sha256
    path: RelativePath


def test_no_module_but_names_spells_the_patterns_or_the_record_limit() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "names.py" or path.parent != PACKAGE
        for what, pattern in SPELLED.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_check_above_finds_a_copy() -> None:
    copy = 'SHA256 = r"^[0-9a-f]{64}$"\nRELATIVE_PATH = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/x)*$"\nMAX_RECORD_BYTES: Final = 1'
    assert all(pattern.search(copy) for pattern in SPELLED.values())


@pytest.mark.parametrize("path", ["images/frame-01.jpg", "arrays.npz", "a/b/c", "x" * 255])
def test_relative_path_accepts_names_inside_a_folder(path: str) -> None:
    assert _Holder(digest="0" * 64, path=path).path == path


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", ".hidden", "a//b", "a/", "a/../b", "x" * 256, "a\\b", ""])
def test_relative_path_refuses_escapes_hidden_and_overlong_names(path: str) -> None:
    with pytest.raises(ValidationError):
        _Holder(digest="0" * 64, path=path)


@pytest.mark.parametrize("digest", ["0" * 63, "0" * 65, "A" * 64, "g" * 64, "0" * 64 + "\n"])
def test_sha256_refuses_anything_but_64_lower_case_hex_digits(digest: str) -> None:
    with pytest.raises(ValidationError):
        _Holder(digest=digest, path="a")


def test_a_submission_binds_only_to_a_record_of_loadable_size(tmp_path: Path) -> None:
    """Binding a submission read evidence.json up to 64 MiB while a record loads up to 16 MiB:
    one limit now, so a record too large to load is refused here too."""
    assert 16 * MiB == MAX_RECORD_BYTES
    head = b'{"report": {"report_id": "AUD-1"}, "pad": "'
    (tmp_path / RECORD_NAME).write_bytes(head + b"x" * (MAX_RECORD_BYTES - len(head) - 2) + b'"}')
    assert report_binding(tmp_path)[0] == "AUD-1"
    (tmp_path / RECORD_NAME).write_bytes(head + b"x" * (MAX_RECORD_BYTES - len(head) - 1) + b'"}')
    with pytest.raises(ArchiveError, match="larger than"):
        report_binding(tmp_path)
