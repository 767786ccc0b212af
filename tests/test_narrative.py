"""Plain-language sentences derived from the record: frame occlusion (checklist item 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.report_records import make_explanation, make_report_folder

from auditor import narrative
from auditor.evidence import EvidenceRecord, OccludedFrame


def _with_occlusion(record: EvidenceRecord, frames: list[OccludedFrame]) -> EvidenceRecord:
    occlusion = record.explanations.occlusion
    assert occlusion is not None
    explanations = record.explanations.model_copy(update={"occlusion": occlusion.model_copy(update={"frames": frames})})
    return record.model_copy(update={"explanations": explanations})


@pytest.fixture
def record(tmp_path: Path) -> EvidenceRecord:
    return make_report_folder(tmp_path)


def test_counterfactual_names_the_frame_that_would_change_the_outcome(record: EvidenceRecord) -> None:
    text = narrative.counterfactual(record)
    assert text.startswith("Replacing a single frame by the one before it would change the outcome")
    assert "without frame 125 the system would give \u201cnormal\u201d" in text and "with no alert" in text
    assert "frame 124" not in text  # only frames whose replacement changes the outcome are named


def test_counterfactual_when_no_single_frame_matters(record: EvidenceRecord) -> None:
    assert record.explanations.occlusion is not None
    steady = [f.model_copy(update={"predicted_class": "fight", "flagged": True, "predicted_probability": p})
              for f, p in zip(record.explanations.occlusion.frames, (0.81, 0.9, 0.86, 0.88, 0.93, 0.84), strict=True)]
    text = narrative.counterfactual(_with_occlusion(record, steady))
    assert text == (
        "Replacing any single frame by the one before it would not change the outcome: the system would still "
        "flag \u201cfight\u201d, with a score between 81 % and 93 %."
    )


def test_strongest_occlusion_reports_the_largest_drop(record: EvidenceRecord) -> None:
    # drops are 0.1·t − 0.05: frame 125 (position 5, replaced by 124) lowers the score most, by 0.45
    text = narrative.strongest_occlusion(record)
    assert text == (
        "The model's internal score for \u201cfight\u201d falls most when frame 125 is replaced by frame 124: "
        "from 3.20 to 2.75."
    )


def test_strongest_occlusion_when_no_frame_lowers_the_score(record: EvidenceRecord) -> None:
    assert record.explanations.occlusion is not None
    rising = [f.model_copy(update={"score_drop": -0.1}) for f in record.explanations.occlusion.frames]
    assert narrative.strongest_occlusion(_with_occlusion(record, rising)) == (
        "Replacing any one frame does not lower the model's internal score for this label."
    )


def test_without_occlusion_the_report_says_it_was_not_computed(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path, explanation=make_explanation(frame_scores=False))
    assert narrative.strongest_occlusion(record) is None
    assert "was not computed" in narrative.counterfactual(record)
