"""A video file held open while it is hashed and decoded, so that the SHA-256 a scan or a report
records is the hash of the very bytes its frames come from.

`held_video` opens the file once, refusing a pipe, device or socket before reading a byte (a FIFO
or /dev/zero never ends), hashes it through that handle and hands decoders `/proc/self/fd/N`: the
same file even when its name is given to other bytes meanwhile (recording systems reuse names).
A hash the caller read earlier that differs is refused, and so is a change to the held file while
it is held (its size, modification or change time; its name given to another file changes the
latter too).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import VideoError
from auditor.video.container import check_video_path


@dataclass(frozen=True)
class HeldVideo:
    """An open video file: its name as the caller gave it, what decoders open, its SHA-256."""

    path: Path
    source: Path
    sha256: str


@contextmanager
def held_video(path: Path, expected_sha256: str | None = None) -> Iterator[HeldVideo]:
    """Hold `path` open and hash it; VideoError when its SHA-256 is not `expected_sha256` (the
    batch read it earlier) or when it changes while held. Messages name `path`, never the handle."""
    path = Path(path)
    fd = _open_regular(path)
    try:
        before = _stamp(fd)
        with open(fd, "rb", closefd=False) as handle:
            held = HeldVideo(path, Path(f"/proc/self/fd/{fd}"), hashlib.file_digest(handle, "sha256").hexdigest())
        if expected_sha256 is not None and held.sha256 != expected_sha256:
            raise VideoError(
                f"video {path.name} changed since the batch read it (its SHA-256 is now {held.sha256[:12]}…, "
                f"the batch read {expected_sha256[:12]}…); run the batch again to scan what it holds now"
            )
        try:
            yield held
        except VideoError as exc:
            raise VideoError(str(exc).replace(str(held.source), str(path))) from exc
        if _stamp(fd) != before:
            raise VideoError(f"video {path} was changed or replaced while it was read; run again once nothing writes to it")
    finally:
        os.close(fd)


def video_sha256(path: Path) -> str:
    """The SHA-256 of the video file `path` (VideoError for a pipe, device, folder or missing file)."""
    with held_video(path) as held:
        return held.sha256


def _open_regular(path: Path) -> int:
    """A read handle on the regular file `path` (opening a FIFO this way does not wait for a writer)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:
        check_video_path(path)  # names a missing file or a folder
        reason = exc.strerror if isinstance(exc, OSError) else "its name holds a NUL character"
        raise VideoError(f"video {path} cannot be opened ({reason}); check the path and its permissions") from exc
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return fd
    os.close(fd)
    check_video_path(path)  # a folder, a pipe, a device or a socket
    raise VideoError(f"video {path} is not a regular file; give a video file")


def _stamp(fd: int) -> tuple[int, int, int]:
    """What changes when a file is written: its size, modification and change times."""
    facts = os.fstat(fd)
    return facts.st_size, facts.st_mtime_ns, facts.st_ctime_ns
