"""A batch's index rebuilt from what proves it: one row for each report the ledger registers,
with its review status from the reviews that verify, and the rows not reported (failed, pending)
of the latest run. A rerun on a subset of the inputs, or a batch running during a review, keeps
every registered report and its review status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from auditor.archive import IndexRow, read_index, registered_row, write_index
from auditor.archive.chain import read_chain
from auditor.desk.queue import QueueItem, queue_item
from auditor.desk.reviews import VerifiedFolders
from auditor.errors import ArchiveError
from auditor.verify.batch_index import describe as describe_state


def index_rows(
    out: Path, verified: VerifiedFolders, now: datetime, unreported: Sequence[IndexRow] = ()
) -> list[IndexRow]:
    """The index of `out`: every registered report, then the rows not reported: those the index
    holds, updated by `unreported` (a run's failed and pending rows)."""
    out = Path(out)
    chain = read_chain(out)
    if chain.problem:
        raise ArchiveError(f"{out}: {chain.problem}; run `auditor verify {out}`")
    reported: dict[str, IndexRow] = {}
    for entry in chain.entries:
        if entry.kind == "report" and entry.path not in reported:
            folder = out / entry.path
            item = queue_item(folder, verified.get(folder), now)
            reported[entry.path] = registered_row(entry.facts.get("row"), entry.path).model_copy(update={"review": describe(item)})
    ids = {row.detection_id for row in reported.values()}
    others = {row.detection_id: row for row in (*_unreported(out), *unreported) if row.status != "reported"}
    return [*reported.values(), *(row for key, row in others.items() if key not in ids)]


def refresh_index(
    out: Path, verified: VerifiedFolders, now: datetime, unreported: Sequence[IndexRow] = (), language: str | None = None
) -> list[IndexRow]:
    """Rewrite OUT's index.csv and index.html from the ledger and the verified reviews (the page in
    `language`, by default in the one it speaks already)."""
    rows = index_rows(out, verified, now, unreported)
    write_index(out, rows, language)
    return rows


def describe(item: QueueItem) -> str:
    """An index row's review column: the status, or why it cannot be told."""
    return describe_state(item.state, item.problem)


def _unreported(out: Path) -> list[IndexRow]:
    try:
        return [row for row in read_index(out) if row.status != "reported"]
    except ArchiveError:  # no index yet, or one that cannot be read: rebuilt from the ledger alone
        return []
