"""The trust checks' sentences follow the recorded values: each verdict and each empty case has
its own words, and the page-one summary stays free of technical terms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.report_records import make_report_folder

from auditor.evidence import EvidenceRecord
from auditor.evidence.build_trust import motion_record
from auditor.explain.motion import MotionRelevance
from auditor.explain.sanity import MethodSanity, SanityCheck
from auditor.report import narrative_trust as trust


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> EvidenceRecord:
    return make_report_folder(tmp_path_factory.mktemp("trust"), trust=True)


def _with(record: EvidenceRecord, section: str, **changes: object) -> EvidenceRecord:
    ex = record.explanations
    changed = getattr(ex, section).model_copy(update=changes)
    return record.model_copy(update={"explanations": ex.model_copy(update={section: changed})})


def test_motion_words_follow_the_share(record: EvidenceRecord) -> None:
    assert trust.motion_verdict(0.62) == "mainly on movement"
    assert trust.motion_verdict(0.3) == "partly on movement"
    assert trust.motion_verdict(0.05) == "mainly on what single frames show, not on movement"
    assert trust.motion_summary(record).startswith("The decision rests mainly on movement: 62% of the Grad-CAM")
    assert "frame 120 is still labelled \u201cfight\u201d (90%)" in trust.motion_summary(record)


def test_an_empty_search_is_stated_as_evidence(record: EvidenceRecord) -> None:
    empty = _with(record, "counterfactuals", found=[])
    text = trust.counterfactual_summary(empty)
    assert text.startswith("No edit within the search budget changed the outcome (41 edits tried: up to 1 frame replaced by its neighbours")
    assert text.endswith("that is evidence too.")
    assert trust.counterfactual_summary(record).startswith("2 different small edits")


def test_a_failed_sanity_check_warns_on_page_one(record: EvidenceRecord) -> None:
    sanity = record.explanations.sanity
    assert sanity is not None and not any("Warning" in s for s in trust.summary_sentences(record))
    failed = _with(record, "sanity", methods=[sanity.methods[0], sanity.methods[1].model_copy(
        update={"verdict": "fails", "correlation": 0.97, "abs_correlation": 0.97})])
    sentence = trust.sanity_sentence(failed)
    assert "the maps of Grad-CAM change (rank correlation 0.12" in sentence
    assert "the maps of saliency barely change (rank correlation 0.97)" in sentence
    assert "Warning: the saliency maps barely change when what the model learned is erased: they are not evidence, " \
        "and this report shows them only in its technical annex, marked as failed." in trust.summary_sentences(failed)


def test_faithfulness_verdicts_name_what_held(record: EvidenceRecord) -> None:
    lines = trust.faithfulness_sentences(record)
    assert lines[0].startswith("Grad-CAM (pixels): points at what the decision depends on better than chance")
    assert lines[1].startswith("Frame occlusion (frames): does not point")
    assert trust.faithfulness_summary(record) == (
        "Removing the 10% most relevant pixels according to Grad-CAM drops the \u201cfight\u201d score from 93% to "
        "41%; removing a random 10% drops it to 90%."
    )


def test_people_and_faces_have_words_for_nobody(record: EvidenceRecord, tmp_path: Path) -> None:
    assert trust.person_sentences(record) == ["72% of the activation in frames 123–125 lies on person 1."]
    nobody = _with(record, "persons", persons=[])
    assert trust.person_sentences(nobody)[0].startswith("No person was detected in the key frames (frames 123–125)")
    assert trust.masking_sentence(record).startswith("1 face (frame 125) blurred in every image of this report")
    masking = record.masking
    assert masking is not None
    off = record.model_copy(update={"masking": masking.model_copy(update={"enabled": False, "faces": 0, "frames": []})})
    assert "switched off in the deployment profile" in trust.masking_sentence(off)
    plain = make_report_folder(tmp_path)
    assert trust.masking_sentence(plain) == "Faces were not looked for in this report's images."
    assert trust.summary_sentences(plain) == []


def test_the_page_one_summary_has_no_technical_terms(record: EvidenceRecord) -> None:
    summary = " ".join(trust.summary_sentences(record))
    assert summary and not any(term in summary for term in ("Grad-CAM", "saliency", "logit", "AUC", "correlation"))


def test_a_score_that_rises_is_not_said_to_drop(record: EvidenceRecord) -> None:
    faith = record.explanations.faithfulness
    assert faith is not None
    curve = faith.curves[0]
    rising = curve.model_copy(update={"random_deletion": curve.random_deletion.model_copy(
        update={"scores": [0.93, 0.98, 0.6, 0.05]})})
    changed = _with(record, "faithfulness", curves=[rising, *faith.curves[1:]])
    assert trust.faithfulness_summary(changed).endswith("removing a random 10% raises it to 98%.")
    same = rising.model_copy(update={"random_deletion": curve.random_deletion.model_copy(
        update={"scores": [0.93, 0.931, 0.6, 0.05]})})
    assert trust.faithfulness_summary(_with(record, "faithfulness", curves=[same])).endswith("leaves it at 93%.")


def test_activation_spread_over_many_people_lies_on_nobody(record: EvidenceRecord) -> None:
    grounding = record.explanations.persons
    assert grounding is not None
    person = grounding.persons[0]
    crowd = [person.model_copy(update={"person_id": i, "share": 0.02 * i}) for i in range(1, 5)]
    text = trust.person_sentences(_with(record, "persons", persons=crowd))
    assert text == ["The activation does not lie on any one person: 4 people were detected in the key frames, "
                    "and the most, person 4, holds 8% of it."]
    named = trust.person_sentences(_with(record, "persons", persons=[*crowd, person.model_copy(update={"person_id": 9})]))
    assert named[0].startswith("72% of the activation") and named[0].endswith("lies on person 9.")
    assert named[1] == "5 people were detected in the key frames; the other 4 hold less than 10% each."


def test_a_map_failing_the_randomisation_check_gets_no_motion_share_and_no_claim(record: EvidenceRecord) -> None:
    """The record builder drops the share of a method whose maps fail the model-randomisation
    check; the page-one summary then says the share cannot be measured, and why."""
    motion = MotionRelevance(
        spatial_maps={"gradcam": np.ones((2, 2, 2))}, frame_shares={"gradcam": np.array([0.1, np.nan])},
        overall_shares={"gradcam": 0.1}, static_logits=np.zeros((2, 2), np.float32),
        static_probabilities=np.full((2, 2), 0.5, np.float32), kept=np.ones(2),
    )
    sanity = SanityCheck(model_sha256="0" * 64, layer="conv", randomised_layers=("conv",), reference_clips={},
                         seed=0, threshold=0.5, methods={"gradcam": MethodSanity(0.9, 0.9, "fails")},
                         computed_at="2026-12-07T00:00:00Z", host="h")
    passing = motion_record(motion, ["normal", "fight"], 1, {})
    assert passing.overall_share == {"gradcam": 0.1} and passing.frames[1].motion_share == {"gradcam": None}
    failing = motion_record(motion, ["normal", "fight"], 1, {}, sanity)
    assert failing.overall_share == {"gradcam": None} and failing.not_measurable["gradcam"] == "motion.sanity_fails"
    sentence = trust.summary_sentences(_with(record, "motion", **failing.model_dump()))[0]
    assert sentence.startswith("Whether the decision rests on movement or on single frames cannot be measured. "
                               "The Grad-CAM map barely changes when what the model learned is erased")


def test_each_verdict_states_its_precision_over_the_random_seeds(record: EvidenceRecord) -> None:
    """Schema 2.5: a verdict says how far it is beyond the spread of the random orders' areas."""
    faith = record.explanations.faithfulness
    assert faith is not None
    gradcam = faith.curves[0]
    lines = trust.faithfulness_sentences(record)
    assert lines[0].endswith("its areas differ from those of random orders by 0.35 (deletion) and 0.35 (insertion), "
                             "random orders among themselves by up to 0.05, so both differences exceed what chance "
                             "alone varies.")
    assert lines[1].endswith("random orders among themselves by up to 0.06; the smaller difference is within what "
                             "chance alone varies.")
    wide = gradcam.model_copy(update={"random_deletion_aucs": [0.1, 0.95], "random_insertion_aucs": [0.4, 0.5]})
    assert trust.random_spread(wide) == pytest.approx(0.85)
    (line,) = trust.faithfulness_sentences(_with(record, "faithfulness", curves=[wide]))
    assert line.endswith("both differences are within what chance alone varies, so this verdict is not conclusive.")
    one = gradcam.model_copy(update={"seeds": [0], "random_deletion_aucs": [0.55], "random_insertion_aucs": [0.44]})
    (line,) = trust.faithfulness_sentences(_with(record, "faithfulness", curves=[one]))
    assert line.endswith("one random order only, so how much chance alone varies is not known.")
    old = gradcam.model_copy(update={"random_deletion_aucs": None, "random_insertion_aucs": None, "seeds": None})
    assert trust.faithfulness_sentences(_with(record, "faithfulness", curves=[old])) == [
        "Grad-CAM (pixels): points at what the decision depends on better than chance."]
    assert trust.random_area(gradcam, insertion=False) == "0.55 (0.53\u20130.58)"
    assert trust.random_area(old, insertion=False) == "0.55"
    assert trust.random_orders(record) == "2 random orders for pixels (seeds 0 and 1) and 3 for frames (seeds 0, 1 and 2)"
    before = _with(record, "faithfulness", curves=[old], seeds=[0, 1, 2])
    assert trust.random_orders(before) == "random orders of seeds 0, 1 and 2"
    assert trust.random_orders(_with(record, "faithfulness", curves=[old], seeds=[])) == "random orders"
