"""Plain-language sentences derived from the record: frame occlusion (checklist item 11) and the
summary's sentence on where the model looked."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.report_records import make_explanation, make_report_folder

from auditor.evidence import EvidenceRecord, FrameEdit
from auditor.report import narrative


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
        "flag \u201cfight\u201d, with a score between 81% and 93%."
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


def _with_maps(record: EvidenceRecord, method: str, updates: dict[int, dict[str, object]]) -> EvidenceRecord:
    """The record with the `method` summaries of some frames (by position) updated."""
    explanations = record.explanations
    frames = list(explanations.frames)
    for position, update in updates.items():
        frame = frames[position]
        frames[position] = frame.model_copy(update={"maps": {**frame.maps, method: frame.maps[method].model_copy(update=update)}})
    return record.model_copy(update={"explanations": explanations.model_copy(update={"frames": frames})})


UNLOCALISED = {"localised": False, "region": "none", "peak_relative": 1.0}


@pytest.mark.parametrize(("kinds", "expected"), [
    (["none"] * 4, "The Grad-CAM map showed no localisation in any key frame: no part of the image stands out."),
    (["none", "weak", "none", "weak"],
     "No key frame points to a part of the image: in 2 the model's activation was weak (below a quarter of the "
     "clip's strongest) and in 2 the map showed no localisation."),
    (["centre", "none", "weak", "upper-left"],
     "In 1 of 4 key frames the model's strongest activation was in the centre of the image; in 1 it lay "
     "elsewhere, in 1 it was weak (below a quarter of the clip's strongest) and in 1 the map showed no localisation."),
])
def test_attention_summary_says_no_localisation_instead_of_a_region(
    record: EvidenceRecord, kinds: list[str], expected: str
) -> None:
    updates = {
        t: UNLOCALISED if kind == "none" else {"region": "centre", "peak_relative": 0.1} if kind == "weak"
        else {"region": kind, "peak_relative": 1.0 if kind == "centre" else 0.5, "localised": True}
        for t, kind in zip(record.explanations.key_frames, kinds, strict=True)
    }
    assert narrative.attention_summary(_with_maps(record, "gradcam", updates)) == expected


def test_captions_name_a_peak_only_where_the_summary_does(record: EvidenceRecord) -> None:
    """A frame the summary calls weak or unlocalised gets no "peak …" in its caption."""
    summary = record.explanations.frames[0].maps["gradcam"]
    assert narrative.peak_words(summary.model_copy(update={"region": "upper-left", "peak_relative": 0.8})) == "peak upper-left"
    assert narrative.peak_words(summary.model_copy(update={"region": "upper-left", "peak_relative": 0.1})) == "weak activation"
    assert narrative.peak_words(summary.model_copy(update=UNLOCALISED)) == "no localisation"
    assert narrative.peak_words(summary.model_copy(update={"localised": False, "peak_relative": 1.0})) == "no localisation"
    assert narrative.peak_words(summary.model_copy(update={"localised": None, "region": "none"})) == "no localisation"


def test_runs_of_unlocalised_frames_are_described_as_such(record: EvidenceRecord) -> None:
    unlocalised = _with_maps(record, "gradcam", dict.fromkeys(range(6), UNLOCALISED))
    sentences = narrative.attention_sentences(unlocalised)
    assert sentences[0].startswith("In frames 120\u2013125 (")  # one run: the whole window
    assert sentences[0].endswith(") the Grad-CAM map showed no localisation: no part of the image stands out.")
    assert "strongest activation was in" not in " ".join(sentences)
    assert sentences[1].endswith("; in 4 of them the map shows no localisation.")
    assert sentences[2] == (
        "Pixel-level saliency and Grad-CAM cannot be compared on the key frames: on each of them at least one of "
        "the two maps shows no localisation."
    )


@pytest.mark.parametrize(("mass", "held"), [
    (0.0, "no Grad-CAM activation"),  # a map of zeros
    (2.0, "the same share of the Grad-CAM activation"),  # a detector that treats every frame alike
])
def test_key_frames_do_not_stand_out_when_every_frame_holds_the_same(
    record: EvidenceRecord, mass: float, held: str
) -> None:
    same = {"mass": mass, "mass_share": 1 / 6 if mass else 0.0, **UNLOCALISED}
    text = narrative.key_frame_sentence(_with_maps(record, "gradcam", dict.fromkeys(range(6), same)))
    keys = ", ".join(str(120 + t) for t in record.explanations.key_frames)
    assert text == f"Every frame holds {held}, so no frame stands out: the key frames ({keys}) hold no more than the others."


def test_runs_of_frames_end_when_their_last_frame_ends(record: EvidenceRecord) -> None:
    """Like the window in the summary: frames 120-125 at 10 fps last from 12.00 s to 12.60 s."""
    groups = narrative.frame_groups(_with_maps(record, "gradcam", dict.fromkeys(range(6), UNLOCALISED)))
    assert [(g.frames, g.times) for g in groups] == [("frames 120\u2013125", "12.00 s to 12.60 s")]
    single = narrative.frame_groups(_with_maps(record, "gradcam", dict.fromkeys(range(5), UNLOCALISED)))
    assert (single[-1].frames, single[-1].times) == ("frame 125", "12.50 s")


def test_saliency_agreement_leaves_out_frames_without_localisation(record: EvidenceRecord) -> None:
    first = record.explanations.key_frames[0]
    text = narrative.saliency_agreement(_with_maps(record, "saliency", {first: UNLOCALISED}))
    assert text is not None and text.startswith("On ") and " of 3 key frames " in text
    assert text.endswith("On the other key frame at least one of the two maps shows no localisation.")
