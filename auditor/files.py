"""Atomic file output: write to a temporary path in the same folder, then rename."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from auditor.errors import ArchiveError


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ArchiveError(
            f"could not write {path}: {exc.strerror or exc}; check free space and permissions"
        ) from exc
    return path


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> Path:
    """UTF-8 text variant of `atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


def check_new_folder(folder: Path) -> Path:
    """`folder` if it can become a new folder: absent, or an empty folder; else ArchiveError."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ArchiveError(f"{folder} exists and is not a folder; choose a new output folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise ArchiveError(f"{folder} is not empty; choose a new or empty output folder")
    check_writable_place(folder)
    return folder


def check_writable_place(folder: Path) -> None:
    """Raise ArchiveError unless `folder` can be created or replaced: the nearest existing folder
    above it, where the new folder is staged, must be a folder you can write in."""
    nearest = next(p for p in Path(folder).absolute().parents if p.exists())
    if not nearest.is_dir():
        raise ArchiveError(f"cannot create {folder}: {nearest} is a file, not a folder; choose another output folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise ArchiveError(f"cannot write in {nearest}; choose an output folder where you can write")


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; on success it replaces `final` in one rename.

    On any error the temporary folder is removed and an existing `final` stays untouched.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"could not create {final.parent}: {exc.strerror or exc}") from exc
    staging = final.parent / f".{final.name}.{secrets.token_hex(6)}.tmp"  # named before it exists: a stop
    made: Path | None = staging
    try:  # (SIGTERM, Ctrl-C) landing anywhere from here on removes it
        try:
            staging.mkdir()
        except OSError as exc:
            made = None  # not ours to remove
            raise ArchiveError(f"could not create a folder in {final.parent}: {exc.strerror or exc}") from exc
        yield staging
        _replace_directory(staging, final)
    except BaseException:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise


def _replace_directory(staging: Path, final: Path) -> None:
    """Move `staging` to `final`, swapping out an existing folder only after the move succeeds."""
    try:
        if not final.exists():
            os.replace(staging, final)
            return
        backup = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".old"))
        backup.rmdir()
        os.replace(final, backup)
        os.replace(staging, final)
        shutil.rmtree(backup, ignore_errors=True)
    except OSError as exc:
        raise ArchiveError(f"could not move the report into {final}: {exc.strerror or exc}") from exc


@dataclass
class FolderWalk:
    """The regular files below a folder (by relative POSIX path), and the entries refused there."""

    files: dict[str, Path] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)  # symbolic links (never followed)
    special: list[str] = field(default_factory=list)  # devices, pipes, sockets
    unlisted: list[tuple[str, str]] = field(default_factory=list)  # folders that cannot be listed, and why
    too_many: bool = False  # stopped after `limit` entries


def walk_folder(root: Path, limit: int) -> FolderWalk:
    """Every regular file below `root` without following links, looking at `limit` entries at most
    (hostile folders are bounded)."""
    walk, pending, seen = FolderWalk(), [(Path(root), "")], 0
    while pending:
        directory, prefix = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            walk.unlisted.append((prefix, str(exc.strerror or exc)))
            continue
        seen += len(entries)
        if seen > limit:
            walk.too_many = True
            return walk
        for entry in entries:
            relative = prefix + entry.name
            if entry.is_symlink():
                walk.links.append(relative)
            elif entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), relative + "/"))
            elif entry.is_file(follow_symlinks=False):
                walk.files[relative] = Path(entry.path)
            else:
                walk.special.append(relative)
    return walk
