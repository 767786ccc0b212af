"""The sections of the evidence record (pydantic models): the shape only. The record itself, its
schema version and its cross-field checks are `auditor.evidence.model` and `.consistency`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditor.evidence.migrate import migrate_frame_importance
from auditor.evidence.note import Note, Sentence
from auditor.evidence.trust import (
    CounterfactualRecord,
    FaithfulnessRecord,
    MotionRecord,
    PersonGroundingRecord,
    SanityRecord,
)
from auditor.names import RelativePath, Sha256


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
    sha256: Sha256
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
    """The clip that was analysed (checklist item 6).

    `timestamps` are the frames' presentation times in the file (before 2.2: index / fps).
    `sampling` says which decoded frames the model saw ("sampling.every_frame", "sampling.every_nth"
    {every}, "sampling.fps" {fps}; 2.2 to 2.6: "every 3rd frame"…); None in records before 2.2.
    `decoding_stopped` says where decoding the file stopped before the end its container states (a
    truncated or partly corrupt file: "decoding.stopped" {frames, stated, seconds}), None when it did
    not (or was not checked: records before 2.2).
    """

    file_name: str
    sha256: Sha256
    source_id: str | None = None
    fps: float | None = None
    frame_indices: list[int]
    timestamps: list[float]
    start_seconds: float  # when the first explained frame starts
    end_seconds: float  # when the last one ends (its start plus one sampling interval; before 2.1: its start)
    sampling: Note | Annotated[str, Field(max_length=100)] | None = None
    decoding_stopped: Note | Annotated[str, Field(max_length=300)] | None = None


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
    """One frame of one raw map. Positions are fractions of the frame (0 = top/left).

    `localised`: whether the map singles out a region (`auditor.explain.contours.localised`); when
    it does not, `region` is "none" and the pictures show no contours. None in records before 2.1.
    """

    mass: float
    mass_share: float
    peak_value: float
    peak_relative: float
    peak_row: float
    peak_col: float
    region: str
    area_above_half: float
    localised: bool | None = None


class FrameSummary(_Record):
    position: int
    frame_index: int
    timestamp: float
    maps: dict[str, MapSummary]


class FrameEdit(_Record):
    """What the detector decides on the clip with one frame replaced by another (checklist item 11)."""

    position: int
    replaced_by: int
    predicted_class: str
    predicted_probability: float
    flagged: bool


class FrameImportanceRecord(_Record):
    """How much each frame counted, by one frame-importance method (`method`, its code). Records
    before 2.7 also hold the method's English `label` and `description`; the report words it."""

    method: str
    label: Sentence | None = None
    description: Sentence | None = None
    signed: bool
    values: list[float]
    edits: list[FrameEdit] | None = None  # for methods that score edited clips: one per frame


class ImageRef(_Record):
    path: RelativePath
    kind: str
    frame: int | None = None
    sha256: Sha256


class ArrayRef(_Record):
    path: RelativePath
    sha256: Sha256
    keys: list[str]


class FrameGeometry(_Record):
    """How the recorded frames became the model's input, and how the pictures show the maps.

    `mapping` "stretch": each recorded frame was resized to the model's width and height (no crop,
    no letterbox); the maps, at model resolution, are drawn over the whole recorded frame by the
    inverse stretch. The per-frame pictures are `image_width` × `image_height` px, the recorded
    frame's aspect ratio.
    """

    source_width: int = Field(ge=1)
    source_height: int = Field(ge=1)
    model_width: int = Field(ge=1)
    model_height: int = Field(ge=1)
    mapping: Literal["stretch"]
    image_width: int = Field(ge=1)
    image_height: int = Field(ge=1)


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
    geometry: FrameGeometry | None = None  # None in records before 2.1: the pictures showed the model's frames
    frames: list[FrameSummary]
    frame_importance: list[FrameImportanceRecord]
    key_frames: list[int]
    images: list[ImageRef]
    arrays: ArrayRef
    parameters: dict[str, Any] = Field(default_factory=dict)
    motion: MotionRecord | None = None
    counterfactuals: CounterfactualRecord | None = None
    faithfulness: FaithfulnessRecord | None = None
    sanity: SanityRecord | None = None
    persons: PersonGroundingRecord | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_schema_1(cls, data: Any) -> Any:
        """Schema 1.x kept Grad-CAM mass, gradient × input and occlusion in fields of their own."""
        if isinstance(data, dict) and isinstance(data.get("frame_importance"), dict):
            return migrate_frame_importance(data)
        return data

    def edits(self) -> FrameImportanceRecord | None:
        """The first frame-importance method that scored edited clips, if any ran."""
        return next((m for m in self.frame_importance if m.edits is not None), None)


class Limitations(_Record):
    """What the model and the explanation methods cannot show (codes in 2.7, sentences before)."""

    model: list[Note | Sentence]
    methods: list[Note | Sentence]


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
    decision: Literal["confirm", "overturn", "escalate"] | None = None
    reasons: str | None = None
    data_considered: str | None = None
    minutes_spent: float | None = None
    automation_bias_acknowledged: bool | None = None
    second_verifier: str | None = None
    status: str | None = None  # where the review stands (auditor.review.state), when rendered after reviews
    submissions: list[Submission] = Field(default_factory=list)


class SealInfo(_Record):
    """How the report files are (to be) sealed; filled by the caller before rendering."""

    signed: bool = False
    signer: str | None = None
    certificate_sha256: str | None = None
    throwaway_identity: bool = False
    note: Note | Sentence | None = None  # "seal.unsigned" or "seal.sealed" {subject, root, root_sha256, validation_data}


class RenderedFrom(_Record):
    """The sealed report this one was rendered again from (`auditor render`)."""

    report_id: str
    created_at: datetime
    generator_version: str
    record_sha256: Sha256
    origin_verified: bool  # the source record's seal was checked under a trusted root
    sealed_by: str | None = None  # the source's signer, when verified


class LogPointer(_Record):
    """The system log entry of this report (checklist item 22), added when archived."""

    ledger: str
    entry: str
    sha256: Sha256


class Artifact(_Record):
    path: RelativePath
    sha256: Sha256
    media_type: str
    role: str


ItemStatus = Literal["provided", "not provided", "pending review", "not applicable"]


class ChecklistItem(_Record):
    """One item of the legal checklist: its number (its title is the report's), its status, the
    record fields it misses and a note; records before 2.7 also hold the English title."""

    number: int = Field(ge=1, le=25)
    title: Sentence | None = None
    status: ItemStatus
    missing: list[str] = Field(default_factory=list)
    note: Note | Sentence | None = None


class Completeness(_Record):
    items: list[ChecklistItem]
