"""`import_legacy_model`: read, rebuild, save, load back, compare, and only then write the
Keras 3 model and its sidecar (with the import's provenance).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auditor._tensorflow import keras
from auditor.detector.sidecar import Preprocessing, Sidecar, read_sidecar, sidecar_path
from auditor.errors import ModelError
from auditor.files import atomic_write_bytes, atomic_write_text, sha256_bytes
from auditor.legacy.compare import compare
from auditor.legacy.read import read_legacy, tf_keras
from auditor.legacy.rebuild import convert_model
from auditor.version import VERSION

DEFAULT_TOLERANCE = 1e-5
DEFAULT_SEED = 0
DEFAULT_CLIPS = 4


@dataclass(frozen=True)
class ImportResult:
    """Where the verified Keras 3 model and its sidecar were written, and how close they agree."""

    model_path: Path
    sidecar_path: Path
    sidecar: Sidecar
    max_abs_difference: float
    tolerance: float


def import_legacy_model(
    legacy: Path | str,
    out: Path | str,
    *,
    weights: Path | str | None = None,
    class_names: Sequence[str] | None = None,
    preprocessing: Preprocessing | None = None,
    clip: Path | str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = DEFAULT_SEED,
    random_clips: int = DEFAULT_CLIPS,
    overwrite: bool = False,
) -> ImportResult:
    """Convert a Keras 2 model to a Keras 3 `.keras` file with its sidecar, or raise ModelError.

    `legacy` is a full-model `.h5`, a SavedModel folder, or an architecture `.json` with `weights`.
    The sidecar starts from the legacy model's own sidecar (if any); `class_names` and
    `preprocessing` override it. Nothing is written unless both models agree within `tolerance`
    (largest absolute difference of any output) on `random_clips` seeded clips and on the video `clip`.
    """
    legacy, out, weights = Path(legacy), Path(out), Path(weights) if weights else None
    _check_arguments(out, overwrite, tolerance, [legacy, *([weights] if weights else [])])
    source = read_legacy(legacy, weights)
    sidecar = _base_sidecar(legacy, class_names, preprocessing)
    with tempfile.TemporaryDirectory(prefix="auditor-import-") as folder:
        saved = Path(folder) / out.name
        convert_model(source.architecture, source.model).save(saved)
        difference, checks = compare(source.model, saved, sidecar, clip, seed, random_clips)
        data = saved.read_bytes()
    if not difference <= tolerance:
        raise ModelError(
            f"the converted model differs from {legacy.name} by up to {difference:.3g} (tolerance {tolerance:g}); "
            "nothing was written. Look for layers that are random at inference (e.g. dropout called with "
            "training=True), or report the model's layer types"
        )
    record = {
        **source.provenance, "converted_file": out.name, "converted_sha256": sha256_bytes(data),
        "converter": f"auditor {VERSION}: tf_keras {tf_keras().__version__} -> keras {keras.__version__}",
        "tolerance": tolerance, "max_abs_difference": difference, **checks,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    sidecar = sidecar.model_copy(update={"provenance": {**sidecar.provenance, "import": record}})
    return _write(out, data, sidecar, difference, tolerance)


def _check_arguments(out: Path, overwrite: bool, tolerance: float, inputs: list[Path]) -> None:
    if out.suffix != ".keras":
        raise ModelError(f"--out {out} must end in .keras (the Keras 3 format)")
    if sidecar_path(out).resolve() in [p.resolve() for p in inputs]:
        raise ModelError(f"the sidecar of {out.name} would replace {sidecar_path(out).name}; choose another --out name")
    if out.exists() and not overwrite:
        raise ModelError(f"{out} exists; choose another --out or pass --overwrite")
    if not out.parent.is_dir():
        raise ModelError(f"folder {out.parent} does not exist; create it first")
    if not tolerance >= 0:
        raise ModelError(f"tolerance must be a number >= 0; got {tolerance}")


def _base_sidecar(legacy: Path, class_names: Sequence[str] | None, preprocessing: Preprocessing | None) -> Sidecar:
    """The legacy model's sidecar (an architecture .json has none: it is its own stem's .json), updated."""
    base = Sidecar(name=legacy.stem) if legacy.suffix.lower() == ".json" else read_sidecar(legacy)
    update: dict[str, object] = {}
    if class_names:
        update["class_names"] = list(class_names)
    if preprocessing:
        update["preprocessing"] = preprocessing
    return Sidecar.model_validate({**base.model_dump(), **update})


def _write(out: Path, data: bytes, sidecar: Sidecar, difference: float, tolerance: float) -> ImportResult:
    """Model, then sidecar; if the sidecar cannot be written the new model is removed again."""
    side = sidecar_path(out)
    atomic_write_bytes(out, data)
    try:
        atomic_write_text(side, json.dumps(sidecar.model_dump(mode="json"), indent=2) + "\n")
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return ImportResult(out, side, sidecar, difference, tolerance)
