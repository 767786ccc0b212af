"""Plain-language sentences on how far a report's explanation can be trusted: whether the
movement mattered, what would have changed the outcome, whether the maps point at what the
decision depends on, whether they depend on what the model learned, whom the evidence lies on,
and which faces were masked. Derived from recorded values only (schema 2.3 sections); the
templates reach these as `trust.NAME` and escape the text.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from auditor.evidence import EvidenceRecord
from auditor.evidence.trust import CounterfactualEdit, FaithfulnessCurves, PersonRecord
from auditor.report.narrative import failed_sanity, frame_span, percent, score_percent
from auditor.report.narrative_sanity import (
    method_name,
    method_names,
    randomised_groups,
    randomised_words,
    sanity_provenance,
    sanity_sentence,
)

__all__ = [
    "counterfactual_caption",
    "counterfactual_edit",
    "counterfactual_summary",
    "failed_maps",
    "faithfulness_sentences",
    "faithfulness_summary",
    "frames_named",
    "masking_sentence",
    "method_name",
    "method_title",
    "motion_summary",
    "motion_verdict",
    "person_sentences",
    "random_area",
    "random_orders",
    "random_spread",
    "randomised_groups",
    "randomised_words",
    "sanity_provenance",
    "sanity_sentence",
    "shown_maps",
    "summary_sentences",
]

MOSTLY_MOTION, PARTLY_MOTION = 0.5, 0.2  # shares of the relevance due to movement
QUOTED_FRACTION = 0.1  # the share of pixels the faithfulness sentence quotes
PERSON_SHARE = 0.1  # a person holding less of the activation is not named one by one
MAP_KINDS = ("gradcam", "saliency")  # the methods with a picture of every frame


def method_title(name: str) -> str:
    """The method's name to open a sentence or heading with: 'Saliency', 'Grad-CAM'."""
    text = method_name(name)
    return text[0].upper() + text[1:]


def shown_maps(record: EvidenceRecord) -> list[str]:
    """The per-frame map pictures (of `MAP_KINDS`) the report shows as evidence: those whose method
    did not fail the model-randomisation check."""
    return [kind for kind in MAP_KINDS if not failed_sanity(record, kind)]


def failed_maps(record: EvidenceRecord) -> list[str]:
    """The per-frame map pictures the report shows only in its annex, marked as failed."""
    return [kind for kind in MAP_KINDS if failed_sanity(record, kind)]


def frames_named(record: EvidenceRecord, positions: Sequence[int]) -> str:
    """'frame 12', 'frames 12–14' (consecutive in the window), or 'frames 3, 7 and 9', by source
    frame number."""
    ordered = sorted(positions)
    numbers = [record.explanations.frames[t].frame_index for t in ordered]
    if not numbers:
        return "no frame"
    if len(numbers) == 1:
        return f"frame {numbers[0]}"
    if all(b - a == 1 for a, b in itertools.pairwise(ordered)):
        return "frames " + frame_span(numbers[0], numbers[-1]).removeprefix("frames ")
    return "frames " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def motion_verdict(share: float) -> str:
    """How much of the decision rests on movement, in words."""
    if share >= MOSTLY_MOTION:
        return "mainly on movement"
    if share >= PARTLY_MOTION:
        return "partly on movement"
    return "mainly on what single frames show, not on movement"


def motion_share(record: EvidenceRecord) -> tuple[float | None, str]:
    """The clip's share due to movement (Grad-CAM's, else the first method's) and, when it is not
    measurable (None), why."""
    motion = record.explanations.motion
    assert motion is not None
    method = "gradcam" if "gradcam" in motion.overall_share else next(iter(motion.overall_share))
    reason = motion.not_measurable.get(method, "shows no relevance to divide")
    return motion.overall_share[method], f"the {method_name(method)} map {reason}"


def motion_summary(record: EvidenceRecord) -> str:
    """Whether the movement mattered (spatial vs motion relevance); nothing is said about what the
    decision rests on when the maps carry no relevance."""
    motion = record.explanations.motion
    if motion is None:
        return "Whether the decision rests on movement was not computed for this report."
    share, reason = motion_share(record)
    if share is None:
        return (f"Whether the decision rests on movement or on single frames cannot be measured: {reason}. "
                "This report therefore says neither.")
    label = record.explanations.target_class
    still = max(motion.frames, key=lambda f: (f.static_probability, -f.position))
    text = (
        f"The decision rests {motion_verdict(share)}: {percent(share)} of the Grad-CAM relevance is not accounted "
        f"for by the frames held still (each frame shown alone, without movement), so it is due to movement."
    )
    if still.static_class == label:
        return text + (
            f" Held still on its own, {frames_named(record, [still.position])} is still labelled "
            f"\u201c{label}\u201d ({percent(still.static_probability)}): a single picture carries evidence too."
        )
    return text + (
        f" No frame held still on its own is labelled \u201c{label}\u201d (the highest score for it is "
        f"{percent(still.static_probability)}, {frames_named(record, [still.position])})."
    )


def counterfactual_edit(record: EvidenceRecord, edit: CounterfactualEdit) -> str:
    """What one what-if edit did, in words."""
    frames = len(record.input.frame_indices)
    if edit.kind == "frames":
        what = (f"Replacing {frames_named(record, edit.positions)} ({len(edit.positions)} of {frames} frames) "
                "by the nearest frames kept")
    else:
        what = (f"Blurring the area where Grad-CAM reaches {percent(edit.level or 0)} of each frame's strongest value "
                f"({percent(edit.edited_share)} of the clip's pixels, {frames_named(record, edit.positions)})")
    alert = "raising an alert" if edit.flagged else "with no alert"
    score = score_percent(edit.predicted_probability, record.decision.threshold)
    return f"{what} changes the outcome to \u201c{edit.predicted_class}\u201d ({score}), {alert}."


def counterfactual_caption(record: EvidenceRecord, edit: CounterfactualEdit) -> str:
    """The caption under an edit's picture."""
    return (f"{frames_named(record, [edit.key_position]).capitalize()}: as recorded (left) and as edited (right). "
            + counterfactual_edit(record, edit))


def counterfactual_summary(record: EvidenceRecord) -> str:
    """What would have changed the outcome (checklist item 11), or that nothing small did."""
    search = record.explanations.counterfactuals
    if search is None:
        return "No search for edits that would change the outcome was made for this report."
    if search.found:
        count = len(search.found)
        lead = "One small edit" if count == 1 else f"{count} different small edits"
        return f"{lead} of the clip would change the outcome; each was applied again on its own and re-scored."
    budget = search.budget
    return (
        f"No edit within the search budget changed the outcome ({search.candidates_tried} edits tried: up to "
        f"{budget.get('max_frames', 0)} frames replaced by their neighbours, or a blurred region of up to "
        f"{percent(float(budget.get('max_area', 0)))} of the clip). The decision does not hinge on one small "
        "part of the clip; that is evidence too."
    )


def _score_after(curve: FaithfulnessCurves, fraction: float, random: bool = False) -> float:
    source = curve.random_deletion if random else curve.deletion
    pairs = dict(zip(source.fractions, source.scores, strict=True))
    return pairs[min(pairs, key=lambda f: abs(f - fraction))]


def _effect(before: float, after: float, subject: str, start: bool = True) -> str:
    """'drops the score from 97 % to 41 %', 'raises it to 98 %', 'leaves it at 97 %': what a change
    does, as the shown percentages tell it (`start`: name the value before)."""
    shown_before, shown_after = percent(before), percent(after)
    if shown_after == shown_before:
        return f"leaves {subject} at {shown_after}"
    verb = "drops" if after < before else "raises"
    return f"{verb} {subject} from {shown_before} to {shown_after}" if start else f"{verb} {subject} to {shown_after}"


def _quoted_curve(record: EvidenceRecord) -> FaithfulnessCurves | None:
    """The curve the sentences quote: Grad-CAM's, else the first, of the orderings whose maps did
    not fail the model-randomisation check."""
    faith = record.explanations.faithfulness
    if faith is None or not faith.curves:
        return None
    trusted = [c for c in faith.curves if not failed_sanity(record, c.ordering)] or faith.curves
    return next((c for c in trusted if c.ordering == "gradcam"), trusted[0])


def faithfulness_summary(record: EvidenceRecord) -> str | None:
    """The one sentence on Grad-CAM's deletion curve, with random pixels for comparison."""
    faith, curve = record.explanations.faithfulness, _quoted_curve(record)
    if faith is None or curve is None:
        return None
    share, before = percent(QUOTED_FRACTION), faith.original_score
    score = f"the \u201c{record.explanations.target_class}\u201d score"
    return (
        f"Removing the {share} most relevant {curve.unit} according to {method_name(curve.ordering)} "
        f"{_effect(before, _score_after(curve, QUOTED_FRACTION), score)}; removing a random {share} "
        f"{_effect(before, _score_after(curve, QUOTED_FRACTION, random=True), 'it', start=False)}."
    )


def faithfulness_sentences(record: EvidenceRecord) -> list[str]:
    """Per ordering: whether it finds what the decision depends on better than chance, and how far
    that comparison is beyond the spread of the random orders (schema 2.5)."""
    faith = record.explanations.faithfulness
    if faith is None:
        return ["Deletion and insertion curves were not computed for this report."]
    sentences = []
    for curve in faith.curves:
        deletes = curve.deletion.auc < curve.random_deletion.auc
        inserts = curve.insertion.auc > curve.random_insertion.auc
        verdict = f"{method_title(curve.ordering)} ({curve.unit}): {_FAITH_VERDICTS[deletes, inserts]}"
        sentences.append(f"{verdict}{_precision(curve)}.")
    return sentences


def random_spread(curve: FaithfulnessCurves) -> float | None:
    """How far the random orders' areas differ among themselves (max − min over seeds, the larger of
    deletion and insertion): the precision of a comparison with chance; None before 2.5."""
    if not curve.random_deletion_aucs or not curve.random_insertion_aucs:
        return None
    return max(max(a) - min(a) for a in (curve.random_deletion_aucs, curve.random_insertion_aucs))


def random_area(curve: FaithfulnessCurves, insertion: bool) -> str:
    """'0.81 (0.74–0.87)': the random orders' mean area and its range over the seeds."""
    mean = (curve.random_insertion if insertion else curve.random_deletion).auc
    aucs = curve.random_insertion_aucs if insertion else curve.random_deletion_aucs
    return f"{mean:.2f} ({min(aucs):.2f}–{max(aucs):.2f})" if aucs and len(aucs) > 1 else f"{mean:.2f}"


def random_orders(record: EvidenceRecord) -> str:
    """'2 random orders for pixels (seeds 0 and 1) and 3 for frames (seeds 0, 1 and 2)'."""
    faith = record.explanations.faithfulness
    if faith is None:
        return ""
    kinds = {curve.unit: curve.seeds for curve in faith.curves if curve.seeds}
    if not kinds:
        return f"random orders of seeds {_and(faith.seeds)}" if faith.seeds else "random orders"
    return " and ".join(_orders(seeds, unit, first=i == 0) for i, (unit, seeds) in enumerate(kinds.items()))


def _orders(seeds: Sequence[int], unit: str, first: bool) -> str:
    plural = "s" if len(seeds) > 1 else ""
    noun = f" random order{plural}" if first else ""
    return f"{len(seeds)}{noun} for {unit} (seed{plural} {_and(seeds)})"


def _and(values: Sequence[int]) -> str:
    texts = [str(v) for v in values]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"


def _area(value: float) -> str:
    return "less than 0.01" if abs(value) < 0.005 else f"{abs(value):.2f}"


def _precision(curve: FaithfulnessCurves) -> str:
    """'; its areas differ from those of random orders by 0.75 (deletion) and 0.14 (insertion), random
    orders among themselves by up to 0.14; the smaller difference is within what chance alone
    varies' (empty before 2.5)."""
    spread = random_spread(curve)
    if spread is None:
        return ""
    if len(curve.random_deletion_aucs or ()) < 2:
        return "; one random order only, so how much chance alone varies is not known"
    gaps = (curve.random_deletion.auc - curve.deletion.auc, curve.insertion.auc - curve.random_insertion.auc)
    text = (f"; its areas differ from those of random orders by {_area(gaps[0])} (deletion) and {_area(gaps[1])} "
            f"(insertion), random orders among themselves by up to {_area(spread)}")
    beyond = [abs(gap) > spread for gap in gaps]
    if all(beyond):
        return text + ", so both differences exceed what chance alone varies"
    return text + ("; the smaller difference is within what chance alone varies" if any(beyond) else
                   "; both differences are within what chance alone varies, so this verdict is not conclusive")


_FAITH_VERDICTS = {
    (True, True): "points at what the decision depends on better than chance",
    (True, False): ("partly: removing what it ranks first lowers the score faster than chance, but revealing it first "
                    "does not raise it faster"),
    (False, True): ("partly: revealing what it ranks first raises the score faster than chance, but removing it first "
                    "does not lower it faster"),
    (False, False): "does not point at what the decision depends on better than chance: read it with caution",
}


def _person_sentence(record: EvidenceRecord, person: PersonRecord) -> str:
    positions = [b.position for b in person.boxes]
    return (f"{percent(person.share)} of the activation in {frames_named(record, positions)} lies on "
            f"person {person.person_id}.")


def person_sentences(record: EvidenceRecord) -> list[str]:
    """Whom the activation lies on, in the key frames: the people holding at least `PERSON_SHARE`
    of it (at most three), or that it lies on nobody in particular."""
    grounding = record.explanations.persons
    if grounding is None:
        return ["People in the key frames were not looked for in this report."]
    if not grounding.persons:
        return [f"No person was detected in the key frames ({frames_named(record, grounding.positions)}) by "
                "OpenCV's people detector; the activation could not be related to a person. Small, partly hidden "
                "or lying people are often missed by that detector."]
    ranked = sorted(grounding.persons, key=lambda p: (-p.share, p.person_id))
    holding = [p for p in ranked if p.share >= PERSON_SHARE][:3]
    count = f"{len(ranked)} {'person was' if len(ranked) == 1 else 'people were'} detected in the key frames"
    if failed_sanity(record, "gradcam"):
        return [f"{count[0].upper()}{count[1:]}. The Grad-CAM maps failed the model-randomisation check, so how much "
                "of their activation lies on each person is not evidence and is not stated here."]
    if not holding:
        top = ranked[0]
        return [f"The activation does not lie on any one person: {count}, and the most, person {top.person_id}, "
                f"holds {percent(top.share)} of it."]
    rest = len(ranked) - len(holding)
    tail = [f"{count}; the other {rest} hold less than {percent(PERSON_SHARE)} each."] if rest else []
    return [_person_sentence(record, p) for p in holding] + tail


def masking_sentence(record: EvidenceRecord) -> str:
    """Which faces the report's images hide (checklist item 7)."""
    masking = record.masking
    if masking is None:
        return "Faces were not looked for in this report's images."
    if not masking.enabled:
        return ("Face masking is switched off in the deployment profile: faces in the report's images are shown "
                "as recorded.")
    if not masking.faces:
        return ("No face was found in the report's images, so nothing was blurred. The explanation was computed on "
                "the unmasked frames.")
    positions = [f.position for f in masking.frames]
    faces = "1 face" if masking.faces == 1 else f"{masking.faces} faces"
    return (f"{faces} ({frames_named(record, positions)}) blurred in every image of this report to protect "
            "bystanders; the explanation itself was computed on the unmasked frames.")


def summary_sentences(record: EvidenceRecord) -> list[str]:
    """The page-one account of how far the explanation can be trusted, without technical terms."""
    ex = record.explanations
    sentences = []
    if ex.motion is not None:
        share, reason = motion_share(record)
        sentences.append(
            f"Whether the decision rests on movement or on single frames cannot be measured: {reason}."
            if share is None else
            f"The decision rests {motion_verdict(share)} ({percent(share)} of what the heatmaps "
            "highlight is due to things moving between frames).")
    if ex.counterfactuals is not None:
        sentences.append(counterfactual_summary(record))
    curve = _quoted_curve(record)
    if ex.faithfulness is not None and curve is not None:
        quoted, before = percent(QUOTED_FRACTION), ex.faithfulness.original_score
        score = f"the \u201c{ex.target_class}\u201d score"
        sentences.append(
            f"Removing the {quoted} of the picture the heatmaps mark as most important "
            f"{_effect(before, _score_after(curve, QUOTED_FRACTION), score)}; removing a random {quoted} "
            f"{_effect(before, _score_after(curve, QUOTED_FRACTION, random=True), 'it', start=False)}."
        )
    failed = [m for m in ex.sanity.methods if m.verdict == "fails"] if ex.sanity is not None else []
    if failed:
        sentences.append(f"Warning: the {method_names(failed)} maps barely change when what the model learned is erased: "
                         "they are not evidence, and this report shows them only in its technical annex, marked as "
                         "failed.")
    return sentences
