"""What the report says beside its numbers (issue 24, item 8): scores read against the threshold
stay on their side of it, the model-randomisation check names its blocks in words, and a map
method that fails that check is shown only in the annex, marked."""

from __future__ import annotations

import pytest
from fixtures.report_records import make_report_folder

from auditor import narrative
from auditor import narrative_trust as trust
from auditor.evidence import EvidenceRecord


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> EvidenceRecord:
    return make_report_folder(tmp_path_factory.mktemp("text"), trust=True)


def _at_threshold(record: EvidenceRecord, threshold: float, probability: float) -> EvidenceRecord:
    """The record with its threshold changed and every frame edit and what-if edit giving
    "fight" at `probability`, with no alert."""
    ex = record.explanations
    rows = [m.model_copy(update={"edits": [e.model_copy(update={
        "predicted_class": "fight", "predicted_probability": probability, "flagged": False}) for e in m.edits]})
        if m.edits else m for m in ex.frame_importance]
    search = ex.counterfactuals
    assert search is not None
    found = [e.model_copy(update={"predicted_class": "fight", "predicted_probability": probability, "flagged": False})
             for e in search.found]
    explanations = ex.model_copy(update={"frame_importance": rows,
                                         "counterfactuals": search.model_copy(update={"found": found})})
    decision = record.decision.model_copy(update={"threshold": threshold})
    return record.model_copy(update={"explanations": explanations, "decision": decision})


@pytest.mark.parametrize(("value", "threshold", "shown"), [
    (0.8977, 0.9, "89.8 %"),  # the field test's case: not '90 %' beside an alert threshold of 90 %
    (0.89999, 0.9, "89.999 %"),
    (0.8999999, 0.9, "just under 90 %"),
    (0.4951, 0.5, "49.5 %"),
    (0.9, 0.9, "90 %"),  # at the threshold: an alert, shown as reaching it
    (0.9004, 0.9, "90 %"),
    (0.9049, 0.905, "90 %"),  # below a threshold of 90.5 %, which is shown as such
    (0.9051, 0.905, "91 %"),
    (0.003, 0.5, "< 1 %"),
    (0.93, 0.5, "93 %"),
])
def test_a_score_is_never_shown_on_the_wrong_side_of_the_threshold(value: float, threshold: float, shown: str) -> None:
    assert narrative.score_percent(value, threshold) == shown


def test_thresholds_are_shown_with_the_decimals_they_have() -> None:
    assert [narrative.threshold_percent(t) for t in (0.5, 0.9, 0.905, 0.9049)] == ["50 %", "90 %", "90.5 %", "90.49 %"]


def test_sentences_read_against_the_threshold_keep_a_score_below_it_below(record: EvidenceRecord) -> None:
    near = _at_threshold(record, 0.9, 0.8977)
    edit = narrative.counterfactual(near)
    assert "would give \u201cfight\u201d (89.8 %), with no alert" in edit and "(90 %)" not in edit
    found = near.explanations.counterfactuals
    assert found is not None
    assert "changes the outcome to \u201cfight\u201d (89.8 %), with no alert." in trust.counterfactual_edit(near, found.found[0])
    decided = near.model_copy(update={"decision": near.decision.model_copy(update={
        "predicted_class": "fight", "predicted_probability": 0.8977, "flagged": False})})
    assert "a score of 89.8 %; an alert is raised from 90 %." in narrative.how_sure(decided)


def test_a_range_of_scores_below_the_threshold_does_not_reach_it(record: EvidenceRecord) -> None:
    near = _at_threshold(record, 0.9, 0.8977)
    near = near.model_copy(update={"decision": near.decision.model_copy(update={
        "predicted_class": "fight", "predicted_probability": 0.86, "flagged": False})})
    scores = iter((0.85, 0.8977, 0.86, 0.87, 0.88, 0.89))
    rows = [m.model_copy(update={"edits": [e.model_copy(update={"predicted_probability": next(scores)})
                                           for e in m.edits]}) if m.edits else m
            for m in near.explanations.frame_importance]
    near = near.model_copy(update={"explanations": near.explanations.model_copy(update={"frame_importance": rows})})
    assert narrative.counterfactual(near).endswith("with a score between 85 % and 89.8 %.")
