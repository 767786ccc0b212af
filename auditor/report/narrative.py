"""Plain-language sentences generated from an evidence record, for readers who are not experts.

Every sentence is derived from recorded values only, so the words and the numbers in a report
cannot disagree. The templates escape the returned text.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from auditor.evidence import EvidenceRecord, FrameSummary, MapSummary
from auditor.report.quantities import (
    frame_span,
    number_pair,
    percent,
    percent_range,
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

WEAK = 0.25  # a frame whose Grad-CAM peak is below this share of the clip maximum counts as weak
WEAK_WORDS = "weak (below a quarter of the clip's strongest)"
NO_REGION = "none"  # the region of a frame whose map singles out no part of the image (no localisation)


@dataclass(frozen=True)
class FrameGroup:
    """Consecutive frames whose strongest activation lies in the same region."""

    first: FrameSummary
    last: FrameSummary
    region: str
    spread: float  # mean share of the frame above half the clip maximum
    frame_duration: float = 0.0  # seconds one sampled frame lasts (every / fps); 0 when unknown

    @property
    def frames(self) -> str:
        return frame_span(self.first.frame_index, self.last.frame_index)

    @property
    def times(self) -> str:
        """A single frame's time; a run from its first frame's start to its last frame's end."""
        if self.first.position == self.last.position:
            return seconds(self.first.timestamp)
        return time_span(self.first.timestamp, self.last.timestamp + self.frame_duration)


def certainty(probability: float, threshold: float) -> str:
    """A cautious word for how far the score is above the threshold."""
    if probability < threshold:
        return "below the alert threshold"
    if probability >= 0.9:
        return "high"
    return "moderate" if probability >= 0.7 else "low"


def headline(record: EvidenceRecord) -> str:
    decision = record.decision
    if decision.flagged:
        return f"Automated alert: possible \u201c{decision.predicted_class}\u201d \u2013 no decision until a person reviews it"
    return f"No alert: the clip was classed as \u201c{decision.predicted_class}\u201d"


def what_was_flagged(record: EvidenceRecord) -> str:
    clip, decision = record.input, record.decision
    source = f" from source {clip.source_id}" if clip.source_id else ""
    frames = frame_span(clip.frame_indices[0], clip.frame_indices[-1])
    verb = "flagged" if decision.flagged else "classed"
    sampled = f"; the model saw {clip.sampling} of them" if clip.sampling not in (None, "every frame") else ""
    return (
        f"The detector {verb} the video \u201c{clip.file_name}\u201d{source}, {frames} "
        f"({time_span(clip.start_seconds, clip.end_seconds)} into the recording{sampled}), "
        f"as \u201c{decision.predicted_class}\u201d."
    )


def how_sure(record: EvidenceRecord) -> str:
    d = record.decision
    text = (
        f"The model gave \u201c{d.predicted_class}\u201d a score of {score_percent(d.predicted_probability, d.threshold)}; "
        f"an alert is raised from {threshold_percent(d.threshold)}. "
    )
    if d.runner_up_class is not None and d.margin is not None:
        runner = next(c for c in d.classes if c.name == d.runner_up_class)
        text += (
            f"The next most likely label, \u201c{runner.name}\u201d, scored {percent(runner.probability)} "
            f"(a margin of {points(d.margin)}). "
        )
    return text + f"Certainty as stated by the model: {certainty(d.predicted_probability, d.threshold)}."


def frame_groups(record: EvidenceRecord, method: str = "gradcam") -> list[FrameGroup]:
    """Runs of consecutive frames sharing the region of their strongest activation."""
    clip = record.input
    interval = clip.end_seconds - clip.timestamps[-1]  # one sampling interval (0 before schema 2.1)
    duration = interval if interval > 0 else 1 / clip.fps if clip.fps else 0.0
    groups: list[FrameGroup] = []
    run: list[FrameSummary] = []
    for frame in record.explanations.frames:
        if run and _region(frame, method) != _region(run[0], method):
            groups.append(_group(run, method, duration))
            run = []
        run.append(frame)
    if run:
        groups.append(_group(run, method, duration))
    return groups


def _region(frame: FrameSummary, method: str) -> str:
    return _summary_region(frame.maps.get(method))


def _summary_region(summary: MapSummary | None) -> str:
    """The region of a map's peak; NO_REGION when the map singles out none (no localisation, as
    the record states), else "weak" when its peak is below WEAK of the clip's."""
    if summary is not None and not _localised(summary):
        return NO_REGION
    if summary is None or summary.peak_relative < WEAK:
        return "weak"
    return summary.region


def _localised(summary: MapSummary) -> bool:
    """Records before 2.1 do not say; their region is "none" only for a map of zeros."""
    return summary.localised is not False and summary.region != NO_REGION


def failed_sanity(record: EvidenceRecord, method: str) -> bool:
    """Whether the maps of `method` failed the model-randomisation check: they may show the picture
    rather than what the model learned, so the report shows them only in its annex, marked."""
    sanity = record.explanations.sanity
    return sanity is not None and any(m.method == method and m.verdict == "fails" for m in sanity.methods)


GRADCAM_FAILED = ("The Grad-CAM maps failed the model-randomisation check (they barely change when what the model "
                  "learned is erased), so this report does not say where the model looked; they are shown only in "
                  "the technical annex, marked as failed.")


def key_frames_pointer(record: EvidenceRecord) -> str:
    """Where to look next: the key frames, when at least one of them shows a localised map (words
    that hold in the HTML and on paper alike)."""
    if failed_sanity(record, "gradcam"):
        return ""
    keys = [record.explanations.frames[t] for t in record.explanations.key_frames]
    if any(_region(frame, "gradcam") not in (NO_REGION, "weak") for frame in keys):
        return "The key frames, in the section after this summary, show where in each frame the model's attention lay."
    return "No key frame shows a clear place where the model's attention lay; the heatmaps cannot point to one."


def peak_words(summary: MapSummary) -> str:
    """A key frame's caption for its Grad-CAM map, in the summary's terms: "peak upper-left",
    "weak activation" (no peak named) or "no localisation"."""
    region = _summary_region(summary)
    return {NO_REGION: "no localisation", "weak": "weak activation"}.get(region, f"peak {region}")


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _group(run: list[FrameSummary], method: str, frame_duration: float) -> FrameGroup:
    spread = sum(f.maps[method].area_above_half for f in run if method in f.maps) / len(run)
    return FrameGroup(run[0], run[-1], _region(run[0], method), spread, frame_duration)


def _spread_words(spread: float) -> str:
    if spread < 0.1:
        return "concentrated in a small area"
    return "spread over a moderate area" if spread < 0.3 else "spread over a large part of the image"


def attention_sentences(record: EvidenceRecord) -> list[str]:
    """What the model looked at, in words: regions per run of frames, then the key frames."""
    if "gradcam" not in {m.name for m in record.explanations.methods}:
        return ["No Grad-CAM map was recorded, so no region can be described."]
    if failed_sanity(record, "gradcam"):
        return [GRADCAM_FAILED]
    sentences = [_group_sentence(g) for g in frame_groups(record)]
    sentences.append(key_frame_sentence(record))
    agreement = saliency_agreement(record)
    if agreement:
        sentences.append(agreement)
    return sentences


def attention_summary(record: EvidenceRecord) -> str:
    """One sentence for the summary page: the region most key frames point to (on a tie, the one
    holding the strongest peak), and how many key frames point elsewhere, are weak, or show no
    localisation."""
    if failed_sanity(record, "gradcam"):
        return GRADCAM_FAILED
    keys = [record.explanations.frames[t] for t in record.explanations.key_frames]
    regions = [_region(f, "gradcam") for f in keys]
    strong = [r for r in regions if r not in ("weak", NO_REGION)]
    weak, unlocalised = regions.count("weak"), regions.count(NO_REGION)
    if weak == len(regions):
        return "The model's activation was weak in every key frame; no region stands out."
    if unlocalised == len(regions):
        return "The Grad-CAM map showed no localisation in any key frame: no part of the image stands out."
    if not strong:
        return (
            f"No key frame points to a part of the image: in {weak} the model's activation was {WEAK_WORDS} "
            f"and in {unlocalised} the map showed no localisation."
        )
    peaks = {r: max(f.maps["gradcam"].peak_relative for f, fr in zip(keys, regions, strict=True) if fr == r) for r in strong}
    region = max(peaks, key=lambda r: (strong.count(r), peaks[r]))
    area = "the centre" if region == "centre" else f"the {region} part"
    sentence = (
        f"In {strong.count(region)} of {len(regions)} key frames the model's strongest activation "
        f"was in {area} of the image"
    )
    others = [
        f"in {n} {words}"
        for n, words in ((len(strong) - strong.count(region), "it lay elsewhere"), (weak, f"it was {WEAK_WORDS}"),
                         (unlocalised, "the map showed no localisation"))
        if n
    ]
    return sentence + (f"; {_and(others)}." if others else ".")


def _group_sentence(group: FrameGroup) -> str:
    where = f"{group.frames} ({group.times})"
    if group.region == "weak":
        return f"In {where} the activation was {WEAK_WORDS}."
    if group.region == NO_REGION:
        return f"In {where} the Grad-CAM map showed no localisation: no part of the image stands out."
    area = "the centre" if group.region == "centre" else f"the {group.region} part"
    return f"In {where} the strongest activation was in {area} of the image, {_spread_words(group.spread)}."


def key_frame_sentence(record: EvidenceRecord) -> str:
    """Which frames are the key frames and how much of the Grad-CAM activation they hold, and how
    many of them show no localisation; when every frame holds the same share (or none), that no
    frame stands out."""
    explanations = record.explanations
    keys = [explanations.frames[t] for t in explanations.key_frames]
    names = ", ".join(str(f.frame_index) for f in keys)
    maps = [f.maps["gradcam"] for f in explanations.frames if "gradcam" in f.maps]
    if len({m.mass_share for m in maps}) == 1:
        held = "the same share of the Grad-CAM activation" if any(m.mass > 0 for m in maps) else "no Grad-CAM activation"
        return f"Every frame holds {held}, so no frame stands out: the key frames ({names}) hold no more than the others."
    share = sum(f.maps["gradcam"].mass_share for f in keys if "gradcam" in f.maps)
    sentence = (
        f"The frames with the most Grad-CAM activation (the key frames) are {names}: "
        f"together they hold {percent(share)} of the clip's activation"
    )
    unlocalised = sum(_region(f, "gradcam") == NO_REGION for f in keys)
    return sentence + (f"; in {unlocalised} of them the map shows no localisation." if unlocalised else ".")


def saliency_agreement(record: EvidenceRecord) -> str | None:
    """How often the pixel saliency peaks in the same region as Grad-CAM on the key frames where
    both maps single out a region; nothing when either failed the model-randomisation check."""
    if failed_sanity(record, "gradcam") or failed_sanity(record, "saliency"):
        return None
    frames = [record.explanations.frames[t] for t in record.explanations.key_frames]
    both = [f for f in frames if {"gradcam", "saliency"} <= set(f.maps)]
    if not both:
        return None
    pairs = [(f.maps["gradcam"].region, f.maps["saliency"].region) for f in both
             if _localised(f.maps["gradcam"]) and _localised(f.maps["saliency"])]
    if not pairs:
        return (
            "Pixel-level saliency and Grad-CAM cannot be compared on the key frames: on each of them at "
            "least one of the two maps shows no localisation."
        )
    same = sum(a == b for a, b in pairs)
    text = (
        f"On {same} of {len(pairs)} key frames the pixel-level saliency peaks in the same part of "
        "the image as Grad-CAM; disagreement means the two methods point to different details."
    )
    left_out = len(both) - len(pairs)
    if left_out:
        others = "the other key frame" if left_out == 1 else f"the other {left_out} key frames"
        text += f" On {others} at least one of the two maps shows no localisation."
    return text


def counterfactual(record: EvidenceRecord) -> str:
    """Would the outcome change without any one frame? (checklist item 11), from the edited clips."""
    method, decision = record.explanations.edits(), record.decision
    if method is None or method.edits is None:
        return "Whether removing a frame would change the outcome (frame occlusion) was not computed for this report."
    changed = [e for e in method.edits if (e.predicted_class, e.flagged) != (decision.predicted_class, decision.flagged)]
    if changed:
        return "Replacing a single frame by its neighbour would change the outcome: " + "; ".join(
            f"without {_frame_name(record, e.position)} the system would give \u201c{e.predicted_class}\u201d "
            f"({score_percent(e.predicted_probability, decision.threshold)})"
            f"{' and raise an alert' if e.flagged else ', with no alert'}"
            for e in changed
        ) + "."
    scores = [e.predicted_probability for e in method.edits]
    outcome = f"flag \u201c{decision.predicted_class}\u201d" if decision.flagged else f"give \u201c{decision.predicted_class}\u201d without an alert"
    return (
        f"Replacing any single frame by its neighbour would not change the outcome: the system would still "
        f"{outcome}, with a score {percent_range(min(scores), max(scores), decision.threshold)}."
    )


def strongest_edit(record: EvidenceRecord) -> str | None:
    """Which frame's replacement lowers the explained score most, and by how much."""
    method = record.explanations.edits()
    if method is None or method.edits is None:
        return None
    position = max(range(len(method.values)), key=lambda t: (method.values[t], -t))
    drop = method.values[position]
    if drop <= 0:
        return "Replacing any one frame does not lower the model's internal score for this label."
    before, after = number_pair(record.decision.score_value, record.decision.score_value - drop)
    return (
        f"The model's internal score for \u201c{record.explanations.target_class}\u201d falls most when "
        f"{_frame_name(record, position)} is replaced by {_frame_name(record, method.edits[position].replaced_by)}: "
        f"from {before} to {after}."
    )


def _frame_name(record: EvidenceRecord, position: int) -> str:
    return f"frame {record.explanations.frames[position].frame_index}"


def procedure(record: EvidenceRecord) -> str:
    """The procedure actually applied, for a non-expert (checklist item 9)."""
    clip, model = record.input, record.model
    return (
        f"The system took {len(clip.frame_indices)} frames of the video, reduced them to the size "
        f"the model expects, and passed them through the model \u201c{model.name}\u201d (version "
        f"{model.version}). The model first describes each frame with an image-recognition network, "
        "then follows how these descriptions change from frame to frame, and finally gives a score "
        "to each possible label. The label with the highest score is reported; it raises an alert "
        f"when it is not the normal class and its score reaches {threshold_percent(record.decision.threshold)}."
    )


def role_of_system(record: EvidenceRecord) -> str:
    """The role of the system in the decision (checklist item 13)."""
    if not record.decision.flagged:
        return (
            "The system raised no alert for this clip. This report records how it classed the clip, for "
            "example for an audit or for a person who asked how their data was processed (GDPR Art. 15); "
            "nothing was decided about anyone on the basis of this clip."
        )
    return (
        "The system only raises an alert and shows what it based the alert on. It does not decide "
        "anything about a person: the decision is not final until a person has reviewed the clip "
        "and confirmed or overturned the alert."
    )


def reviewer_task(record: EvidenceRecord) -> str:
    """What the reviewer of this report is asked to do."""
    if not record.decision.flagged:
        return (
            "No review is required: no alert was raised. A person who reviews the classification anyway "
            "(an audit, a complaint) records in the review section whether it is right or an alert should "
            "have been raised, and why."
        )
    return (
        "Watch the clip, compare it with the key frames and heatmaps, and record in the review section "
        "whether the alert is confirmed or overturned, and why. Automated alerts can be wrong: do not "
        "confirm one only because the system produced it."
    )


def sealer(record: EvidenceRecord) -> str | None:
    """Who sealed the report, in words from the seal certificate's name (RFC 4514): '“Evidence seal”
    of Example Transit Ltd'; the name as recorded when it has neither a common name nor an
    organisation; None when the record names no signer. The full name stays in the annex."""
    signer = record.seal.signer
    if not signer:
        return None
    dn, _, remark = signer.partition(" (")
    try:
        name = x509.Name.from_rfc4514_string(dn)
    except ValueError:
        return signer
    common = [str(a.value) for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]
    organisation = [str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if not common and not organisation:
        return signer
    words = " of ".join(filter(None, (f"\u201c{common[0]}\u201d" if common else "", ", ".join(organisation))))
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
    return f"A person must review it within {hours:g} hours of its seal, as the deployment requires."
