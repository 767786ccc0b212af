"""The evidence record: one pydantic model, versioned, with a committed JSON Schema.

A report folder holds `evidence.json` (this record), `arrays.npz` (the raw maps) and `images/`
(JPEG pictures, a PNG legend); `artifacts` lists every file the record refers to with its SHA-256.

- `sections`     the record's sections (pydantic): the shape only; `Note` is a code and its parameters,
                 which the report words (`auditor.report.record_words`): the record holds no sentence
- `model`        the record (its sections under one model) and its schema version
- `consistency`  the cross-field facts a record must keep (checked by the model's one validator)
- `migrate`      older records in today's shape
- `build`        explanation + clip + profile → record
- `checklist`    the 25-item legal checklist: what is provided, what is missing
- `limitations`  the limitations a report states, as codes the report words
- `store`        canonical JSON, the committed schema, bounded loading, arrays and artifacts
- `trust`, `clip` the trust and clip sections
"""

from auditor.evidence.build import RecordContext, TrustEvidence, build_record, new_report_id, region_name
from auditor.evidence.build_trust import masking_record
from auditor.evidence.checklist import CHECKLIST_ITEMS, completeness_of, refresh_completeness
from auditor.evidence.clip import ClipKeyFrame, ClipRecord
from auditor.evidence.model import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    ArrayRef,
    Artifact,
    ChecklistItem,
    ClassScore,
    Completeness,
    Decision,
    EvidenceRecord,
    Explanations,
    FrameEdit,
    FrameImportanceRecord,
    FrameSummary,
    ImageRef,
    InputInfo,
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
    Submission,
)
from auditor.evidence.store import (
    SCHEMA_RESOURCE,
    CheckedArtifacts,
    committed_schema,
    load_record,
    raw_arrays,
    read_artifacts,
    read_record_bytes,
    record_json,
    save_arrays,
    schema_json,
    verify_artifacts,
    write_record,
)
from auditor.names import ARRAYS_NAME, RECORD_NAME

__all__ = [
    "ARRAYS_NAME",
    "CHECKLIST_ITEMS",
    "READABLE_VERSIONS",
    "RECORD_NAME",
    "SCHEMA_RESOURCE",
    "SCHEMA_VERSION",
    "ArrayRef",
    "Artifact",
    "CheckedArtifacts",
    "ChecklistItem",
    "ClassScore",
    "ClipKeyFrame",
    "ClipRecord",
    "Completeness",
    "Decision",
    "EvidenceRecord",
    "Explanations",
    "FrameEdit",
    "FrameImportanceRecord",
    "FrameSummary",
    "ImageRef",
    "InputInfo",
    "Limitations",
    "LogPointer",
    "MapSummary",
    "MethodInfo",
    "ModelIdentity",
    "Note",
    "RecordContext",
    "RenderedFrom",
    "ReportIdentity",
    "Review",
    "SealInfo",
    "Submission",
    "TrustEvidence",
    "build_record",
    "committed_schema",
    "completeness_of",
    "load_record",
    "masking_record",
    "new_report_id",
    "raw_arrays",
    "read_artifacts",
    "read_record_bytes",
    "record_json",
    "refresh_completeness",
    "region_name",
    "save_arrays",
    "schema_json",
    "verify_artifacts",
    "write_record",
]
