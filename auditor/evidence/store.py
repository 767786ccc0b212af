"""Reading and writing records and their artifacts: canonical JSON, the committed schema, bounded
loading of hostile records, `arrays.npz`, and the hash-checked artifacts of a report folder."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pydantic_core
from pydantic import ValidationError

from auditor.errors import ReportError, first_problem
from auditor.evidence.model import READABLE_VERSIONS, Artifact, EvidenceRecord
from auditor.explain import ClipExplanation
from auditor.files import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file
from auditor.names import ARRAYS_NAME, MAX_RECORD_BYTES, RECORD_NAME
from auditor.version import VERSION

SCHEMA_RESOURCE = "evidence-record-v2.json"
# Bounds on what a record may hold, checked before it is validated or rendered: a record is
# hostile input, and rendering cost grows with its size (DESIGN §6).
MAX_DEPTH = 16  # nesting of JSON objects and lists; auditor writes at most 7
MAX_ITEMS = 4096  # entries of one list or object
MAX_TEXT_CHARS = 20_000  # one string
MAX_WORD_CHARS = 1000  # one run without white space: layout cost grows fast (one of 20 000 chars: +11 s; 3 000: no measurable cost)
MAX_ARTIFACT_BYTES = 1 << 30  # one file a record lists


@dataclass(frozen=True)
class CheckedArtifacts:
    """The bytes of every artifact a record lists, read once and checked against its SHA-256."""

    folder: Path  # resolved
    files: Mapping[str, bytes]


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
        raise ReportError(
            f"{where}: {first_problem(exc, 'record')}; the record does not match the evidence record schema "
            f"(auditor/schema/{SCHEMA_RESOURCE})"
        ) from exc


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
            f"{where} uses evidence schema_version {version!r}; this auditor {VERSION} reads "
            f"{', '.join(READABLE_VERSIONS)}. Install the auditor version that wrote it (see report.generator_version)"
        )


def raw_arrays(explanation: ClipExplanation) -> dict[str, np.ndarray]:
    """What `arrays.npz` holds: raw maps, frame importance (and the edited clips' probabilities),
    logits and probabilities."""
    arrays = {f"map_{name}": np.asarray(value) for name, value in explanation.maps.items()}
    for name, result in explanation.frame_importance.items():
        arrays[f"frame_{name}"] = np.asarray(result.values)
        if result.edited_probabilities is not None:
            arrays[f"frame_{name}_edited_probabilities"] = np.asarray(result.edited_probabilities)
    arrays["logits"] = np.asarray(explanation.logits)
    arrays["probabilities"] = np.asarray(explanation.probabilities)
    return arrays


def save_arrays(
    folder: Path, explanation: ClipExplanation, extra: Mapping[str, np.ndarray] | None = None
) -> tuple[Path, str]:
    """Write `raw_arrays(explanation)` and the `extra` arrays (the trust checks') to `arrays.npz`,
    byte-for-byte reproducibly."""
    arrays = raw_arrays(explanation) | dict(extra or {})
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
    """Problems with the files the record lists (missing, outside the folder, altered); streams
    each file through SHA-256 without keeping it."""
    root = Path(folder).resolve()
    problems = []
    for artifact in record.artifacts:
        path = _artifact_path(root, artifact)
        if isinstance(path, str):
            problems.append(path)
        elif sha256_file(path) != artifact.sha256:
            problems.append(f"{artifact.path}: SHA-256 differs from the record (file altered)")
    return problems


def read_artifacts(record: EvidenceRecord, folder: Path) -> CheckedArtifacts:
    """Read every artifact the record lists once; raise ReportError unless all match their SHA-256."""
    root = Path(folder).resolve()
    files: dict[str, bytes] = {}
    problems = []
    for artifact in record.artifacts:
        path = _artifact_path(root, artifact)
        if isinstance(path, str):
            problems.append(path)
            continue
        data = _read_artifact(path)
        if sha256_bytes(data) != artifact.sha256:
            problems.append(f"{artifact.path}: SHA-256 differs from the record (file altered)")
        files[artifact.path] = data
    if problems:
        raise ReportError(f"report folder {folder} does not match its record: {'; '.join(problems)}")
    return CheckedArtifacts(root, files)


def _artifact_path(root: Path, artifact: Artifact) -> Path | str:
    """Where a listed artifact is, or what is wrong with it before it is read."""
    path = (root / artifact.path).resolve()
    if not path.is_relative_to(root):
        return f"{artifact.path}: points outside the report folder"
    if not path.is_file():
        return f"{artifact.path}: missing"
    if path.stat().st_size > MAX_ARTIFACT_BYTES:
        return f"{artifact.path}: larger than {MAX_ARTIFACT_BYTES} bytes"
    return path


def _read_artifact(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}; check the report folder's permissions") from exc
