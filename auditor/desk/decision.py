"""A decision made at the desk: the form's fields become the `ReviewInput` that `auditor review`
builds from its flags, and `review_report` signs it, the one implementation of a review; then the
batch ledger is sealed the way the command line seals it (the caller passes that step in)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from auditor.desk.record import batch_of, review_report
from auditor.desk.reviews import VerifiedFolders
from auditor.desk.session import DeskSession
from auditor.errors import AuditorError
from auditor.review.fill import reviewer_names
from auditor.review.model import ReviewRecord, review_input

SealLedger = Callable[[Path], str]  # OUT -> one line: sealed, or why the change awaits a checkpoint


@dataclass(frozen=True)
class Outcome:
    """What saving a decision gave: the signed review, or what to tell the person instead."""

    entry: ReviewRecord | None
    problem: str | None
    ledger: str | None = None  # what sealing the batch ledger said


def decide(
    session: DeskSession, folder: Path, form: Mapping[str, str], seal: SealLedger, tsa_url: str | None = None,
    verified: VerifiedFolders | None = None,
) -> Outcome:
    """Sign the decision the form states into the report in `folder`, as `auditor review` would."""
    if session.identity is None:
        problem = session.unlock(form.get("passphrase", ""))
        if problem is not None:
            return Outcome(None, problem)
    identity = session.identity
    assert identity is not None  # unlocked above
    try:
        name, role = reviewer_names(identity)
        review = review_input(
            reviewer=name, role=role, authority=form.get("authority", "").strip() or role,
            data_considered=form.get("considered", ""), decision=form.get("decision", ""),
            reasons=form.get("reasons", ""), minutes=_minutes(form.get("minutes", "")),
            automation_bias_acknowledged=form.get("bias") == "yes",
        )
        entry = review_report(folder, identity, review, tsa_url=tsa_url, verified=verified)
    except AuditorError as exc:
        return Outcome(None, str(exc))
    out = batch_of(folder)
    return Outcome(entry, None, seal(out) if out is not None else None)


def _minutes(text: str) -> float | None:
    """The minutes field: a number, or empty; anything else is refused with the field named."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise AuditorError(f"minutes spent must be a number, not {text[:20]!r}") from None
