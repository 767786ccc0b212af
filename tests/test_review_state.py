"""Where a report stands in its human review, and the queue of a batch folder with a mix of states.

The reviews here are review-N.json records written directly (their signatures and their match
with the PDF are `auditor verify`'s concern, tested in test_review_form.py): these tests pin the
rules of GDPR Art. 22(3) review, the second verifier and the deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures.identities import Identities, build_report, templated_report
from fixtures.report_records import CREATED, make_report_folder

from auditor.desk.reviews import VerifiedFolders
from auditor.evidence import EvidenceRecord
from auditor.profile import DeploymentProfile
from auditor.review.model import ReviewInput, ReviewRecord
from auditor.review.state import review_state
from auditor.verify import TrustAnchors
from auditor.verify.batch_index import state_of

ALICE, BOB = "a" * 64, "b" * 64
ALICE_RENEWED = "c" * 64  # a second certificate issued to Alice
NAMES = {ALICE: "Alice Example", BOB: "Bob Example", ALICE_RENEWED: "Alice Example"}


def record(tmp_path: Path, *, flagged: bool = True, two: bool = False, deadline: float | None = 24) -> EvidenceRecord:
    profile = DeploymentProfile(second_verifier_required=two, review_deadline_hours=deadline)
    made = make_report_folder(tmp_path / "r", profile=profile)
    return made.model_copy(update={"decision": made.decision.model_copy(update={"flagged": flagged})})


def review(slot: int, decision: str, certificate: str = ALICE, who: str | None = None) -> ReviewRecord:
    who = who or NAMES.get(certificate, "Alice Example")
    return ReviewRecord(
        report_id="AUD-20250314-fixture0001", record_sha256="0" * 64, slot=slot,
        review=ReviewInput(reviewer=who, role="duty officer", decision=decision,
                           reasons="I watched the clip and the other camera."),
        signer=f"CN={who}", certificate_sha256=certificate, signed_at=CREATED + timedelta(hours=1),
        pdf_size=1000 + slot, pdf_sha256="1" * 64,
    )


SOON, LATE = CREATED + timedelta(hours=2), CREATED + timedelta(hours=30)


@pytest.mark.parametrize(
    ("flagged", "two", "reviews", "now", "status"),
    [
        (True, False, [], SOON, "awaiting review"),
        (True, False, [], LATE, "overdue"),
        (False, False, [], LATE, "no alert"),
        (True, False, [("confirm", ALICE)], LATE, "reviewed"),
        (True, False, [("overturn", ALICE)], SOON, "overturned"),
        (True, False, [("escalate", ALICE)], SOON, "escalated"),
        (True, False, [("escalate", ALICE), ("confirm", BOB)], SOON, "reviewed"),
        (True, True, [("confirm", ALICE)], LATE, "awaiting second review"),
        (True, True, [("confirm", ALICE), ("confirm", ALICE)], SOON, "awaiting second review"),
        (True, True, [("confirm", ALICE), ("confirm", BOB)], SOON, "reviewed"),
        (True, True, [("overturn", ALICE), ("overturn", BOB)], SOON, "overturned"),
        (True, True, [("confirm", ALICE), ("overturn", BOB)], SOON, "disagreement"),
        (True, True, [("confirm", ALICE), ("confirm", ALICE_RENEWED)], SOON, "awaiting second review"),  # one person, two keys
        (True, True, [("overturn", ALICE), ("confirm", ALICE)], SOON, "awaiting second review"),
        (True, False, [("escalate", ALICE), ("confirm", ALICE)], SOON, "escalated"),  # escalated to others, not oneself
        (True, True, [("escalate", ALICE), ("confirm", ALICE)], SOON, "escalated"),
        (False, False, [("overturn", ALICE)], SOON, "overturned"),
    ],
)
def test_the_review_status_follows_the_rules(
    tmp_path: Path, flagged: bool, two: bool, reviews: list[tuple[str, str]], now: object, status: str
) -> None:
    made = [review(slot, decision, cert) for slot, (decision, cert) in enumerate(reviews, start=1)]
    state = review_state(record(tmp_path, flagged=flagged, two=two), made, now, CREATED)  # type: ignore[arg-type]
    assert state.status == status
    assert state.due == CREATED + timedelta(hours=24)


def test_the_deadline_counts_from_the_seal_not_from_staging(tmp_path: Path) -> None:
    """A report staged at CREATED and sealed 30 hours later (a long explanation, a queue, a killed
    run adopted next day) is not overdue when sealed: its 24 hours start at the seal."""
    made, sealed = record(tmp_path), CREATED + timedelta(hours=30)
    state = review_state(made, [], sealed + timedelta(minutes=5), sealed)
    assert (state.status, state.due) == ("awaiting review", sealed + timedelta(hours=24))
    assert review_state(made, [], sealed + timedelta(hours=24, seconds=1), sealed).status == "overdue"
    draft = review_state(made, [], CREATED + timedelta(days=400))  # never sealed: nothing is due
    assert (draft.status, draft.due, draft.describe()) == ("awaiting review", None, "awaiting review")


def test_the_queue_reads_the_seal_time_as_verify_does(tmp_path: Path, identities: Identities) -> None:
    """The example profile's 24 hours count from the seal's signing time in the PDF, not from the
    record's created_at (2025-03-14 in the fixture; the seal is signed now); a draft has no due time."""
    before = datetime.now(UTC).replace(microsecond=0)
    folder = templated_report(tmp_path / "sealed", identities.seal)
    verified = VerifiedFolders(TrustAnchors((identities.seal.root,), "the test root"))
    found = verified.get(folder)
    assert found.record is not None and found.record.report.created_at == CREATED and found.sealed_at is not None
    assert before <= found.sealed_at <= datetime.now(UTC)
    state = state_of(found, datetime.now(UTC))
    assert (state.status, state.due) == ("awaiting review", found.sealed_at + timedelta(hours=24))
    assert state_of(found, found.sealed_at + timedelta(hours=24, seconds=1)).status == "overdue"
    draft = verified.get(build_report(tmp_path / "draft"))
    assert draft.sealed_at is None and state_of(draft, datetime.now(UTC)).due is None


def test_a_decision_without_reasons_is_refused() -> None:
    from auditor.errors import ReportError
    from auditor.review.model import review_input

    for reasons in ("", "   ", "ok"):
        with pytest.raises(ReportError, match="reasons"):
            review_input(reviewer="Alice", role="duty officer", decision="confirm", reasons=reasons)


def test_the_report_says_when_its_review_is_due(tmp_path: Path) -> None:
    from auditor.report.narrative import review_due

    assert review_due(record(tmp_path)) == (
        "A person must review it within 24 hours of its seal, as the deployment requires."
    )  # the report is written before its seal: no clock time, which would count from the wrong moment
    assert review_due(record(tmp_path, flagged=False)) is None
    assert review_due(record(tmp_path, deadline=None)) is None
