"""The evidence record: its sections (`auditor.evidence.sections`) under one versioned model,
whose cross-field facts `auditor.evidence.consistency` checks (schema in auditor/schema/)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditor.evidence.clip import ClipRecord
from auditor.evidence.consistency import inconsistency
from auditor.evidence.sections import (  # re-exported: the record's sections
    ArrayRef,
    Artifact,
    ChecklistItem,
    ClassScore,
    Completeness,
    Decision,
    Explanations,
    FrameEdit,
    FrameGeometry,
    FrameImportanceRecord,
    FrameSummary,
    ImageRef,
    InputInfo,
    ItemStatus,
    Limitations,
    LogPointer,
    MapSummary,
    MethodInfo,
    ModelIdentity,
    Note,
    RenderedFrom,
    ReportIdentity,
    Review,
    SealInfo,
    Sentence,
    Submission,
)
from auditor.evidence.trust import FaceMaskingRecord
from auditor.profile import DeploymentProfile

SchemaVersion = Literal["1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"]
SCHEMA_VERSION: SchemaVersion = "2.7"
# 1.1 adds gradient × input and frame occlusion; 1.2 adds `rendered_from` and drops the
# operator's `deployment.templates_dir` (still read, ignored); 2.0 holds every frame-importance
# method in one list, `explanations.frame_importance` (1.x records are read and converted); 2.1
# adds `explanations.geometry` (pictures on the recorded frames) and `MapSummary.localised`; 2.2
# adds `input.sampling` (which decoded frames the model saw) and `input.decoding_stopped`; 2.3 adds
# the trust sections (`auditor.evidence.trust`): `explanations.motion`, `.counterfactuals`,
# `.faithfulness`, `.sanity`, `.persons`, and the record's `masking`; 2.4 adds `explanations.sanity.host`
# and `.cache_file` (where the model-randomisation figures were computed, or which cache entry they came from); 2.5 states
# every trust check so that it can be recomputed from the record and `arrays.npz` (issue 23); 2.6
# adds `clip` (`auditor.evidence.clip`: the explained window with context as a video, issue 24); 2.7
# holds no generated sentence (issue 25): checklist notes, limitations, `input.sampling`,
# `input.decoding_stopped` and `seal.note` are `Note`s (a code and its parameters), checklist titles
# and frame-importance labels and descriptions are left to the report (`auditor.report.record_words`),
# and `explanations.motion.not_measurable` holds codes. Older records keep their sentences.
READABLE_VERSIONS: tuple[str, ...] = get_args(SchemaVersion)


class EvidenceRecord(BaseModel):
    """Everything one report states, machine-readable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="auditor evidence record",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://auditor.invalid/schema/evidence-record-v2.json",
        },
    )

    schema_version: SchemaVersion = SCHEMA_VERSION
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
    masking: FaceMaskingRecord | None = None
    clip: ClipRecord | None = None
    system_log: LogPointer | None = None
    artifacts: list[Artifact]
    completeness: Completeness

    @model_validator(mode="after")
    def _consistent(self) -> EvidenceRecord:
        """Cross-field facts every template relies on; a record breaking them was not written
        by auditor."""
        problem = inconsistency(self)
        if problem:
            raise ValueError(problem)
        return self



__all__ = [
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "ArrayRef",
    "Artifact",
    "ChecklistItem",
    "ClassScore",
    "Completeness",
    "Decision",
    "EvidenceRecord",
    "Explanations",
    "FrameEdit",
    "FrameGeometry",
    "FrameImportanceRecord",
    "FrameSummary",
    "ImageRef",
    "InputInfo",
    "ItemStatus",
    "Limitations",
    "LogPointer",
    "MapSummary",
    "MethodInfo",
    "ModelIdentity",
    "Note",
    "RenderedFrom",
    "ReportIdentity",
    "Review",
    "SchemaVersion",
    "SealInfo",
    "Sentence",
    "Submission",
]
