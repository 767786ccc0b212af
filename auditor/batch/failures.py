"""Why a unit of a batch failed, told in the batch's terms: whether running the same command again
can help (a full disk or quota can pass; a bad row, an unreadable video or another model's
detection cannot), and a window that does not fit named as the log row or detection gave it
(`auditor.scan.window` names `auditor report`'s --start and --at)."""

from __future__ import annotations

import errno
from typing import Final

from auditor.errors import ArchiveError
from auditor.scan.requests import ReportRequest
from auditor.video import format_time

PASSING_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_MAX_CAUSES: Final = 16


class PassingFailure(ArchiveError):
    """A failure whose cause may pass (the disk or quota was full): sent back from a worker process,
    where the chain of causes is lost in pickling."""


def disk_full(error: BaseException) -> bool:
    """Whether `error` is a `PassingFailure` or has a full disk or quota in its chain of causes."""
    seen: BaseException | None = error
    for _ in range(_MAX_CAUSES):
        if seen is None:
            return False
        if isinstance(seen, PassingFailure) or (isinstance(seen, OSError) and seen.errno in PASSING_ERRNOS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def in_row_terms(message: str, request: ReportRequest) -> str:
    """`message` (`auditor.scan.window`'s, naming --at or --start) with the window named as `request`
    gave it: the row's or the detection's time or frame."""
    given = "the detection's" if request.detection is not None else "the row's"
    if request.at is not None:
        asked = format_time(request.at)
        return message.replace(f"; --at {asked} (", f"; {given} time {asked} (", 1)
    return message.replace(f"; --start {request.start or 0} ", f"; {given} frame {request.start or 0} ", 1)
