"""A batch's output folder OUT: held by one batch at a time (an exclusive lock), its own entries
checked before anything is written (a link planted at `reports`, `scans`, `.staging`, the lock or
the ledger would make the batch write elsewhere), and a staging area cleared at every start."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from auditor.archive.chain import LEDGER_NAME, LOCK_NAME, REPORTS_DIR, SCANS_DIR, STAGING_DIR
from auditor.errors import ArchiveError

OWN_ENTRIES: Final = {LOCK_NAME: "file", LEDGER_NAME: "file", SCANS_DIR: "folder", REPORTS_DIR: "folder", STAGING_DIR: "folder"}


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold `out/.lock` exclusively, with a staging area of its own: a killed run's is cleared."""
    if out.is_dir() and any(out.iterdir()) and not os.path.lexists(out / LOCK_NAME):
        raise ArchiveError(f"{out} is not empty and holds no batch; choose an empty or new folder, or the --out of a batch")
    check_own_entries(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_NAME, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ArchiveError(f"cannot use {out} as batch output: {exc.strerror or exc}; check the path and permissions") from exc
    with os.fdopen(fd, "w"):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ArchiveError(f"another batch is writing to {out}; wait for it to finish or use another --out") from exc
        check_own_entries(out)  # as the lock holder sees it
        fresh_staging(out)
        try:
            yield
        finally:
            shutil.rmtree(out / STAGING_DIR, ignore_errors=True)


def check_own_entries(out: Path) -> None:
    """ArchiveError when a name the batch keeps in `out` is a link (it would write elsewhere) or
    not the kind of entry the batch keeps there."""
    for name, kind in OWN_ENTRIES.items():
        try:
            mode = (out / name).lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):  # a new batch, or no folder at all (said when it is made)
            continue
        except OSError as exc:
            raise ArchiveError(f"{out / name} cannot be checked ({exc.strerror}); check the folder's permissions") from exc
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{out / name} is a symbolic link; a batch keeps its own {kind} there: remove the link and run again")
        if not (stat.S_ISDIR(mode) if kind == "folder" else stat.S_ISREG(mode)):
            raise ArchiveError(f"{out / name} is not a {kind}; a batch keeps its own {kind} there: remove it and run again")


def fresh_staging(out: Path) -> None:
    """`out/reports`, `out/scans` and an empty `out/.staging` (what a killed run staged is removed)."""
    try:
        for sub in (SCANS_DIR, REPORTS_DIR):
            (out / sub).mkdir(exist_ok=True)
        shutil.rmtree(out / STAGING_DIR, ignore_errors=True)
        (out / STAGING_DIR).mkdir()
    except OSError as exc:
        raise ArchiveError(f"cannot prepare {out / STAGING_DIR}: {exc.strerror or exc}; check the folder's permissions") from exc
