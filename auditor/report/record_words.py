"""The words of the record's codes, in the reader's language.

From schema 2.7 the evidence record holds codes and their parameters (`auditor.evidence.Note`),
never a generated sentence: checklist titles and notes, limitations, which frames the model saw,
where decoding stopped, the seal's note, why movement could not be measured, and the labels of
the frame-importance methods, and how each trust check was computed ("spec.…" codes, worded by
`auditor.report.spec_words`). This module words them with the catalogs (`auditor.i18n`). A record
before 2.7 holds English sentences: they are shown as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from auditor.evidence import ChecklistItem, FrameImportanceRecord, InputInfo, Note, SealInfo
from auditor.evidence.trust import MotionRecord
from auditor.explain import FRAME_IMPORTANCE
from auditor.explain.methods import method
from auditor.i18n import _, clock, ngettext, number
from auditor.messages import N_
from auditor.report import spec_words

Params = Mapping[str, str | int | float | bool]

CHECKLIST_TITLES = {
    1: N_("Report identity, schema and generator version, creation time"),
    2: N_("Controller, DPO contact, record of processing"),
    3: N_("Purpose, legal basis, Art. 22 position"),
    4: N_("Model name, version, weights hash, documentation"),
    5: N_("AI Act classification (as declared)"),
    6: N_("Input: file, hash, source, time window, frames"),
    7: N_("Data minimisation"),
    8: N_("Output: class, score, threshold, margin"),
    9: N_("Plain-language account of the procedure"),
    10: N_("Visual evidence and its limits"),
    11: N_("What would change the outcome"),
    12: N_("Known limitations of model and methods"),
    13: N_("Role of the system and main elements"),
    14: N_("Significance and consequences"),
    15: N_("Reviewer identity, role, authority"),
    16: N_("Review record"),
    17: N_("Second verifier"),
    18: N_("Redress: contact, channel, time limit"),
    19: N_("Submissions of the person concerned"),
    20: N_("DPIA reference"),
    21: N_("Retention and deletion"),
    22: N_("System log entry"),
    23: N_("What was withheld"),
    24: N_("Recipients and access control"),
    25: N_("Signature and PDF/A-3 with embedded record"),
}
STATUSES = {
    "provided": N_("provided"),
    "not provided": N_("not provided"),
    "pending review": N_("pending review"),
    "not applicable": N_("not applicable"),
}
_FIXED = {  # codes worded without parameters
    # TRANSLATORS: the checklist notes ("checklist.…") fill the "Missing or note" cell of the checklist table, in lower case.
    "checklist.no_images": N_("no heatmap images were produced"),
    "checklist.no_outcome_change": N_("no edit within the search budget changed the outcome"),
    "checklist.single_frames_only": N_("single frames only: no search for edits that change the outcome"),
    "checklist.no_edit_scored": N_("no edit was applied and scored again"),
    "checklist.faces_not_looked_for": N_("faces in the images were not looked for"),
    "checklist.masking_off": N_("face masking switched off in the deployment profile"),
    "checklist.no_alert": N_("no alert was raised, so no review is required"),
    "checklist.pending_review": N_("filled in when a person reviews"),
    "checklist.policy_not_stated": N_("policy not stated"),
    "checklist.not_required": N_("the deployer's policy does not require one"),
    "checklist.no_submissions": N_("no submissions recorded"),
    "checklist.added_when_archived": N_("added when the report is archived"),
    "checklist.unsigned": N_("unsigned; tagged PDF/A-3a with the record embedded"),
    "checklist.throwaway_identity": N_("throwaway demo identity: not valid for real decisions"),
    "limitation.training_data": N_(
        "The model learned from a limited set of example videos. It can miss events and can flag harmless scenes, "
        "especially with lighting, camera angles or crowds unlike its training data."),
    "limitation.score_not_likelihood": N_(
        "The probability is the model's own score, not a measured likelihood that the event happened."),
    "limitation.no_identity_or_intent": N_(
        "The model does not identify people and cannot judge intent or context outside the clip."),
    "limitation.heatmaps_not_why": N_(
        "Heatmaps show where the model's features supported its score, not why the event happened; they can "
        "highlight background or context."),
    "limitation.per_clip_scale": N_(
        "Heatmap colours and contour levels are scaled per clip: frames of this clip can be compared with each "
        "other, not with other reports."),
    "limitation.no_occlusion": N_(
        "Whether removing a frame would change the decision (frame occlusion) was not computed."),
    "limitation.motion": N_(
        "The share due to movement compares each frame's map with the map of the same frame held still; gradient "
        "maps are not exact budgets of the decision, so read it as an estimate."),
    "limitation.counterfactuals": N_(
        "The what-if search tries only two kinds of edit (frames replaced by their neighbours, areas blurred) "
        "within a fixed budget; other changes that would alter the outcome are not tested."),
    "limitation.faithfulness": N_(
        "Deletion and insertion curves blur pixels or frames the model never saw blurred; a score that falls may "
        "partly react to the blur itself, which is why random orders are shown beside them."),
    "limitation.sanity": N_(
        "The model-randomisation check runs on generated reference clips, not on this clip; it tests the "
        "explanation methods on this model, not this particular map."),
    "limitation.persons": N_(
        "The people detector (OpenCV HOG) misses people who are small, partly hidden, lying down or seen from "
        "above, and can mistake objects for people; a share on a person is only as good as its box."),
    "limitation.face_masking": N_(
        "Face masking uses OpenCV's face detectors: faces smaller than about 24 pixels, turned away or partly "
        "hidden can be missed and stay visible; check the pictures before sharing the report."),
    "seal.unsigned": N_("UNSIGNED DRAFT: not sealed, not evidence"),
    # TRANSLATORS: which frames the model saw; it also fills "the model saw %(sampling)s of them".
    "sampling.every_frame": N_("every frame"),
}
_NOT_MEASURABLE = {  # `MotionRecord.not_measurable`: why a method's share of movement is not measurable
    "motion.no_region_anywhere": N_(
        "The %(method)s map singles out no region in any frame, so it shows no relevance to divide."),
    "motion.sanity_fails": N_(
        "The %(method)s map barely changes when what the model learned is erased (the model-randomisation check "
        "fails)."),
}


def note_text(note: Note | str | None) -> str:
    """A note of the record in the reader's language ("" for none); a sentence of a record before
    2.7 as it is; a code this version does not know as the code and its parameters."""
    if note is None or isinstance(note, str):
        return note or ""
    if note.code in _FIXED:
        return _(_FIXED[note.code])
    if note.code in spec_words.codes():
        return spec_words.spec_text(note)
    words = _WORDED.get(note.code)
    if words is None:
        return " ".join([note.code, *(f"{key}={value}" for key, value in sorted(note.params.items()))])
    return words(note.params)


def checklist_title(item: ChecklistItem) -> str:
    """The item's title: the record's own before 2.7, else the report's."""
    if item.title is not None:
        return item.title
    return _(CHECKLIST_TITLES[item.number]) if item.number in CHECKLIST_TITLES else str(item.number)


def status_text(status: str) -> str:
    """A checklist status ("provided", "not provided"…) in the reader's language."""
    return _(STATUSES[status]) if status in STATUSES else status


def method_label(row: FrameImportanceRecord) -> str:
    """A frame-importance method's name, by its code (a record before 2.7 names it itself)."""
    if row.label is not None:
        return row.label
    descriptor = method(row.method)
    if descriptor is not None:
        return _(descriptor.label)
    return FRAME_IMPORTANCE[row.method].label if row.method in FRAME_IMPORTANCE else row.method


def method_description(row: FrameImportanceRecord) -> str:
    """What a frame-importance method's bars show, by its code (a record before 2.7 says it itself)."""
    if row.description is not None:
        return row.description
    descriptor = method(row.method)
    if descriptor is not None:
        return _(descriptor.description)
    return FRAME_IMPORTANCE[row.method].description if row.method in FRAME_IMPORTANCE else ""


def sampling_text(info: InputInfo) -> str:
    """Which decoded frames the model saw ("" when the record does not say: before 2.2)."""
    return note_text(info.sampling)


def samples_every_frame(info: InputInfo) -> bool:
    """Whether the model saw every decoded frame (or the record does not say otherwise)."""
    sampling = info.sampling
    if isinstance(sampling, Note):
        return sampling.code == "sampling.every_frame"
    return sampling in (None, "every frame")


def decoding_text(info: InputInfo) -> str:
    """Where decoding the file stopped before its stated end ("" when it did not)."""
    return note_text(info.decoding_stopped)


def seal_note_text(seal: SealInfo) -> str:
    """The seal's note: who sealed under which root, and what validation data it embeds."""
    return note_text(seal.note)


def not_measurable_text(motion: MotionRecord, name: str) -> str:
    """Why the share of movement of method `name` is not measurable, as a whole sentence."""
    term = _(descriptor.term) if (descriptor := method(name)) is not None else name
    reason = motion.not_measurable.get(name)
    if reason in _NOT_MEASURABLE:
        return _(_NOT_MEASURABLE[reason]) % {"method": term}
    if reason is None:
        return _("The %(method)s map shows no relevance to divide.") % {"method": term}
    return f"The {term} map {reason}."  # a record before 2.7: its English reason, as it is


def _method_limitation(params: Params) -> str:
    name = str(params.get("method", ""))
    descriptor = method(name)
    if descriptor is not None:
        return _(descriptor.limitation)
    return FRAME_IMPORTANCE[name].limitation if name in FRAME_IMPORTANCE else name


def _input_size(params: Params) -> str:
    frames = int(params["frames"])
    return ngettext(
        "The model saw only %(frames)s frame scaled down to %(width)s\u00d7%(height)s pixels; small or distant "
        "details may be lost.",
        "The model saw only %(frames)s frames scaled down to %(width)s\u00d7%(height)s pixels; small or distant "
        "details may be lost.",
        frames,
    ) % {"frames": number(frames), "width": number(int(params["width"])), "height": number(int(params["height"]))}


def _logit(params: Params) -> str:
    return _("The explanations follow the pre-activation score (logit) of the class \u201c%(class_name)s\u201d, "
             "not its probability.") % {"class_name": params["class_name"]}


def _faces_blurred(params: Params) -> str:
    faces = int(params["faces"])
    return ngettext("%(count)s face blurred in the images", "%(count)s faces blurred in the images", faces) % {
        "count": number(faces)}


def _every_nth(params: Params) -> str:
    # TRANSLATORS: which frames the model saw (every 3rd: "one frame in every 3"); it also fills "the model saw %(sampling)s of them".
    return _("one frame in every %(every)s") % {"every": number(int(params["every"]))}


def _fps(params: Params) -> str:
    fps = float(params["fps"])
    count = int(fps) if fps.is_integer() else 2  # a fraction reads as a plural ("2.5 frames")
    # TRANSLATORS: which frames the model saw; it also fills "the model saw %(sampling)s of them".
    return ngettext("%(fps)s frame per second", "%(fps)s frames per second", count) % {"fps": number(fps, None)}


def _decoding_stopped(params: Params) -> str:
    facts = {"frame": number(int(params["frames"])), "stated": number(int(params.get("stated", 0)))}
    if "seconds" in params:
        return _("Decoding stopped at frame %(frame)s (%(time)s) of the %(stated)s the file states: the rest does "
                 "not decode.") % {**facts, "time": clock(float(params["seconds"]))}
    return _("Decoding stopped at frame %(frame)s of the %(stated)s the file states: the rest does not decode.") % facts


def _sealed(params: Params) -> str:
    facts = {key: params[key] for key in ("subject", "root", "root_sha256")}
    words = [_("PAdES signature and detached CMS signatures by %(subject)s; root %(root)s (SHA-256 %(root_sha256)s).")
             % facts]
    if params.get("validation_data"):
        words.append(_("Validation data (certificates, CRLs or OCSP responses) is embedded in the PDF "
                       "(PAdES B-LT when timestamped)."))
    else:
        words.append(_("No revocation source (no CRL or OCSP URL in the certificates, no revocation list): no "
                       "revocation data is embedded."))
    if params.get("throwaway"):
        words.insert(0, _("THROWAWAY DEMO IDENTITY created in the output folder: the seal shows the files are "
                          "unchanged since signing, not who signed them."))
    return " ".join(words)


_WORDED: dict[str, Callable[[Params], str]] = {
    "limitation.method": _method_limitation,
    "limitation.input_size": _input_size,
    "limitation.logit_not_probability": _logit,
    "checklist.faces_blurred": _faces_blurred,
    "sampling.every_nth": _every_nth,
    "sampling.fps": _fps,
    "decoding.stopped": _decoding_stopped,
    "seal.sealed": _sealed,
}


def codes() -> frozenset[str]:
    """Every code this module words."""
    return frozenset(_FIXED) | frozenset(_WORDED) | frozenset(_NOT_MEASURABLE) | spec_words.codes()
