"""A report's reviews as far as they verify: the one place that decides which reviews count and in
which order (the order their revisions were signed into the PDF, which no later revision can
change). The queue, the batch index and `auditor render` all read reviews through it; an unsigned,
copied or damaged `review-N.json` never counts, and a damaged report folder is reported, not fatal.
"""

from __future__ import annotations

import os
from pathlib import Path

from auditor.errors import AuditorError
from auditor.names import PDF_NAME, RECORD_NAME, SUBMISSIONS_DIR
from auditor.verify import TrustAnchors, verify_folder
from auditor.verify.batch_index import FolderReviews, review_records, reviews_of

__all__ = ["FolderReviews", "VerifiedFolders", "folder_reviews", "review_records"]


def folder_reviews(folder: Path, anchors: TrustAnchors) -> FolderReviews:
    """The verified reviews of the report in `folder`, or why there are none to trust."""
    folder = Path(folder)
    if not (folder / RECORD_NAME).is_file() or not (folder / PDF_NAME).is_file():
        return reviews_of(folder, [])
    try:
        verdicts = verify_folder(folder, anchors)
    except (AuditorError, OSError) as exc:
        return FolderReviews(None, (), f"{folder.name}: {exc}", False)
    return reviews_of(folder, verdicts)


class VerifiedFolders:
    """`folder_reviews` of many report folders under one set of trust anchors, each folder verified
    again only when one of its files changed (name, size or modification time): a batch rewrites
    its index after every report without verifying the whole archive each time, and still sees a
    review signed meanwhile."""

    def __init__(self, anchors: TrustAnchors) -> None:
        self.anchors = anchors
        self._found: dict[Path, tuple[tuple[tuple[str, int, int], ...], FolderReviews]] = {}

    def get(self, folder: Path) -> FolderReviews:
        """What verifies of the report in `folder`, now."""
        key, stamp = Path(folder).absolute(), _stamp(Path(folder))
        cached = self._found.get(key)
        if cached is None or cached[0] != stamp:
            cached = (stamp, folder_reviews(folder, self.anchors))
            self._found[key] = cached
        return cached[1]


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of each entry of the folder and of its submissions."""
    entries = []
    for place in (folder, folder / SUBMISSIONS_DIR):
        try:
            with os.scandir(place) as listing:
                for entry in listing:
                    stat = entry.stat(follow_symlinks=False)
                    entries.append((f"{place.name}/{entry.name}", stat.st_size, stat.st_mtime_ns))
        except OSError:
            entries.append((f"{place.name}/", -1, -1))
    return tuple(sorted(entries))
