"""The cross-field facts of an evidence record that every template and check relies on: one entry
per frame wherever the record lists frames, positions inside the window, classes among the
decision's, every picture listed once among the artifacts, and every "arrays.npz#key" a trust
section names held by the record's arrays, and a clip that lies within itself, shows the window's
key frames and is listed among the artifacts. A record breaking them was not written by auditor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from auditor.evidence.clip import ClipRecord
from auditor.evidence.sections import Artifact, Decision, Explanations, InputInfo
from auditor.evidence.trust import FaceMaskingRecord

MAX_FRAMES = 1024  # frames of one explained window
CLIP_TOLERANCE = 1e-3  # seconds: clip times are rounded to microseconds


class EvidenceRecord(Protocol):
    """What the checks read of a record (`auditor.evidence.model.EvidenceRecord`, which calls them
    from its validator: this module does not import it)."""

    @property
    def input(self) -> InputInfo: ...
    @property
    def decision(self) -> Decision: ...
    @property
    def explanations(self) -> Explanations: ...
    @property
    def artifacts(self) -> Sequence[Artifact]: ...
    @property
    def masking(self) -> FaceMaskingRecord | None: ...
    @property
    def clip(self) -> ClipRecord | None: ...


def inconsistency(record: EvidenceRecord) -> str | None:
    """The first cross-field fact `record` breaks, said in one line; None when it keeps them all."""
    frames = len(record.input.frame_indices)
    ex = record.explanations
    per_frame = {"input.timestamps": len(record.input.timestamps), "explanations.frames": len(ex.frames)}
    for method in ex.frame_importance:
        per_frame[f"explanations.frame_importance[{method.method}].values"] = len(method.values)
        if method.edits is not None:
            per_frame[f"explanations.frame_importance[{method.method}].edits"] = len(method.edits)
    if not 1 <= frames <= MAX_FRAMES:
        return f"input.frame_indices holds {frames} frames; a record holds 1 to {MAX_FRAMES}"
    wrong = [f"{name} ({count})" for name, count in per_frame.items() if count != frames]
    if wrong:
        return f"{', '.join(wrong)} must hold one entry per frame ({frames})"
    if any(not 0 <= t < frames for t in ex.key_frames):
        return "explanations.key_frames names a frame outside the window"
    edits = [edit for method in ex.frame_importance for edit in method.edits or []]
    if any(not (0 <= edit.position < frames and 0 <= edit.replaced_by < frames) for edit in edits):
        return "explanations.frame_importance names an edited frame outside the window"
    if any(not 0 <= t < frames for t in _trust_positions(record)):
        return "a trust section (motion, counterfactuals, persons, masking) names a frame outside the window"
    classes = {c.name for c in record.decision.classes}
    named = (record.decision.predicted_class, record.decision.explained_class, record.decision.runner_up_class)
    if not classes or any(name is not None and name not in classes for name in named):
        return "decision names a class that is not among decision.classes"
    missing = [member for member in _array_members(record) if member not in _arrays_held(record)]
    if missing:
        return f"{', '.join(missing)}: a trust section names an array that explanations.arrays does not hold"
    listed = {a.path for a in record.artifacts}
    if len(listed) != len(record.artifacts) or not {i.path for i in ex.images} | _trust_images(record) <= listed:
        return "artifacts must list each file once, every image included"
    return _clip_problem(record)


def _clip_problem(record: EvidenceRecord) -> str | None:
    """What is wrong with the clip section: its files not listed as artifacts with their SHA-256,
    times outside the clip, key frames that are not the explanation's, another recording."""
    clip = record.clip
    if clip is None:
        return None
    listed = {a.path: a.sha256 for a in record.artifacts}
    if clip.path == clip.heatmap_path or listed.get(clip.path) != clip.sha256 or listed.get(clip.heatmap_path) != clip.heatmap_sha256:
        return "clip: its two files must be listed among the artifacts with the SHA-256 the clip section states"
    if clip.source_file != record.input.file_name:
        return "clip.source_file is not input.file_name: the clip must come from the explained recording"
    if abs(clip.duration_seconds - clip.frame_count / clip.fps) > CLIP_TOLERANCE:
        return "clip.duration_seconds is not frame_count / fps"
    if not 0 <= clip.window_start_seconds < clip.window_end_seconds <= clip.duration_seconds + CLIP_TOLERANCE:
        return "clip: the window must lie within the clip"
    if [k.position for k in clip.key_frames] != record.explanations.key_frames:
        return "clip.key_frames must name the explanation's key frames, in order"
    if any(k.seconds > clip.duration_seconds + CLIP_TOLERANCE for k in clip.key_frames):
        return "clip.key_frames names a time after the clip's end"
    return None


def _trust_positions(record: EvidenceRecord) -> list[int]:
    """Every frame position the trust sections name."""
    ex = record.explanations
    found = [f.position for f in ex.motion.frames] + [i.position for i in ex.motion.images] if ex.motion else []
    for edit in ex.counterfactuals.found if ex.counterfactuals else []:
        found += [*edit.positions, *(edit.replaced_by or []), edit.key_position]
    if ex.persons:
        found += ex.persons.positions + [b.position for p in ex.persons.persons for b in p.boxes]
        found += [ex.persons.image.position] if ex.persons.image else []
    found += [f.position for f in record.masking.frames] if record.masking else []
    return found


def _array_members(record: EvidenceRecord) -> list[str]:
    """Every "file#key" a trust section points to: a region edit's pixels, a curve's ranked values."""
    ex = record.explanations
    members = [e.pixels for e in (ex.counterfactuals.found if ex.counterfactuals else []) if e.pixels]
    return members + [c.values for c in (ex.faithfulness.curves if ex.faithfulness else []) if c.values]


def _arrays_held(record: EvidenceRecord) -> set[str]:
    arrays = record.explanations.arrays
    return {f"{arrays.path}#{key}" for key in arrays.keys}


def _trust_images(record: EvidenceRecord) -> set[str]:
    """The pictures the trust sections show."""
    ex = record.explanations
    images = {i.path for i in ex.motion.images} if ex.motion else set()
    images |= {ex.persons.image.path} if ex.persons and ex.persons.image else set()
    return images | {e.image for e in (ex.counterfactuals.found if ex.counterfactuals else []) if e.image}
