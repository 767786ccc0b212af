"""Plain-language sentences generated from an evidence record, for readers who are not experts,
in the active language (`auditor.i18n`; English outside `speaking`).

Every sentence is derived from recorded values only, so the words and the numbers in a report
cannot disagree. The templates escape the returned text. Where the model looked is worded in
`auditor.report.narrative_attention`, re-exported here for the templates.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from auditor import i18n
from auditor.evidence import Decision, EvidenceRecord, FrameEdit
from auditor.i18n import _, ngettext
from auditor.report import record_words
from auditor.report.narrative_attention import NO_REGION as NO_REGION
from auditor.report.narrative_attention import WEAK as WEAK
from auditor.report.narrative_attention import FrameGroup as FrameGroup
from auditor.report.narrative_attention import (
    attention_sentences,
    attention_summary,
    failed_sanity,
    key_frame_sentence,
    key_frames_pointer,
    peak_words,
    saliency_agreement,
)
from auditor.report.narrative_attention import frame_groups as frame_groups
from auditor.report.quantities import (
    frame_span,
    number_pair,
    percent,
    percent_pair,
    points,
    score_percent,
    seconds,
    threshold_percent,
    time_span,
)

# What report templates may call (as `narrative.NAME`); nothing else of this module reaches them.
__all__ = [
    "attention_sentences", "attention_summary", "completeness_counts", "counterfactual", "failed_sanity", "frame_span",
    "headline", "how_sure", "key_frame_sentence", "key_frames_pointer", "peak_words", "percent", "procedure",
    "review_due", "reviewer_task", "role_of_system", "saliency_agreement", "score_percent", "sealer", "seconds",
    "strongest_edit", "threshold_percent", "time_span", "what_was_flagged",
]


def certainty(probability: float, threshold: float) -> str:
    """A cautious word for how far the score is above the threshold."""
    if probability < threshold:
        return _("below the alert threshold")
    if probability >= 0.9:
        # TRANSLATORS: the certainty of the model's score ("Certainty as stated by the model: high.").
        return _("high")
    return _("moderate") if probability >= 0.7 else _("low")


def headline(record: EvidenceRecord) -> str:
    decision = record.decision
    if decision.flagged:
        # TRANSLATORS: %(label)s is the class the detector flagged ("fight"), from the model; keep the quotes.
        return _("Automated alert: possible \u201c%(label)s\u201d \u2013 no decision until a person reviews it") % {
            "label": decision.predicted_class}
    return _("No alert: the clip was classed as \u201c%(label)s\u201d") % {"label": decision.predicted_class}


def what_was_flagged(record: EvidenceRecord) -> str:
    clip, decision = record.input, record.decision
    values = {"file": clip.file_name, "source": clip.source_id or "", "label": decision.predicted_class,
              "frames": frame_span(clip.frame_indices[0], clip.frame_indices[-1]),
              "times": time_span(clip.start_seconds, clip.end_seconds)}
    sampled = clip.sampling is not None and not record_words.samples_every_frame(clip)
    values["sampling"] = record_words.sampling_text(clip) if sampled else ""
    return (_flagged if decision.flagged else _classed)(bool(clip.source_id), sampled) % values


def _flagged(with_source: bool, sampled: bool) -> str:
    if with_source and sampled:
        # TRANSLATORS: %(sampling)s says which frames the model saw, e.g. "every 3rd frame".
        return _("The detector flagged the video \u201c%(file)s\u201d from source %(source)s, %(frames)s (%(times)s "
                 "into the recording; the model saw %(sampling)s of them), as \u201c%(label)s\u201d.")
    if with_source:
        return _("The detector flagged the video \u201c%(file)s\u201d from source %(source)s, %(frames)s (%(times)s "
                 "into the recording), as \u201c%(label)s\u201d.")
    if sampled:
        return _("The detector flagged the video \u201c%(file)s\u201d, %(frames)s (%(times)s into the recording; the "
                 "model saw %(sampling)s of them), as \u201c%(label)s\u201d.")
    return _("The detector flagged the video \u201c%(file)s\u201d, %(frames)s (%(times)s into the recording), as "
             "\u201c%(label)s\u201d.")


def _classed(with_source: bool, sampled: bool) -> str:
    if with_source and sampled:
        return _("The detector classed the video \u201c%(file)s\u201d from source %(source)s, %(frames)s (%(times)s "
                 "into the recording; the model saw %(sampling)s of them), as \u201c%(label)s\u201d.")
    if with_source:
        return _("The detector classed the video \u201c%(file)s\u201d from source %(source)s, %(frames)s (%(times)s "
                 "into the recording), as \u201c%(label)s\u201d.")
    if sampled:
        return _("The detector classed the video \u201c%(file)s\u201d, %(frames)s (%(times)s into the recording; the "
                 "model saw %(sampling)s of them), as \u201c%(label)s\u201d.")
    return _("The detector classed the video \u201c%(file)s\u201d, %(frames)s (%(times)s into the recording), as "
             "\u201c%(label)s\u201d.")


def how_sure(record: EvidenceRecord) -> str:
    d = record.decision
    sentences = [_("The model gave \u201c%(label)s\u201d a score of %(score)s; an alert is raised from %(threshold)s.") % {
        "label": d.predicted_class, "score": score_percent(d.predicted_probability, d.threshold),
        "threshold": threshold_percent(d.threshold)}]
    if d.runner_up_class is not None and d.margin is not None:
        runner = next(c for c in d.classes if c.name == d.runner_up_class)
        sentences.append(_("The next most likely label, \u201c%(label)s\u201d, scored %(score)s (a margin of "
                           "%(margin)s).") % {"label": runner.name, "score": percent(runner.probability),
                                              "margin": points(d.margin)})
    sentences.append(_("Certainty as stated by the model: %(certainty)s.") % {
        "certainty": certainty(d.predicted_probability, d.threshold)})
    return " ".join(sentences)


def counterfactual(record: EvidenceRecord) -> str:
    """Would the outcome change without any one frame? (checklist item 11), from the edited clips."""
    method, decision = record.explanations.edits(), record.decision
    if method is None or method.edits is None:
        return _("Whether removing a frame would change the outcome (frame occlusion) was not computed for this report.")
    changed = [e for e in method.edits if (e.predicted_class, e.flagged) != (decision.predicted_class, decision.flagged)]
    if changed:
        # TRANSLATORS: %(changes)s lists clauses such as "without frame 125 the system would give “normal” (41%), with no alert".
        return _("Replacing a single frame by its neighbour would change the outcome: %(changes)s.") % {
            "changes": "; ".join(_changed_outcome(record, e) for e in changed)}
    return _unchanged_outcome([e.predicted_probability for e in method.edits], decision)


def _changed_outcome(record: EvidenceRecord, edit: FrameEdit) -> str:
    values = {"frame": _frame_name(record, edit.position), "label": edit.predicted_class,
              "score": score_percent(edit.predicted_probability, record.decision.threshold)}
    if edit.flagged:
        return _("without %(frame)s the system would give \u201c%(label)s\u201d (%(score)s) and raise an alert") % values
    return _("without %(frame)s the system would give \u201c%(label)s\u201d (%(score)s), with no alert") % values


def _unchanged_outcome(scores: list[float], decision: Decision) -> str:
    """That no single frame's replacement changes the outcome, with the range of the scores."""
    pair = percent_pair(min(scores), max(scores), decision.threshold)
    values = {"label": decision.predicted_class, "low": pair[0] if pair else "", "high": pair[1] if pair else "",
              "score": score_percent(min(scores), decision.threshold)}
    if decision.flagged and pair:
        return _("Replacing any single frame by its neighbour would not change the outcome: the system would still "
                 "flag \u201c%(label)s\u201d, with a score between %(low)s and %(high)s.") % values
    if decision.flagged:
        return _("Replacing any single frame by its neighbour would not change the outcome: the system would still "
                 "flag \u201c%(label)s\u201d, with a score of %(score)s in every case.") % values
    if pair:
        return _("Replacing any single frame by its neighbour would not change the outcome: the system would still "
                 "give \u201c%(label)s\u201d without an alert, with a score between %(low)s and %(high)s.") % values
    return _("Replacing any single frame by its neighbour would not change the outcome: the system would still "
             "give \u201c%(label)s\u201d without an alert, with a score of %(score)s in every case.") % values


def strongest_edit(record: EvidenceRecord) -> str | None:
    """Which frame's replacement lowers the explained score most, and by how much."""
    method = record.explanations.edits()
    if method is None or method.edits is None:
        return None
    position = max(range(len(method.values)), key=lambda t: (method.values[t], -t))
    drop = method.values[position]
    if drop <= 0:
        return _("Replacing any one frame does not lower the model's internal score for this label.")
    before, after = number_pair(record.decision.score_value, record.decision.score_value - drop)
    return _("The model's internal score for \u201c%(label)s\u201d falls most when %(frame)s is replaced by "
             "%(other)s: from %(before)s to %(after)s.") % {
        "label": record.explanations.target_class, "frame": _frame_name(record, position),
        "other": _frame_name(record, method.edits[position].replaced_by), "before": before, "after": after}


def _frame_name(record: EvidenceRecord, position: int) -> str:
    return frame_span(record.explanations.frames[position].frame_index, record.explanations.frames[position].frame_index)


def procedure(record: EvidenceRecord) -> str:
    """The procedure actually applied, for a non-expert (checklist item 9)."""
    clip, model = record.input, record.model
    count = len(clip.frame_indices)
    # TRANSLATORS: %(model)s and %(version)s are the model's name and version as its maker gave them.
    return ngettext(
        "The system took %(count)d frame of the video, reduced it to the size the model expects, and passed it "
        "through the model \u201c%(model)s\u201d (version %(version)s). The model first describes each frame with an "
        "image-recognition network, then follows how these descriptions change from frame to frame, and finally "
        "gives a score to each possible label. The label with the highest score is reported; it raises an alert "
        "when it is not the normal class and its score reaches %(threshold)s.",
        "The system took %(count)d frames of the video, reduced them to the size the model expects, and passed them "
        "through the model \u201c%(model)s\u201d (version %(version)s). The model first describes each frame with an "
        "image-recognition network, then follows how these descriptions change from frame to frame, and finally "
        "gives a score to each possible label. The label with the highest score is reported; it raises an alert "
        "when it is not the normal class and its score reaches %(threshold)s.",
        count) % {"count": count, "model": model.name, "version": model.version,
                  "threshold": threshold_percent(record.decision.threshold)}


def role_of_system(record: EvidenceRecord) -> str:
    """The role of the system in the decision (checklist item 13)."""
    if not record.decision.flagged:
        return _("The system raised no alert for this clip. This report records how it classed the clip, for "
                 "example for an audit or for a person who asked how their data was processed (GDPR Art. 15); "
                 "nothing was decided about anyone on the basis of this clip.")
    return _("The system only raises an alert and shows what it based the alert on. It does not decide "
             "anything about a person: the decision is not final until a person has reviewed the clip "
             "and confirmed or overturned the alert.")


def reviewer_task(record: EvidenceRecord) -> str:
    """What the reviewer of this report is asked to do."""
    if not record.decision.flagged:
        return _("No review is required: no alert was raised. A person who reviews the classification anyway "
                 "(an audit, a complaint) records in the review section whether it is right or an alert should "
                 "have been raised, and why.")
    return _("Watch the clip, compare it with the key frames and heatmaps, and record in the review section "
             "whether the alert is confirmed or overturned, and why. Automated alerts can be wrong: do not "
             "confirm one only because the system produced it.")


def sealer(record: EvidenceRecord) -> str | None:
    """Who sealed the report, in words from the seal certificate's name (RFC 4514): '“Evidence seal”
    of Example Transit Ltd'; the name as recorded when it has neither a common name nor an
    organisation; None when the record names no signer. The full name stays in the annex."""
    signer = record.seal.signer
    if not signer:
        return None
    dn, _sep, remark = signer.partition(" (")
    try:
        name = x509.Name.from_rfc4514_string(dn)
    except ValueError:
        return signer
    common = [str(a.value) for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]
    organisation = [str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if not common and not organisation:
        return signer
    if common and organisation:
        # TRANSLATORS: who sealed the report: the seal certificate's common name, then its organisation.
        words = _("\u201c%(name)s\u201d of %(organisation)s") % {"name": common[0], "organisation": ", ".join(organisation)}
    else:
        words = f"\u201c{common[0]}\u201d" if common else ", ".join(organisation)
    return words + (f" ({remark}" if remark else "")


def completeness_counts(record: EvidenceRecord) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in record.completeness.items:
        counts[item.status] = counts.get(item.status, 0) + 1
    return counts


def review_due(record: EvidenceRecord) -> str | None:
    """How long the review of a flagged report may take under the profile's deadline, counted from
    the seal (the report is written before it is sealed, so no clock time); None without one."""
    hours = record.deployment.review_deadline_hours
    if not hours or not record.decision.flagged:
        return None
    return ngettext("A person must review it within %(hours)s hour of its seal, as the deployment requires.",
                    "A person must review it within %(hours)s hours of its seal, as the deployment requires.",
                    int(hours) if float(hours).is_integer() else 2) % {"hours": i18n.number(hours, None)}
