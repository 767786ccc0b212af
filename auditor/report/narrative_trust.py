"""Plain-language sentences on how far a report's explanation can be trusted: whether the
movement mattered, what would have changed the outcome, whether the maps point at what the
decision depends on, whether they depend on what the model learned, whom the evidence lies on,
and which faces were masked, in the active language (`auditor.i18n`). Derived from recorded values
only (schema 2.3 sections); methods are named by their descriptors (`auditor.explain.methods`). The
templates reach these, and those of `narrative_sanity` and `narrative_faithfulness`, as `trust.NAME`
and escape the text.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from auditor import i18n
from auditor.evidence import EvidenceRecord
from auditor.evidence.trust import CounterfactualEdit, PersonRecord
from auditor.explain.methods import map_methods, primary_map
from auditor.i18n import _, ngettext
from auditor.report import record_words
from auditor.report.narrative import failed_sanity, frame_span, percent, score_percent
from auditor.report.narrative_faithfulness import (
    QUOTED_FRACTION,
    faithfulness_sentences,
    faithfulness_summary,
    method_title,
    quoted_curve,
    random_area,
    random_effect,
    random_orders,
    random_spread,
    score_after,
    score_effect,
)
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
    "method_label",
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
PERSON_SHARE = 0.1  # a person holding less of the activation is not named one by one


def method_label(name: str) -> str:
    """A method's label for headings and table columns, from its descriptor: 'Grad-CAM', 'Saliency'."""
    return method_title(name)


def shown_maps(record: EvidenceRecord) -> list[str]:
    """The map methods whose per-frame pictures the report shows as evidence (their descriptors'
    order): those that did not fail the model-randomisation check."""
    return [d.name for d in map_methods() if not failed_sanity(record, d.name)]


def failed_maps(record: EvidenceRecord) -> list[str]:
    """The map methods whose per-frame pictures the report shows only in its annex, marked as failed."""
    return [d.name for d in map_methods() if failed_sanity(record, d.name)]


def frames_named(record: EvidenceRecord, positions: Sequence[int]) -> str:
    """'frame 12', 'frames 12–14' (consecutive in the window), or 'frames 3, 7 and 9', by source
    frame number."""
    ordered = sorted(positions)
    numbers = [record.explanations.frames[t].frame_index for t in ordered]
    if not numbers:
        return _("no frame")
    if len(numbers) == 1 or all(b - a == 1 for a, b in itertools.pairwise(ordered)):
        return frame_span(numbers[0], numbers[-1])
    # TRANSLATORS: %(numbers)s lists frame numbers ("3, 7 and 9").
    return _("frames %(numbers)s") % {"numbers": i18n.listing(str(n) for n in numbers)}


def motion_verdict(share: float) -> str:
    """How much of the decision rests on movement, in words."""
    if share >= MOSTLY_MOTION:
        # TRANSLATORS: completes "The decision rests …".
        return _("mainly on movement")
    if share >= PARTLY_MOTION:
        return _("partly on movement")
    return _("mainly on what single frames show, not on movement")


def motion_share(record: EvidenceRecord) -> tuple[float | None, str]:
    """The clip's share due to movement (the primary map's, else the first method's) and, when it is
    not measurable (None), the sentence that says why."""
    motion = record.explanations.motion
    assert motion is not None
    primary = primary_map().name
    method = primary if primary in motion.overall_share else next(iter(motion.overall_share))
    return motion.overall_share[method], record_words.not_measurable_text(motion, method)


def motion_summary(record: EvidenceRecord) -> str:
    """Whether the movement mattered (spatial vs motion relevance); nothing is said about what the
    decision rests on when the maps carry no relevance."""
    motion = record.explanations.motion
    if motion is None:
        return _("Whether the decision rests on movement was not computed for this report.")
    share, reason = motion_share(record)
    if share is None:
        return " ".join((_("Whether the decision rests on movement or on single frames cannot be measured."), reason,
                         _("This report therefore says neither.")))
    label = record.explanations.target_class
    still = max(motion.frames, key=lambda f: (f.static_probability, -f.position))
    values = {"verdict": motion_verdict(share), "share": percent(share), "method": method_name(primary_map().name),
              "label": label, "frame": frames_named(record, [still.position]), "score": percent(still.static_probability)}
    # TRANSLATORS: %(verdict)s is "mainly on movement", "partly on movement" or "mainly on what single frames show, …".
    text = _("The decision rests %(verdict)s: %(share)s of the %(method)s relevance is not accounted for by the frames "
             "held still (each frame shown alone, without movement), so it is due to movement.") % values
    if still.static_class == label:
        return text + " " + _("Held still on its own, %(frame)s is still labelled \u201c%(label)s\u201d (%(score)s): a "
                              "single picture carries evidence too.") % values
    return text + " " + _("No frame held still on its own is labelled \u201c%(label)s\u201d (the highest score for it "
                          "is %(score)s, %(frame)s).") % values


def counterfactual_edit(record: EvidenceRecord, edit: CounterfactualEdit) -> str:
    """What one what-if edit did, in words."""
    values = {"frames": frames_named(record, edit.positions), "count": len(edit.positions),
              "total": len(record.input.frame_indices), "level": percent(edit.level or 0),
              "share": percent(edit.edited_share), "method": method_name(primary_map().name),
              "label": edit.predicted_class, "score": score_percent(edit.predicted_probability, record.decision.threshold)}
    return _EDIT_SENTENCES[edit.kind == "frames", edit.flagged]() % values


def _frames_alert() -> str:
    # TRANSLATORS: %(frames)s names frames ("frames 123–125"); %(count)d of %(total)d counts them.
    return _("Replacing %(frames)s (%(count)d of %(total)d frames) by the nearest frames kept changes the outcome to "
             "\u201c%(label)s\u201d (%(score)s), raising an alert.")


def _frames_quiet() -> str:
    return _("Replacing %(frames)s (%(count)d of %(total)d frames) by the nearest frames kept changes the outcome to "
             "\u201c%(label)s\u201d (%(score)s), with no alert.")


def _blur_alert() -> str:
    # TRANSLATORS: %(level)s is a share of each frame's strongest value ("50%"); %(share)s a share of the pixels.
    return _("Blurring the area where %(method)s reaches %(level)s of each frame's strongest value (%(share)s of the "
             "clip's pixels, %(frames)s) changes the outcome to \u201c%(label)s\u201d (%(score)s), raising an alert.")


def _blur_quiet() -> str:
    return _("Blurring the area where %(method)s reaches %(level)s of each frame's strongest value (%(share)s of the "
             "clip's pixels, %(frames)s) changes the outcome to \u201c%(label)s\u201d (%(score)s), with no alert.")


_EDIT_SENTENCES = {(True, True): _frames_alert, (True, False): _frames_quiet,
                   (False, True): _blur_alert, (False, False): _blur_quiet}


def counterfactual_caption(record: EvidenceRecord, edit: CounterfactualEdit) -> str:
    """The caption under an edit's picture: which frame, which panel is which, and what the edit did."""
    frame = frames_named(record, [edit.key_position])
    # TRANSLATORS: the caption of a picture with two panels; %(frame)s is "frame 125".
    lead = _("%(frame)s: as recorded (left) and as edited (right).") % {"frame": frame}
    return f"{lead[:1].upper()}{lead[1:]} {counterfactual_edit(record, edit)}"


def counterfactual_summary(record: EvidenceRecord) -> str:
    """What would have changed the outcome (checklist item 11), or that nothing small did."""
    search = record.explanations.counterfactuals
    if search is None:
        return _("No search for edits that would change the outcome was made for this report.")
    if search.found:
        count = len(search.found)
        return ngettext("One small edit of the clip would change the outcome; it was applied again on its own and "
                        "re-scored.",
                        "%(count)d different small edits of the clip would change the outcome; each was applied "
                        "again on its own and re-scored.", count) % {"count": count}
    frames = int(search.budget.get("max_frames", 0))
    return ngettext(
        "No edit within the search budget changed the outcome (%(tried)d edits tried: up to %(frames)d frame replaced "
        "by its neighbours, or a blurred region of up to %(area)s of the clip). The decision does not hinge on one "
        "small part of the clip; that is evidence too.",
        "No edit within the search budget changed the outcome (%(tried)d edits tried: up to %(frames)d frames "
        "replaced by their neighbours, or a blurred region of up to %(area)s of the clip). The decision does not "
        "hinge on one small part of the clip; that is evidence too.",
        frames) % {"tried": search.candidates_tried, "frames": frames,
                   "area": percent(float(search.budget.get("max_area", 0)))}


def _person_sentence(record: EvidenceRecord, person: PersonRecord) -> str:
    return _("%(share)s of the activation in %(frames)s lies on person %(person)d.") % {
        "share": percent(person.share), "frames": frames_named(record, [b.position for b in person.boxes]),
        "person": person.person_id}


def person_sentences(record: EvidenceRecord) -> list[str]:
    """Whom the activation lies on, in the key frames: the people holding at least `PERSON_SHARE`
    of it (at most three), or that it lies on nobody in particular."""
    grounding = record.explanations.persons
    if grounding is None:
        return [_("People in the key frames were not looked for in this report.")]
    if not grounding.persons:
        return [_("No person was detected in the key frames (%(frames)s) by OpenCV's people detector; the activation "
                  "could not be related to a person. Small, partly hidden or lying people are often missed by that "
                  "detector.") % {"frames": frames_named(record, grounding.positions)}]
    ranked = sorted(grounding.persons, key=lambda p: (-p.share, p.person_id))
    holding = [p for p in ranked if p.share >= PERSON_SHARE][:3]
    count = len(ranked)
    if failed_sanity(record, primary_map().name):
        return [ngettext("%(count)d person was detected in the key frames. The %(method)s maps failed the "
                         "model-randomisation check, so how much of their activation lies on each person is not "
                         "evidence and is not stated here.",
                         "%(count)d people were detected in the key frames. The %(method)s maps failed the "
                         "model-randomisation check, so how much of their activation lies on each person is not "
                         "evidence and is not stated here.", count) % {
            "count": count, "method": method_name(primary_map().name)}]
    if not holding:
        top = ranked[0]
        return [ngettext("The activation does not lie on any one person: %(count)d person was detected in the key "
                         "frames, and the most, person %(person)d, holds %(share)s of it.",
                         "The activation does not lie on any one person: %(count)d people were detected in the key "
                         "frames, and the most, person %(person)d, holds %(share)s of it.", count) % {
            "count": count, "person": top.person_id, "share": percent(top.share)}]
    rest = count - len(holding)
    # TRANSLATORS: %(count)d people in all, %(rest)d of whom hold less than %(share)s of the activation each.
    tail = [ngettext("%(count)d people were detected in the key frames; the other %(rest)d holds less than %(share)s.",
                     "%(count)d people were detected in the key frames; the other %(rest)d hold less than %(share)s "
                     "each.", rest) % {"count": count, "rest": rest, "share": percent(PERSON_SHARE)}] if rest else []
    return [_person_sentence(record, p) for p in holding] + tail


def masking_sentence(record: EvidenceRecord) -> str:
    """Which faces the report's images hide (checklist item 7)."""
    masking = record.masking
    if masking is None:
        return _("Faces were not looked for in this report's images.")
    if not masking.enabled:
        return _("Face masking is switched off in the deployment profile: faces in the report's images are shown as "
                 "recorded.")
    if not masking.faces:
        return _("No face was found in the report's images, so nothing was blurred. The explanation was computed on "
                 "the unmasked frames.")
    frames = frames_named(record, [f.position for f in masking.frames])
    return ngettext("%(count)d face (%(frames)s) blurred in every image of this report to protect bystanders; the "
                    "explanation itself was computed on the unmasked frames.",
                    "%(count)d faces (%(frames)s) blurred in every image of this report to protect bystanders; the "
                    "explanation itself was computed on the unmasked frames.",
                    masking.faces) % {"count": masking.faces, "frames": frames}


def summary_sentences(record: EvidenceRecord) -> list[str]:
    """The page-one account of how far the explanation can be trusted, without technical terms."""
    ex = record.explanations
    sentences = []
    if ex.motion is not None:
        share, reason = motion_share(record)
        sentences.append(
            " ".join((_("Whether the decision rests on movement or on single frames cannot be measured."), reason))
            if share is None else
            _("The decision rests %(verdict)s (%(share)s of what the heatmaps highlight is due to things moving "
              "between frames).") % {"verdict": motion_verdict(share), "share": percent(share)})
    if ex.counterfactuals is not None:
        sentences.append(counterfactual_summary(record))
    curve = quoted_curve(record)
    if ex.faithfulness is not None and curve is not None:
        before = ex.faithfulness.original_score
        # TRANSLATORS: %(effect)s and %(random)s finish each half ("drops the … score from 93% to 41%", "drops it to 90%").
        sentences.append(_("Removing the %(share)s of the picture the heatmaps mark as most important %(effect)s; "
                           "removing a random %(share)s %(random)s.") % {
            "share": percent(QUOTED_FRACTION),
            "effect": score_effect(before, score_after(curve, QUOTED_FRACTION), ex.target_class),
            "random": random_effect(before, score_after(curve, QUOTED_FRACTION, random=True))})
    failed = [m for m in ex.sanity.methods if m.verdict == "fails"] if ex.sanity is not None else []
    if failed:
        sentences.append(_("Warning: the %(methods)s maps barely change when what the model learned is erased: they "
                           "are not evidence, and this report shows them only in its technical annex, marked as "
                           "failed.") % {"methods": method_names(failed)})
    return sentences
