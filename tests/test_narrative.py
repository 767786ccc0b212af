"""Plain-language sentences derived from the record: frame occlusion (checklist item 11) and the
summary's sentence on where the model looked."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.report_records import make_explanation, make_report_folder

from auditor import narrative
from auditor.evidence import EvidenceRecord, FrameEdit


def _with_occlusion(record: EvidenceRecord, **update: object) -> EvidenceRecord:
    """The record with its occlusion row's edits or values replaced."""
    rows = [m.model_copy(update=update) if m.method == "occlusion" else m for m in record.explanations.frame_importance]
    explanations = record.explanations.model_copy(update={"frame_importance": rows})
    return record.model_copy(update={"explanations": explanations})


def _edits(record: EvidenceRecord) -> list[FrameEdit]:
    method = record.explanations.edits()
    assert method is not None and method.edits is not None
    return method.edits


@pytest.fixture
def record(tmp_path: Path) -> EvidenceRecord:
    return make_report_folder(tmp_path)


def test_counterfactual_names_the_frame_that_would_change_the_outcome(record: EvidenceRecord) -> None:
    text = narrative.counterfactual(record)
    assert text.startswith("Replacing a single frame by its neighbour would change the outcome")
    assert "without frame 125 the system would give \u201cnormal\u201d" in text and "with no alert" in text
    assert "frame 124" not in text  # only frames whose replacement changes the outcome are named


def test_counterfactual_when_no_single_frame_matters(record: EvidenceRecord) -> None:
    steady = [e.model_copy(update={"predicted_class": "fight", "flagged": True, "predicted_probability": p})
              for e, p in zip(_edits(record), (0.81, 0.9, 0.86, 0.88, 0.93, 0.84), strict=True)]
    text = narrative.counterfactual(_with_occlusion(record, edits=steady))
    assert text == (
        "Replacing any single frame by its neighbour would not change the outcome: the system would still "
        "flag \u201cfight\u201d, with a score between 81 % and 93 %."
    )


def test_strongest_edit_reports_the_largest_drop(record: EvidenceRecord) -> None:
    # drops are 0.1·t − 0.05: frame 125 (position 5, replaced by 124) lowers the score most, by 0.45
    text = narrative.strongest_edit(record)
    assert text == (
        "The model's internal score for \u201cfight\u201d falls most when frame 125 is replaced by frame 124: "
        "from 3.20 to 2.75."
    )


def test_strongest_edit_when_no_frame_lowers_the_score(record: EvidenceRecord) -> None:
    rising = _with_occlusion(record, values=[-0.1] * len(_edits(record)))
    assert narrative.strongest_edit(rising) == (
        "Replacing any one frame does not lower the model's internal score for this label."
    )


def test_without_occlusion_the_report_says_it_was_not_computed(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path, explanation=make_explanation(occlusion_and_gradient=False))
    assert narrative.strongest_edit(record) is None
    assert "was not computed" in narrative.counterfactual(record)


def _with_key_frame_peaks(record: EvidenceRecord, peaks: list[tuple[str, float]]) -> EvidenceRecord:
    """The record with its key frames' Grad-CAM peak regions and clip-relative peak heights replaced."""
    explanations = record.explanations
    frames = list(explanations.frames)
    for position, (region, peak) in zip(explanations.key_frames, peaks, strict=True):
        frame = frames[position]
        gradcam = frame.maps["gradcam"].model_copy(update={"region": region, "peak_relative": peak})
        frames[position] = frame.model_copy(update={"maps": {**frame.maps, "gradcam": gradcam}})
    return record.model_copy(update={"explanations": explanations.model_copy(update={"frames": frames})})


@pytest.mark.parametrize(("peaks", "expected"), [
    ([("centre", 0.6), ("centre", 0.9), ("centre", 1.0), ("centre", 0.7)],
     "In 4 of 4 key frames the model's strongest activation was in the centre of the image."),
    # the demo clip's case: three key frames carry little activation, one carries the clip's maximum
    ([("middle-right", 0.2), ("middle-right", 0.2), ("middle-right", 0.1), ("centre", 1.0)],
     "In 1 of 4 key frames the model's strongest activation was in the centre of the image; "
     "in 3 it was weak (below a quarter of the clip's strongest)."),
    ([("upper-left", 0.5), ("upper-left", 0.8), ("lower-right", 1.0), ("upper-left", 0.1)],
     "In 2 of 4 key frames the model's strongest activation was in the upper-left part of the image; "
     "in 1 it lay elsewhere and in 1 it was weak (below a quarter of the clip's strongest)."),
    # a tie between regions goes to the one holding the strongest peak
    ([("upper-left", 0.3), ("lower-right", 0.1), ("upper-left", 0.2), ("lower-right", 1.0)],
     "In 1 of 4 key frames the model's strongest activation was in the lower-right part of the image; "
     "in 1 it lay elsewhere and in 2 it was weak (below a quarter of the clip's strongest)."),
    ([("upper-left", 0.3), ("lower-right", 0.4), ("upper-left", 0.9), ("lower-right", 1.0)],
     "In 2 of 4 key frames the model's strongest activation was in the lower-right part of the image; "
     "in 2 it lay elsewhere."),
    ([("centre", 0.1), ("centre", 0.2), ("centre", 0.24), ("centre", 0.0)],
     "The model's activation was weak in every key frame; no region stands out."),
])
def test_attention_summary_accounts_for_every_key_frame(
    record: EvidenceRecord, peaks: list[tuple[str, float]], expected: str
) -> None:
    assert narrative.attention_summary(_with_key_frame_peaks(record, peaks)) == expected
