"""The 25-item legal checklist (DESIGN §3): which items a record provides, what is missing, and a
note as a code (`Note`) the report words in its reader's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditor.evidence.model import ChecklistItem, Completeness, EvidenceRecord, ItemStatus, Note

CHECKLIST_ITEMS = range(1, 26)  # the items' titles are the report's (`auditor.report.record_words`)


def completeness_of(record: EvidenceRecord) -> Completeness:
    """Status of each item of the legal checklist (DESIGN §3) for this record."""
    return Completeness(items=[_item(number, record) for number in CHECKLIST_ITEMS])


def _item(number: int, record: EvidenceRecord) -> ChecklistItem:
    status, missing, note = _ITEM_RULES.get(number, _generated)(record)
    return ChecklistItem(number=number, status=status, missing=missing, note=note)


Rule = tuple[ItemStatus, list[str], Note | None]
RuleFn = Callable[[EvidenceRecord], Rule]


def _fields(record: EvidenceRecord, *names: str) -> Rule:
    missing = [name for name in names if _lookup(record, name) in (None, "", [])]
    return ("not provided" if missing else "provided"), missing, None


def _lookup(record: EvidenceRecord, dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _generated(record: EvidenceRecord) -> Rule:
    return "provided", [], None


def _visual(record: EvidenceRecord) -> Rule:
    if record.explanations.images:
        return "provided", [], None
    return "not provided", ["explanations.images"], Note(code="checklist.no_images")


def _counterfactual(record: EvidenceRecord) -> Rule:
    """Provided by the what-if search (even when nothing within its budget changed the outcome),
    or at least by single frames replaced and scored again."""
    search = record.explanations.counterfactuals
    if search is not None:
        return "provided", [], None if search.found else Note(code="checklist.no_outcome_change")
    if record.explanations.edits() is not None:
        return "provided", [], Note(code="checklist.single_frames_only")
    return "not provided", ["explanations.counterfactuals"], Note(code="checklist.no_edit_scored")


def _minimisation(record: EvidenceRecord) -> Rule:
    """The profile's statement, and whether faces were masked in the images."""
    status, missing, _ = _fields(record, "deployment.data_minimisation")
    if record.masking is None:
        return status, missing, Note(code="checklist.faces_not_looked_for")
    if not record.masking.enabled:
        return status, missing, Note(code="checklist.masking_off")
    return status, missing, Note(code="checklist.faces_blurred", params={"faces": record.masking.faces})


def _review(*names: str) -> RuleFn:
    def rule(record: EvidenceRecord) -> Rule:
        if record.review.decision is None and not record.decision.flagged:
            return "not applicable", [], Note(code="checklist.no_alert")
        if record.review.decision is None:
            return "pending review", [f"review.{n}" for n in names], Note(code="checklist.pending_review")
        return _fields(record, *(f"review.{n}" for n in names))

    return rule


def _second_verifier(record: EvidenceRecord) -> Rule:
    required = record.deployment.second_verifier_required
    if required is None:
        return "not provided", ["deployment.second_verifier_required"], Note(code="checklist.policy_not_stated")
    if not required:
        return "not applicable", [], Note(code="checklist.not_required")
    return _review("second_verifier")(record)


def _submissions(record: EvidenceRecord) -> Rule:
    if record.review.submissions:
        return "provided", [], None
    return "not applicable", [], Note(code="checklist.no_submissions")


def _system_log(record: EvidenceRecord) -> Rule:
    if record.system_log is not None:
        return "provided", [], None
    return "not provided", ["system_log"], Note(code="checklist.added_when_archived")


def _seal(record: EvidenceRecord) -> Rule:
    if not record.seal.signed:
        return "not provided", ["seal.signed"], Note(code="checklist.unsigned")
    if record.seal.throwaway_identity:
        return "provided", [], Note(code="checklist.throwaway_identity")
    return "provided", [], None


def _profile(*names: str) -> RuleFn:
    return lambda record: _fields(record, *(f"deployment.{n}" for n in names))


_ITEM_RULES: dict[int, RuleFn] = {
    2: _profile("controller", "dpo_contact", "record_of_processing"),
    3: _profile("purpose", "legal_basis", "art22_position"),
    4: lambda r: _fields(r, "model.name", "model.version", "model.sha256", "model.model_card"),
    5: _profile("ai_act_classification"),
    6: lambda r: _fields(r, "input.file_name", "input.sha256", "input.source_id", "input.frame_indices"),
    7: _minimisation,
    10: _visual,
    11: _counterfactual,
    14: _profile("significance"),
    15: _review("reviewer", "role", "authority"),
    16: _review("decision", "reasons", "data_considered", "minutes_spent", "automation_bias_acknowledged"),
    17: _second_verifier,
    18: _profile("redress.contact", "redress.channel", "redress.time_limit"),
    19: _submissions,
    20: _profile("dpia_reference"),
    21: _profile("retention.clip", "retention.report", "retention.logs"),
    22: _system_log,
    23: _profile("withheld"),
    24: _profile("recipients", "access_control"),
    25: _seal,
}


def refresh_completeness(record: EvidenceRecord) -> EvidenceRecord:
    """The record with its completeness section re-derived (after a review, seal or log entry)."""
    return record.model_copy(update={"completeness": completeness_of(record)})
