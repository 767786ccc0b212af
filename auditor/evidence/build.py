"""Assemble the evidence record of one explained decision from the explanation and the clip."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from auditor.errors import ReportError
from auditor.evidence.build_trust import TrustImagesLike, trust_limitations, trust_sections
from auditor.evidence.checklist import completeness_of
from auditor.evidence.clip import ClipRecord
from auditor.evidence.limitations import limitations_of
from auditor.evidence.model import (
    ArrayRef,
    Artifact,
    ClassScore,
    Completeness,
    Decision,
    EvidenceRecord,
    Explanations,
    FrameEdit,
    FrameGeometry,
    FrameImportanceRecord,
    FrameSummary,
    ImageRef,
    InputInfo,
    Limitations,
    MapSummary,
    MethodInfo,
    ModelIdentity,
    Note,
    ReportIdentity,
    SealInfo,
)
from auditor.evidence.store import raw_arrays
from auditor.evidence.trust import FaceMaskingRecord
from auditor.explain import FRAME_IMPORTANCE, ClipExplanation, FrameImportance
from auditor.explain.base import DecisionRule
from auditor.explain.contours import LOCALISED_MAX_AREA, localised
from auditor.explain.key_frames import key_frames
from auditor.names import image_media_type
from auditor.profile import DeploymentProfile
from auditor.version import VERSION
from auditor.video import Clip, DecodeEnd, Sampling

if TYPE_CHECKING:
    from auditor.explain.checks import TrustChecks  # only read: importing it would load TensorFlow

_SCALE_NAMES = {"clip": "per-clip", "frame": "per-frame"}


class ImageArtifactLike(Protocol):
    """What `auditor.report.display.ImageArtifact` provides."""

    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def frame(self) -> int | None: ...
    @property
    def sha256(self) -> str: ...


class DrawnImagesLike(Protocol):
    """What `auditor.report.display.DrawnImages` provides: the images and the display facts they show."""

    @property
    def images(self) -> Sequence[ImageArtifactLike]: ...
    @property
    def contour_levels(self) -> Sequence[float]: ...
    @property
    def scale(self) -> str: ...
    @property
    def saliency_cap_percentile(self) -> float | None: ...
    @property
    def geometry(self) -> object: ...  # an `auditor.report.display.FrameGeometry`, read by attribute


@dataclass(frozen=True)
class TrustEvidence:
    """What the trust checks add to a record: their results, their pictures, and the faces masked."""

    checks: TrustChecks | None = None
    images: TrustImagesLike | None = None
    masking: FaceMaskingRecord | None = None

    def limitations(self, found: Limitations) -> Limitations:
        """`found` with what the checks that ran and face masking cannot show."""
        extra = trust_limitations(self.checks, self.masking)
        return found.model_copy(update={"methods": [*found.methods, *extra]}) if extra else found

    def sections(self, explanation: ClipExplanation) -> dict[str, object]:
        if self.checks is None:
            return {}
        return trust_sections(self.checks, explanation.class_names, explanation.target_index, self.images)


@dataclass(frozen=True)
class RecordContext:
    """What a record takes from outside the explanation: the deployment, the source, the seal,
    and (for reproducible fixtures) a fixed identity and time."""

    profile: DeploymentProfile = field(default_factory=DeploymentProfile)
    source_id: str | None = None
    seal: SealInfo = field(default_factory=SealInfo)
    report_id: str | None = None
    created_at: datetime | None = None
    generator_version: str = VERSION


def build_record(
    explanation: ClipExplanation,
    window: Clip,
    *,
    model: ModelIdentity,
    rule: DecisionRule,
    drawn: DrawnImagesLike,
    arrays: tuple[Path | str, str],
    context: RecordContext | None = None,
    trust: TrustEvidence | None = None,
    clip: ClipRecord | None = None,
) -> EvidenceRecord:
    """Assemble the record of one explained decision; `window` holds exactly the explained frames,
    `clip` describes the clip files written beside it (`auditor.report.clip`), when there are any."""
    context = context or RecordContext()
    trust = trust or TrustEvidence()
    created = (context.created_at or datetime.now(UTC)).astimezone(UTC)
    indices, times = _window(explanation, window)
    image_refs = [ImageRef(path=i.path, kind=i.kind, frame=i.frame, sha256=i.sha256) for i in drawn.images]
    array_ref = _array_ref(arrays, explanation, trust.checks)
    fields: dict[str, Any] = {
        "report": ReportIdentity(
            report_id=context.report_id or new_report_id(created),
            generator_version=context.generator_version,
            created_at=created,
        ),
        "deployment": context.profile,
        "model": model,
        "input": _input_info(window, indices, times, context.source_id or context.profile.source_id),
        "decision": _decision(explanation, rule),
        "explanations": _explanations(explanation, indices, times, drawn, image_refs, array_ref, rule).model_copy(
            update=trust.sections(explanation)
        ),
        "limitations": trust.limitations(limitations_of(explanation)),
        "seal": context.seal,
        "masking": trust.masking,
        "clip": clip,
        "artifacts": _artifacts(array_ref, image_refs, clip),
    }
    draft = EvidenceRecord.model_construct(completeness=Completeness(items=[]), **fields)
    return EvidenceRecord(completeness=completeness_of(draft), **fields)


def new_report_id(created: datetime) -> str:
    """A fresh report id: the creation date and 48 random bits."""
    return f"AUD-{created:%Y%m%d}-{uuid.uuid4().hex[:12]}"


def _window(explanation: ClipExplanation, window: Clip) -> tuple[list[int], list[float]]:
    count = int(explanation.frames.shape[0])
    indices, times = window.frame_indices, window.timestamps
    if len(indices) != count or len(times) != count:
        raise ReportError(
            f"the explanation has {count} frames but the window holds {len(indices)} frame indices "
            f"and {len(times)} timestamps; pass the clip of exactly the explained frames"
        )
    return [int(i) for i in indices], [round(float(t), 6) for t in times]


def _input_info(clip: Clip, indices: list[int], times: list[float], source_id: str | None) -> InputInfo:
    """The input section: the last sampled frame ends one sampling interval after it starts."""
    end = clip.decode_end
    return InputInfo(
        file_name=clip.source_name,
        sha256=clip.source_sha256,
        source_id=source_id,
        fps=round(float(clip.fps), 6) if clip.fps else None,
        frame_indices=indices,
        timestamps=times,
        start_seconds=times[0],
        end_seconds=round(times[-1] + clip.sampling.interval(clip.fps), 6) if clip.fps else times[-1],
        sampling=sampling_note(clip.sampling),
        decoding_stopped=decoding_note(end) if end is not None and not end.complete else None,
    )


def sampling_note(sampling: Sampling) -> Note:
    """Which decoded frames the model saw: every frame, every n-th, or so many per second."""
    if sampling.fps is not None:
        return Note(code="sampling.fps", params={"fps": float(sampling.fps)})
    if sampling.every == 1:
        return Note(code="sampling.every_frame")
    return Note(code="sampling.every_nth", params={"every": int(sampling.every)})


def decoding_note(end: DecodeEnd) -> Note:
    """Where decoding stopped before the end the file states (its frame, time and stated count)."""
    facts = {"frames": end.frames, "stated": end.stated, "seconds": end.time}
    return Note(code="decoding.stopped", params={k: v for k, v in facts.items() if v is not None})


def _ranked(probabilities: Sequence[float]) -> list[int]:
    """Class indices by falling probability; ties go to the lower index."""
    return sorted(range(len(probabilities)), key=lambda i: (-probabilities[i], i))


def _decision(explanation: ClipExplanation, rule: DecisionRule) -> Decision:
    probabilities = [float(p) for p in explanation.probabilities]
    order = _ranked(probabilities)
    top = order[0]
    runner_up = order[1] if len(order) > 1 else None
    names = explanation.class_names
    classes = [
        ClassScore(name=n, probability=round(p, 6), logit=round(float(explanation.logits[i]), 6))
        for i, (n, p) in enumerate(zip(names, probabilities, strict=True))
    ]
    return Decision(
        predicted_class=names[top],
        predicted_probability=round(probabilities[top], 6),
        threshold=float(rule.threshold),
        flagged=rule.raises_alert(names[top], probabilities[top]),
        normal_class=rule.normal_class,
        runner_up_class=names[runner_up] if runner_up is not None else None,
        margin=round(probabilities[top] - probabilities[runner_up], 6) if runner_up is not None else None,
        classes=classes,
        explained_class=explanation.target_name,
        score_name=explanation.score,
        score_value=round(explanation.score_value, 6),
    )


def _array_ref(arrays: tuple[Path | str, str], explanation: ClipExplanation, checks: TrustChecks | None) -> ArrayRef:
    path, digest = arrays
    keys = sorted(raw_arrays(explanation) | (checks.arrays() if checks else {}))
    return ArrayRef(path=PurePosixPath(Path(path).name).as_posix(), sha256=digest, keys=keys)


def _artifacts(arrays: ArrayRef, images: list[ImageRef], clip: ClipRecord | None) -> list[Artifact]:
    listed = [Artifact(path=arrays.path, sha256=arrays.sha256, media_type="application/x-npz", role="raw-arrays")]
    listed += [Artifact(path=i.path, sha256=i.sha256, media_type=image_media_type(i.path), role=f"image-{i.kind}") for i in images]
    if clip is not None:
        listed += [
            Artifact(path=clip.path, sha256=clip.sha256, media_type=clip.media_type, role="clip"),
            Artifact(path=clip.heatmap_path, sha256=clip.heatmap_sha256, media_type=clip.media_type, role="clip-heatmap"),
        ]
    return listed


def _explanations(
    explanation: ClipExplanation,
    indices: list[int],
    times: list[float],
    drawn: DrawnImagesLike,
    images: list[ImageRef],
    arrays: ArrayRef,
    rule: DecisionRule,
) -> Explanations:
    maps = {name: np.asarray(value, dtype=np.float64) for name, value in sorted(explanation.maps.items())}
    summaries = {name: _map_summaries(value) for name, value in maps.items()}
    frames = [
        FrameSummary(position=t, frame_index=indices[t], timestamp=times[t], maps={n: s[t] for n, s in summaries.items()})
        for t in range(len(indices))
    ]
    return Explanations(
        methods=[MethodInfo(name=n, map_shape=list(v.shape)) for n, v in maps.items()],
        target_layer=explanation.layer_name,
        target_class=explanation.target_name,
        score_name=explanation.score,
        preprocessing=explanation.preprocessing,
        display_normalisation=_SCALE_NAMES[drawn.scale],
        contour_levels=[float(level) for level in drawn.contour_levels],
        geometry=FrameGeometry.model_validate(drawn.geometry, from_attributes=True),
        frames=frames,
        frame_importance=[
            _frame_importance(name, result, explanation.class_names, rule)
            for name, result in explanation.frame_importance.items()
        ],
        key_frames=key_frames(explanation),
        images=images,
        arrays=arrays,
        parameters=_parameters(explanation, drawn),
    )


def _parameters(explanation: ClipExplanation, drawn: DrawnImagesLike) -> dict[str, Any]:
    """The explanation's parameters, the rule for a localised map, and the display's saliency
    cap when it applied one."""
    parameters = {**explanation.parameters, "localised_max_area_above_half": LOCALISED_MAX_AREA}
    if drawn.saliency_cap_percentile is not None:
        parameters["saliency_display_cap_percentile"] = drawn.saliency_cap_percentile
    return json.loads(json.dumps(parameters, default=str, sort_keys=True))


def _frame_importance(
    name: str, result: FrameImportance, class_names: Sequence[str], rule: DecisionRule
) -> FrameImportanceRecord:
    """One frame-importance method's part of the record (the report words it by its code)."""
    method = FRAME_IMPORTANCE[name]
    return FrameImportanceRecord(
        method=name,
        signed=method.signed,
        values=[round(float(v), 6) for v in result.values],
        edits=_edits(result, class_names, rule) if result.edited_probabilities is not None else None,
    )


def _edits(result: FrameImportance, class_names: Sequence[str], rule: DecisionRule) -> list[FrameEdit]:
    """What the detector decides on each edited clip."""
    edited = np.asarray(result.edited_probabilities, dtype=np.float64)
    replaced_by = result.replaced_by if result.replaced_by is not None else np.arange(len(edited))
    edits = []
    for t, (replacement, probabilities) in enumerate(zip(replaced_by, edited, strict=True)):
        top = _ranked(list(probabilities))[0]
        edits.append(FrameEdit(
            position=t,
            replaced_by=int(replacement),
            predicted_class=class_names[top],
            predicted_probability=round(float(probabilities[top]), 6),
            flagged=rule.raises_alert(class_names[top], float(probabilities[top])),
        ))
    return edits


def _map_summaries(maps: np.ndarray) -> list[MapSummary]:
    clip_max = float(maps.max()) if maps.size else 0.0
    total = float(maps.sum())
    return [_map_summary(frame, clip_max, total) for frame in maps]


def _map_summary(frame: np.ndarray, clip_max: float, total: float) -> MapSummary:
    """The frame's summary; a map that singles out no region (`contours.localised`) has region "none"."""
    height, width = frame.shape
    row, col = np.unravel_index(int(np.argmax(frame)), frame.shape)
    peak = float(frame[row, col])
    peak_row, peak_col = (row + 0.5) / height, (col + 0.5) / width
    mass = float(frame.sum())
    above = float((frame >= 0.5 * clip_max).mean()) if clip_max > 0 else 0.0
    located = localised(frame)
    return MapSummary(
        mass=round(mass, 6),
        mass_share=round(mass / total, 6) if total > 0 else 0.0,
        peak_value=round(peak, 6),
        peak_relative=round(peak / clip_max, 6) if clip_max > 0 else 0.0,
        peak_row=round(peak_row, 4),
        peak_col=round(peak_col, 4),
        region=region_name(peak_row, peak_col) if located else "none",
        area_above_half=round(above, 4),
        localised=located,
    )


def region_name(row: float, col: float) -> str:
    """Name of the ninth of the frame holding a point (row, col in [0, 1])."""
    vertical = ("upper", "middle", "lower")[min(int(row * 3), 2)]
    horizontal = ("left", "centre", "right")[min(int(col * 3), 2)]
    if vertical == "middle":
        return "centre" if horizontal == "centre" else f"middle-{horizontal}"
    return f"{vertical}-{horizontal}"
