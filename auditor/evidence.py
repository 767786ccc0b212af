"""The evidence record: one pydantic model, versioned, with a committed JSON Schema.

A report folder holds `evidence.json` (this record), `arrays.npz` (the raw maps) and
`images/*.png`; `artifacts` lists every file the record refers to with its SHA-256.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

import numpy as np
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from auditor import __version__
from auditor.errors import ReportError
from auditor.explain import FRAME_METHODS
from auditor.explain.base import Explanation, neighbours
from auditor.files import (
    atomic_write_bytes,
    atomic_write_text,
    sha256_bytes,
    sha256_file,
)
from auditor.profile import DeploymentProfile
from auditor.video import Clip

SCHEMA_VERSION = "1.2"
# 1.1 adds gradient × input and frame occlusion; 1.2 adds `rendered_from` and drops the
# operator's `deployment.templates_dir` (still read, ignored)
READABLE_VERSIONS = ("1.0", "1.1", "1.2")
SCHEMA_RESOURCE = "evidence-record-v1.json"
RECORD_NAME = "evidence.json"
ARRAYS_NAME = "arrays.npz"
DEFAULT_CONTOUR_LEVELS = (0.25, 0.5, 0.75, 0.9)
KEY_FRAME_COUNT = 4
SHA256 = r"^[0-9a-f]{64}$"
# Bounds on what a record may hold, checked before it is validated or rendered: a record is
# hostile input, and rendering cost grows with its size (DESIGN §6).
MAX_RECORD_BYTES = 16 * 2**20
MAX_DEPTH = 16  # nesting of JSON objects and lists; auditor writes at most 7
MAX_ITEMS = 4096  # entries of one list or object
MAX_TEXT_CHARS = 20_000  # one string
MAX_WORD_CHARS = 1000  # one run without white space: layout cost grows fast (one of 20 000 chars: +11 s; 3 000: no measurable cost)
MAX_FRAMES = 1024  # frames of one explained window
MAX_ARTIFACT_BYTES = 1 << 30  # one file a record lists
RELATIVE_PATH = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$"  # no "..", no "/x"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportIdentity(_Record):
    """Checklist item 1."""

    report_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    generator: str = "auditor"
    generator_version: str
    created_at: datetime


class ModelIdentity(_Record):
    """Which model decided (checklist item 4)."""

    name: str
    version: str
    file_name: str | None = None
    sha256: str = Field(pattern=SHA256)
    model_card: str | None = None
    target_layer: str | None = None
    input_shape: list[int | None] | None = None  # None: any length (a model of unfixed T)
    sidecar: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_detector(cls, detector: Any) -> ModelIdentity:
        """Identity of an `auditor.detector.Detector` (taken by attribute, not imported)."""
        sidecar = detector.sidecar
        return cls(
            name=sidecar.name,
            version=sidecar.version,
            file_name=Path(detector.model_path).name,
            sha256=detector.model_sha256,
            model_card=sidecar.model_card,
            target_layer=detector.layer_name,
            input_shape=[None if n is None else int(n) for n in detector.input_shape],
            sidecar=sidecar.model_dump(mode="json"),
        )


class InputInfo(_Record):
    """The clip that was analysed (checklist item 6)."""

    file_name: str
    sha256: str = Field(pattern=SHA256)
    source_id: str | None = None
    fps: float | None = None
    frame_indices: list[int]
    timestamps: list[float]
    start_seconds: float
    end_seconds: float


class ClassScore(_Record):
    name: str
    probability: float
    logit: float


class Decision(_Record):
    """What the detector decided (checklist item 8), and which score was explained."""

    predicted_class: str
    predicted_probability: float
    threshold: float
    flagged: bool
    normal_class: str | None = None
    runner_up_class: str | None = None
    margin: float | None = None
    classes: list[ClassScore]
    explained_class: str
    score_name: str
    score_value: float


class MapSummary(_Record):
    """One frame of one raw map. Positions are fractions of the frame (0 = top/left)."""

    mass: float
    mass_share: float
    peak_value: float
    peak_relative: float
    peak_row: float
    peak_col: float
    region: str
    area_above_half: float


class FrameSummary(_Record):
    position: int
    frame_index: int
    timestamp: float
    maps: dict[str, MapSummary]


class FrameImportance(_Record):
    method: str
    label: str
    values: list[float]


class OccludedFrame(_Record):
    """The clip scored again with one frame replaced by its neighbour."""

    position: int
    replaced_by: int
    score_drop: float  # explained-class score of the clip minus that of the edited clip
    predicted_class: str
    predicted_probability: float
    flagged: bool


class Occlusion(_Record):
    """Would the decision change without one frame? (checklist item 11)"""

    method: str
    label: str
    frames: list[OccludedFrame]


class ImageRef(_Record):
    path: str = Field(pattern=RELATIVE_PATH)
    kind: str
    frame: int | None = None
    sha256: str = Field(pattern=SHA256)


class ArrayRef(_Record):
    path: str = Field(pattern=RELATIVE_PATH)
    sha256: str = Field(pattern=SHA256)
    keys: list[str]


class MethodInfo(_Record):
    name: str
    map_shape: list[int]


class Explanations(_Record):
    """How the decision was explained (checklist items 9-11)."""

    methods: list[MethodInfo]
    target_layer: str
    target_class: str
    score_name: str
    preprocessing: str
    display_normalisation: Literal["per-clip", "per-frame"] = "per-clip"
    contour_levels: list[float]
    frames: list[FrameSummary]
    frame_importance: FrameImportance
    gradient_x_input: FrameImportance | None = None
    occlusion: Occlusion | None = None
    key_frames: list[int]
    images: list[ImageRef]
    arrays: ArrayRef
    parameters: dict[str, Any] = Field(default_factory=dict)


class Limitations(_Record):
    model: list[str]
    methods: list[str]


class Submission(_Record):
    received_at: datetime
    summary: str
    answer: str | None = None


class Review(_Record):
    """Filled by the person who reviews the flag (checklist items 15-17, 19); empty until then."""

    reviewer: str | None = None
    role: str | None = None
    authority: str | None = None
    reviewed_at: datetime | None = None
    decision: Literal["confirm", "overturn"] | None = None
    reasons: str | None = None
    data_considered: str | None = None
    minutes_spent: float | None = None
    automation_bias_acknowledged: bool | None = None
    second_verifier: str | None = None
    submissions: list[Submission] = Field(default_factory=list)


class SealInfo(_Record):
    """How the report files are (to be) sealed; filled by the caller before rendering."""

    signed: bool = False
    signer: str | None = None
    certificate_sha256: str | None = None
    throwaway_identity: bool = False
    note: str | None = None


class RenderedFrom(_Record):
    """The sealed report this one was rendered again from (`auditor render`)."""

    report_id: str
    created_at: datetime
    generator_version: str
    record_sha256: str = Field(pattern=SHA256)
    origin_verified: bool  # the source record's seal was checked under a trusted root
    sealed_by: str | None = None  # the source's signer, when verified


class LogPointer(_Record):
    """The system log entry of this report (checklist item 22), added when archived."""

    ledger: str
    entry: str
    sha256: str = Field(pattern=SHA256)


class Artifact(_Record):
    path: str = Field(pattern=RELATIVE_PATH)
    sha256: str = Field(pattern=SHA256)
    media_type: str
    role: str


ItemStatus = Literal["provided", "not provided", "pending review", "not applicable"]


class ChecklistItem(_Record):
    number: int
    title: str
    status: ItemStatus
    missing: list[str] = Field(default_factory=list)
    note: str | None = None


class Completeness(_Record):
    items: list[ChecklistItem]


class EvidenceRecord(_Record):
    """Everything one report states, machine-readable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="auditor evidence record",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://auditor.invalid/schema/evidence-record-v1.json",
        },
    )

    schema_version: Literal["1.0", "1.1", "1.2"] = SCHEMA_VERSION
    report: ReportIdentity
    rendered_from: RenderedFrom | None = None
    deployment: DeploymentProfile
    model: ModelIdentity
    input: InputInfo
    decision: Decision
    explanations: Explanations
    limitations: Limitations
    review: Review = Field(default_factory=Review)
    seal: SealInfo = Field(default_factory=SealInfo)
    system_log: LogPointer | None = None
    artifacts: list[Artifact]
    completeness: Completeness

    @model_validator(mode="after")
    def _consistent(self) -> EvidenceRecord:
        """Cross-field facts every template relies on; a record breaking them was not written
        by auditor."""
        problem = _inconsistency(self)
        if problem:
            raise ValueError(problem)
        return self


def _inconsistency(record: EvidenceRecord) -> str | None:
    frames = len(record.input.frame_indices)
    ex = record.explanations
    per_frame = {
        "input.timestamps": len(record.input.timestamps),
        "explanations.frames": len(ex.frames),
        "explanations.frame_importance.values": len(ex.frame_importance.values),
    }
    if ex.gradient_x_input is not None:
        per_frame["explanations.gradient_x_input.values"] = len(ex.gradient_x_input.values)
    if ex.occlusion is not None:
        per_frame["explanations.occlusion.frames"] = len(ex.occlusion.frames)
    if not 1 <= frames <= MAX_FRAMES:
        return f"input.frame_indices holds {frames} frames; a record holds 1 to {MAX_FRAMES}"
    wrong = [f"{name} ({count})" for name, count in per_frame.items() if count != frames]
    if wrong:
        return f"{', '.join(wrong)} must hold one entry per frame ({frames})"
    if any(not 0 <= t < frames for t in ex.key_frames):
        return "explanations.key_frames names a frame outside the window"
    classes = {c.name for c in record.decision.classes}
    named = (record.decision.predicted_class, record.decision.explained_class, record.decision.runner_up_class)
    if not classes or any(name is not None and name not in classes for name in named):
        return "decision names a class that is not among decision.classes"
    listed = {a.path for a in record.artifacts}
    if len(listed) != len(record.artifacts) or not {i.path for i in ex.images} <= listed:
        return "artifacts must list each file once, every image included"
    return None


@dataclass(frozen=True)
class CheckedArtifacts:
    """The bytes of every artifact a record lists, read once and checked against its SHA-256."""

    folder: Path  # resolved
    files: Mapping[str, bytes]


class ImageArtifactLike(Protocol):
    """What `auditor.display.ImageArtifact` provides."""

    path: str
    kind: str
    frame: int | None
    sha256: str


def schema_json() -> str:
    """The JSON Schema generated from the models, as committed under auditor/schema/."""
    return json.dumps(EvidenceRecord.model_json_schema(), indent=2, sort_keys=True) + "\n"


def committed_schema() -> str:
    """The committed schema text shipped with the package."""
    return resources.files("auditor").joinpath("schema", SCHEMA_RESOURCE).read_text(encoding="utf-8")


def record_json(record: EvidenceRecord) -> str:
    """Canonical JSON text of a record: same record, same bytes."""
    return record.model_dump_json(indent=2) + "\n"


def write_record(folder: Path, record: EvidenceRecord) -> Path:
    """Write `evidence.json` into `folder` atomically."""
    return atomic_write_text(Path(folder) / RECORD_NAME, record_json(record))


def load_record(source: Path | str | bytes, name: str | None = None) -> EvidenceRecord:
    """Load a record from a path or JSON bytes (called `name` in messages), within the bounds
    above; refuse unknown schema versions and inconsistent records with one clear line."""
    where = name or ("record" if isinstance(source, bytes) else str(source))
    text = source if isinstance(source, bytes) else read_record_bytes(Path(source))
    if len(text) > MAX_RECORD_BYTES:
        raise ReportError(f"{where} is {len(text)} bytes; an evidence record is at most {MAX_RECORD_BYTES} bytes")
    try:
        data = pydantic_core.from_json(text)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise ReportError(f"{where} is nested more than {MAX_DEPTH} levels deep; this is not an auditor record") from exc
        raise ReportError(f"{where} is not valid JSON ({exc}); is it an evidence.json?") from exc
    _check_bounds(data, where)
    _check_version(data, where)
    try:
        return EvidenceRecord.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise ReportError(f"{where}: {field}: {first['msg']}; the record does not match schema v1") from exc


def read_record_bytes(path: Path) -> bytes:
    """The bytes of a record file, refused unread when larger than a record can be."""
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise ReportError(f"{path} is {path.stat().st_size} bytes; an evidence record is at most {MAX_RECORD_BYTES} bytes")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ReportError(f"{path} does not exist; give the path of an evidence.json") from exc
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _check_bounds(data: Any, where: str) -> None:
    """Refuse deep nesting, long lists, long strings and long unbroken words before validation."""
    stack: list[tuple[Any, str, int]] = [(data, "record", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, path, where)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise ReportError(f"{where}: {path} is nested more than {MAX_DEPTH} levels deep; this is not an auditor record")
        if len(value) > MAX_ITEMS:
            raise ReportError(f"{where}: {path} holds {len(value)} entries; at most {MAX_ITEMS} are allowed")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _check_text(str(key), path, where)
            stack.append((item, f"{path}.{key}", depth + 1))


def _check_text(text: str, path: str, where: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ReportError(f"{where}: {path} holds {len(text)} characters; at most {MAX_TEXT_CHARS} are allowed")
    if len(text) > MAX_WORD_CHARS and max(map(len, text.split()), default=0) > MAX_WORD_CHARS:
        raise ReportError(
            f"{where}: {path} holds a word longer than {MAX_WORD_CHARS} characters; shorten it or break it with spaces"
        )


def _check_version(data: Any, where: str) -> None:
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, str):
        raise ReportError(f"{where} has no schema_version; it is not an auditor evidence record")
    if version not in READABLE_VERSIONS:
        raise ReportError(
            f"{where} uses evidence schema_version {version!r}; this auditor {__version__} reads "
            f"{', '.join(READABLE_VERSIONS)}. Install the auditor version that wrote it (see report.generator_version)"
        )


def raw_arrays(explanation: Explanation) -> dict[str, np.ndarray]:
    """What `arrays.npz` holds: raw maps, per-frame scores, logits and probabilities."""
    arrays = {f"map_{name}": np.asarray(value) for name, value in explanation.maps.items()}
    arrays.update({f"frame_{name}": np.asarray(value) for name, value in explanation.frame_scores.items()})
    if explanation.occluded_probabilities is not None:
        arrays["occluded_probabilities"] = np.asarray(explanation.occluded_probabilities)
    arrays["logits"] = np.asarray(explanation.logits)
    arrays["probabilities"] = np.asarray(explanation.probabilities)
    return arrays


def save_arrays(folder: Path, explanation: Explanation) -> tuple[Path, str]:
    """Write `raw_arrays(explanation)` to `arrays.npz`, byte-for-byte reproducibly."""
    arrays = raw_arrays(explanation)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            archive.writestr(info, member.getvalue())
    data = buffer.getvalue()
    path = atomic_write_bytes(Path(folder) / ARRAYS_NAME, data)
    return path, sha256_bytes(data)


def verify_artifacts(record: EvidenceRecord, folder: Path) -> list[str]:
    """Problems with the files the record lists (missing, outside the folder, altered)."""
    root = Path(folder).resolve()
    problems = []
    for artifact in record.artifacts:
        path = (root / artifact.path).resolve()
        if not path.is_relative_to(root):
            problems.append(f"{artifact.path}: points outside the report folder")
        elif not path.is_file():
            problems.append(f"{artifact.path}: missing")
        elif sha256_file(path) != artifact.sha256:
            problems.append(f"{artifact.path}: SHA-256 differs from the record (file altered)")
    return problems


def read_artifacts(record: EvidenceRecord, folder: Path) -> CheckedArtifacts:
    """Read every artifact the record lists once; raise ReportError unless all match their SHA-256."""
    root = Path(folder).resolve()
    files: dict[str, bytes] = {}
    problems = []
    for artifact in record.artifacts:
        path = (root / artifact.path).resolve()
        if not path.is_relative_to(root):
            problems.append(f"{artifact.path}: points outside the report folder")
        elif not path.is_file():
            problems.append(f"{artifact.path}: missing")
        elif path.stat().st_size > MAX_ARTIFACT_BYTES:
            problems.append(f"{artifact.path}: larger than {MAX_ARTIFACT_BYTES} bytes")
        else:
            data = _read_artifact(path)
            if sha256_bytes(data) != artifact.sha256:
                problems.append(f"{artifact.path}: SHA-256 differs from the record (file altered)")
            files[artifact.path] = data
    if problems:
        raise ReportError(f"report folder {folder} does not match its record: {'; '.join(problems)}")
    return CheckedArtifacts(root, files)


def _read_artifact(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}; check the report folder's permissions") from exc


def build_record(
    explanation: Explanation,
    clip: Clip,
    *,
    model: ModelIdentity,
    profile: DeploymentProfile | None,
    images: Sequence[ImageArtifactLike],
    arrays: tuple[Path | str, str],
    threshold: float,
    window: tuple[Sequence[int], Sequence[float]] | None = None,
    source_id: str | None = None,
    contour_levels: Sequence[float] = DEFAULT_CONTOUR_LEVELS,
    seal: SealInfo | None = None,
    generator_version: str = __version__,
    report_id: str | None = None,
    created_at: datetime | None = None,
) -> EvidenceRecord:
    """Assemble the record of one explained decision.

    `window` gives the source frame indices and timestamps of the explained frames; without
    it the clip's own frames are used (they must then be exactly the explained frames).
    """
    profile = profile or DeploymentProfile()
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    indices, times = _window(explanation, clip, window)
    image_refs = [ImageRef(path=i.path, kind=i.kind, frame=i.frame, sha256=i.sha256) for i in images]
    array_ref = _array_ref(arrays, explanation)
    normal_class = model.sidecar.get("normal_class")
    fields = {
        "report": ReportIdentity(
            report_id=report_id or new_report_id(created),
            generator_version=generator_version,
            created_at=created,
        ),
        "deployment": profile,
        "model": model,
        "input": _input_info(clip, indices, times, source_id or profile.source_id),
        "decision": _decision(explanation, threshold, normal_class),
        "explanations": _explanations(
            explanation, indices, times, contour_levels, image_refs, array_ref,
            _frame_scores(explanation, threshold, normal_class),
        ),
        "limitations": _limitations(explanation),
        "seal": seal or SealInfo(),
        "artifacts": _artifacts(array_ref, image_refs),
    }
    draft = EvidenceRecord.model_construct(completeness=Completeness(items=[]), **fields)
    return EvidenceRecord(completeness=completeness_of(draft), **fields)


def refresh_completeness(record: EvidenceRecord) -> EvidenceRecord:
    """The record with its completeness section re-derived (after a review, seal or log entry)."""
    return record.model_copy(update={"completeness": completeness_of(record)})


def new_report_id(created: datetime) -> str:
    """A fresh report id: the creation date and 48 random bits."""
    return f"AUD-{created:%Y%m%d}-{uuid.uuid4().hex[:12]}"


def _window(
    explanation: Explanation, clip: Clip, window: tuple[Sequence[int], Sequence[float]] | None
) -> tuple[list[int], list[float]]:
    count = int(explanation.frames.shape[0])
    indices, times = window if window is not None else (clip.frame_indices, clip.timestamps)
    if len(indices) != count or len(times) != count:
        raise ReportError(
            f"the explanation has {count} frames but the window gives {len(indices)} frame indices "
            f"and {len(times)} timestamps; pass window=(indices, timestamps) of the explained frames"
        )
    return [int(i) for i in indices], [round(float(t), 6) for t in times]


def _input_info(clip: Clip, indices: list[int], times: list[float], source_id: str | None) -> InputInfo:
    return InputInfo(
        file_name=clip.source_name,
        sha256=clip.source_sha256,
        source_id=source_id,
        fps=round(float(clip.fps), 6) if clip.fps else None,
        frame_indices=indices,
        timestamps=times,
        start_seconds=times[0],
        end_seconds=times[-1],
    )


def _ranked(probabilities: Sequence[float]) -> list[int]:
    """Class indices by falling probability; ties go to the lower index."""
    return sorted(range(len(probabilities)), key=lambda i: (-probabilities[i], i))


def _flags(name: str, probability: float, threshold: float, normal_class: str | None) -> bool:
    return name != normal_class and probability >= threshold


def _decision(explanation: Explanation, threshold: float, normal_class: str | None) -> Decision:
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
        threshold=float(threshold),
        flagged=_flags(names[top], probabilities[top], threshold, normal_class),
        normal_class=normal_class,
        runner_up_class=names[runner_up] if runner_up is not None else None,
        margin=round(probabilities[top] - probabilities[runner_up], 6) if runner_up is not None else None,
        classes=classes,
        explained_class=explanation.target_name,
        score_name=explanation.score,
        score_value=round(explanation.score_value, 6),
    )


def _array_ref(arrays: tuple[Path | str, str], explanation: Explanation) -> ArrayRef:
    path, digest = arrays
    keys = sorted(raw_arrays(explanation))
    return ArrayRef(path=PurePosixPath(Path(path).name).as_posix(), sha256=digest, keys=keys)


def _artifacts(arrays: ArrayRef, images: list[ImageRef]) -> list[Artifact]:
    listed = [Artifact(path=arrays.path, sha256=arrays.sha256, media_type="application/x-npz", role="raw-arrays")]
    listed += [Artifact(path=i.path, sha256=i.sha256, media_type="image/png", role=f"image-{i.kind}") for i in images]
    return listed


def _explanations(
    explanation: Explanation,
    indices: list[int],
    times: list[float],
    levels: Sequence[float],
    images: list[ImageRef],
    arrays: ArrayRef,
    frame_scores: dict[str, Any],
) -> Explanations:
    maps = {name: np.asarray(value, dtype=np.float64) for name, value in sorted(explanation.maps.items())}
    summaries = {name: _map_summaries(value) for name, value in maps.items()}
    frames = [
        FrameSummary(position=t, frame_index=indices[t], timestamp=times[t], maps={n: s[t] for n, s in summaries.items()})
        for t in range(len(indices))
    ]
    importance = _frame_importance(summaries)
    return Explanations(
        methods=[MethodInfo(name=n, map_shape=list(v.shape)) for n, v in maps.items()],
        target_layer=explanation.layer_name,
        target_class=explanation.target_name,
        score_name=explanation.score,
        preprocessing=explanation.preprocessing,
        contour_levels=[float(level) for level in levels],
        frames=frames,
        frame_importance=importance,
        key_frames=_key_frames(importance.values),
        images=images,
        arrays=arrays,
        parameters=json.loads(json.dumps(dict(explanation.parameters), default=str, sort_keys=True)),
        **frame_scores,
    )


def _frame_scores(explanation: Explanation, threshold: float, normal_class: str | None) -> dict[str, Any]:
    """The `gradient_x_input` and `occlusion` fields, from the scores the explanation carries."""
    scores = explanation.frame_scores
    fields: dict[str, Any] = {}
    if "gradient_x_input" in scores:
        method = FRAME_METHODS["gradient_x_input"]
        fields["gradient_x_input"] = FrameImportance(
            method=method.name, label=method.label, values=[round(float(v), 6) for v in scores[method.name]]
        )
    if "occlusion" in scores and explanation.occluded_probabilities is not None:
        fields["occlusion"] = _occlusion(explanation, threshold, normal_class)
    return fields


def _occlusion(explanation: Explanation, threshold: float, normal_class: str | None) -> Occlusion:
    method = FRAME_METHODS["occlusion"]
    drops = explanation.frame_scores[method.name]
    edited = np.asarray(explanation.occluded_probabilities, dtype=np.float64)
    names = explanation.class_names
    frames = []
    for t, (replacement, drop, probabilities) in enumerate(zip(neighbours(len(drops)), drops, edited, strict=True)):
        top = _ranked(list(probabilities))[0]
        frames.append(OccludedFrame(
            position=t,
            replaced_by=int(replacement),
            score_drop=round(float(drop), 6),
            predicted_class=names[top],
            predicted_probability=round(float(probabilities[top]), 6),
            flagged=_flags(names[top], float(probabilities[top]), threshold, normal_class),
        ))
    return Occlusion(method=f"{method.name}-previous-frame", label=method.label, frames=frames)


def _map_summaries(maps: np.ndarray) -> list[MapSummary]:
    clip_max = float(maps.max()) if maps.size else 0.0
    total = float(maps.sum())
    return [_map_summary(frame, clip_max, total) for frame in maps]


def _map_summary(frame: np.ndarray, clip_max: float, total: float) -> MapSummary:
    height, width = frame.shape
    row, col = np.unravel_index(int(np.argmax(frame)), frame.shape)
    peak = float(frame[row, col])
    peak_row, peak_col = (row + 0.5) / height, (col + 0.5) / width
    mass = float(frame.sum())
    above = float((frame >= 0.5 * clip_max).mean()) if clip_max > 0 else 0.0
    return MapSummary(
        mass=round(mass, 6),
        mass_share=round(mass / total, 6) if total > 0 else 0.0,
        peak_value=round(peak, 6),
        peak_relative=round(peak / clip_max, 6) if clip_max > 0 else 0.0,
        peak_row=round(peak_row, 4),
        peak_col=round(peak_col, 4),
        region=region_name(peak_row, peak_col) if peak > 0 else "none",
        area_above_half=round(above, 4),
    )


def region_name(row: float, col: float) -> str:
    """Name of the ninth of the frame holding a point (row, col in [0, 1])."""
    vertical = ("upper", "middle", "lower")[min(int(row * 3), 2)]
    horizontal = ("left", "centre", "right")[min(int(col * 3), 2)]
    if vertical == "middle":
        return "centre" if horizontal == "centre" else f"middle-{horizontal}"
    return f"{vertical}-{horizontal}"


def _frame_importance(summaries: dict[str, list[MapSummary]]) -> FrameImportance:
    if "gradcam" in summaries:
        name, label = "gradcam", "Grad-CAM activation mass per frame"
    else:
        name = next(iter(summaries))
        label = f"{name} mass per frame"
    return FrameImportance(method=f"{name}-mass", label=label, values=[s.mass for s in summaries[name]])


def _key_frames(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=lambda t: (-values[t], t))
    return sorted(order[: min(KEY_FRAME_COUNT, len(values))])


def _limitations(explanation: Explanation) -> Limitations:
    frames, height, width = explanation.frames.shape[:3]
    model = [
        ("The model learned from a limited set of example videos. It can miss events and can flag "
        "harmless scenes, especially with lighting, camera angles or crowds unlike its training data."),
        "The probability is the model's own score, not a measured likelihood that the event happened.",
        (f"The model saw only {frames} frames scaled down to {width}x{height} pixels; small or distant "
        "details may be lost."),
        "The model does not identify people and cannot judge intent or context outside the clip.",
    ]
    methods = [
        ("Heatmaps show where the model's features supported its score, not why the event happened; "
        "they can highlight background or context."),
        ("Grad-CAM is computed on a coarse grid of the model's internal feature map and enlarged to "
        "the frame: its outlines are approximate."),
        "Saliency maps are noisy and change with small pixel changes; read them as a rough guide.",
        ("Heatmap colours and contour levels are scaled per clip: frames of this clip can be compared "
        "with each other, not with other reports."),
        "The Grad-CAM share of a frame shows where the model's attention lay; it is not a causal measure.",
        *_frame_score_limitations(explanation),
        (f"The explanations follow the pre-activation score (logit) of the class "
        f"'{explanation.target_name}', not its probability."),
    ]
    return Limitations(model=model, methods=methods)


def _frame_score_limitations(explanation: Explanation) -> list[str]:
    scores = explanation.frame_scores
    notes = []
    if "occlusion" in scores:
        notes.append(
            "Occlusion replaces one frame at a time by the frame before it; it does not test other edits, "
            "such as removing several frames together or changing part of a frame."
        )
    else:
        notes.append("Whether removing a frame would change the decision (frame occlusion) was not computed.")
    if "gradient_x_input" in scores:
        notes.append(
            "Gradient \u00d7 input is a first-order estimate: it can be wrong where the model responds "
            "non-linearly, and it compares each frame with a blank frame, which never occurs in real video."
        )
    return notes


CHECKLIST_TITLES = {
    1: "Report identity, schema and generator version, creation time",
    2: "Controller, DPO contact, record of processing",
    3: "Purpose, legal basis, Art. 22 position",
    4: "Model name, version, weights hash, documentation",
    5: "AI Act classification (as declared)",
    6: "Input: file, hash, source, time window, frames",
    7: "Data minimisation",
    8: "Output: class, score, threshold, margin",
    9: "Plain-language account of the procedure",
    10: "Visual evidence and its limits",
    11: "What would change the outcome",
    12: "Known limitations of model and methods",
    13: "Role of the system and main elements",
    14: "Significance and consequences",
    15: "Reviewer identity, role, authority",
    16: "Review record",
    17: "Second verifier",
    18: "Redress: contact, channel, time limit",
    19: "Submissions of the person concerned",
    20: "DPIA reference",
    21: "Retention and deletion",
    22: "System log entry",
    23: "What was withheld",
    24: "Recipients and access control",
    25: "Signature and PDF/A-3 with embedded record",
}


def completeness_of(record: EvidenceRecord) -> Completeness:
    """Status of each item of the legal checklist (DESIGN §3) for this record."""
    return Completeness(items=[_item(number, record) for number in CHECKLIST_TITLES])


def _item(number: int, record: EvidenceRecord) -> ChecklistItem:
    status, missing, note = _ITEM_RULES.get(number, _generated)(record)
    return ChecklistItem(number=number, title=CHECKLIST_TITLES[number], status=status, missing=missing, note=note)


Rule = tuple[ItemStatus, list[str], str | None]
RuleFn = Callable[[EvidenceRecord], Rule]


def _fields(record: EvidenceRecord, *names: str) -> Rule:
    missing = [name for name in names if _lookup(record, name) in (None, "", [])]
    return ("not provided" if missing else "provided"), missing, None


def _lookup(record: EvidenceRecord, dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _generated(record: EvidenceRecord) -> Rule:
    return "provided", [], None


def _visual(record: EvidenceRecord) -> Rule:
    if record.explanations.images:
        return "provided", [], None
    return "not provided", ["explanations.images"], "no heatmap images were produced"


def _counterfactual(record: EvidenceRecord) -> Rule:
    if record.explanations.occlusion is not None:
        return "provided", [], None
    return "not provided", ["explanations.occlusion"], "not computed by this version"


def _review(*names: str) -> RuleFn:
    def rule(record: EvidenceRecord) -> Rule:
        if record.review.decision is None:
            return "pending review", [f"review.{n}" for n in names], "filled in when a person reviews"
        return _fields(record, *(f"review.{n}" for n in names))

    return rule


def _second_verifier(record: EvidenceRecord) -> Rule:
    required = record.deployment.second_verifier_required
    if required is None:
        return "not provided", ["deployment.second_verifier_required"], "policy not stated"
    if not required:
        return "not applicable", [], "the deployer's policy does not require one"
    return _review("second_verifier")(record)


def _submissions(record: EvidenceRecord) -> Rule:
    if record.review.submissions:
        return "provided", [], None
    return "not applicable", [], "no submissions recorded"


def _system_log(record: EvidenceRecord) -> Rule:
    if record.system_log is not None:
        return "provided", [], None
    return "not provided", ["system_log"], "added when the report is archived"


def _seal(record: EvidenceRecord) -> Rule:
    if not record.seal.signed:
        return "not provided", ["seal.signed"], "unsigned; PDF/A-3b with the record embedded"
    if record.seal.throwaway_identity:
        return "provided", [], "throwaway demo identity: not valid for real decisions"
    return "provided", [], None


def _profile(*names: str) -> RuleFn:
    return lambda record: _fields(record, *(f"deployment.{n}" for n in names))


_ITEM_RULES: dict[int, RuleFn] = {
    2: _profile("controller", "dpo_contact", "record_of_processing"),
    3: _profile("purpose", "legal_basis", "art22_position"),
    4: lambda r: _fields(r, "model.name", "model.version", "model.sha256", "model.model_card"),
    5: _profile("ai_act_classification"),
    6: lambda r: _fields(r, "input.file_name", "input.sha256", "input.source_id", "input.frame_indices"),
    7: _profile("data_minimisation"),
    10: _visual,
    11: _counterfactual,
    14: _profile("significance"),
    15: _review("reviewer", "role", "authority"),
    16: _review("decision", "reasons", "data_considered", "minutes_spent", "automation_bias_acknowledged"),
    17: _second_verifier,
    18: _profile("redress.contact", "redress.channel", "redress.time_limit"),
    19: _submissions,
    20: _profile("dpia_reference"),
    21: _profile("retention.clip", "retention.report", "retention.logs"),
    22: _system_log,
    23: _profile("withheld"),
    24: _profile("recipients", "access_control"),
    25: _seal,
}
