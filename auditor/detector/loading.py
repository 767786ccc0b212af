"""Model files and sidecars: load a Keras 3 `.keras` or `.h5` detector, recognise a Keras 2 one."""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import h5py

from auditor._tensorflow import keras
from auditor.detector.front import Detector
from auditor.detector.sidecar import Sidecar, class_names_problem, read_sidecar, sidecar_path
from auditor.errors import ModelError

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
ZIP_MAGIC = b"PK\x03\x04"
BINARY_CLASS_NAMES = ("normal", "anomaly")  # a one-unit sigmoid detector's sides, normal first


def load_detector(path: Path | str, class_names: Sequence[str] | None = None, layer: str | None = None) -> Detector:
    """Load a Keras 3 `.keras` or legacy `.h5` video classifier with its sidecar (if any).

    Class names come from `class_names`, else from the sidecar, else `class_0 …` (a binary
    detector's: `normal`, `anomaly`; see `auditor.detector.sidecar`). `layer` overrides the sidecar's
    Grad-CAM target layer. The detector's sidecar holds the class names and normal class it uses.
    """
    path = Path(path)
    sidecar = read_sidecar(path)
    if layer:
        sidecar = sidecar.model_copy(update={"target_layer": layer})
    model = _load_keras_model(path)
    sidecar = _class_settings(path, model, class_names, sidecar)
    again = functools.partial(load_detector, path, class_names, layer)
    detector = Detector(model, path, sidecar, sidecar.class_names or (), reload=again)
    _check_binary(detector)
    _check_clip_length(detector)
    detector._passes(detector.layer_name)
    return detector


def looks_like_keras2(path: Path | str) -> bool:
    """Cheap check: a Keras 2 `.h5` full model, architecture `.json` or SavedModel folder."""
    path = Path(path)
    try:
        if path.is_dir():
            return (path / "saved_model.pb").is_file()
        if path.suffix.lower() == ".json":
            return str(json.loads(path.read_text(encoding="utf-8")).get("keras_version", "")).startswith("2.")
        with h5py.File(path, "r") as handle:
            return "model_config" in handle.attrs and h5_text(handle.attrs.get("keras_version", "")).startswith("2.")
    except Exception:  # any unreadable file is simply "not Keras 2"
        return False


def h5_text(value: object) -> str:
    """An HDF5 string attribute as text (h5py returns bytes or str depending on how it was stored)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _load_keras_model(path: Path) -> keras.Model:
    if path.is_dir() and looks_like_keras2(path):
        raise ModelError(
            f"{path} is a Keras 2 SavedModel; convert it once with: auditor import-model {path} --out MODEL.keras"
        )
    if path.is_dir():
        raise ModelError(f"model {path} is a folder, not a model file; give the .keras or .h5 file itself")
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; check the path")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"model file {path} is not a Keras model; expected one of {', '.join(MODEL_SUFFIXES)}")
    _check_container(path)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many unrelated types for unreadable files
        if looks_like_keras2(path):
            raise ModelError(
                f"{path.name} is a Keras 2 model that Keras 3 cannot read; convert it once with: "
                f"auditor import-model {path} --out {path.with_suffix('.keras')}"
            ) from exc
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"cannot read model file {path.name} ({reason}); is it a complete Keras 3 .keras or .h5 file?"
        ) from exc


def _check_container(path: Path) -> None:
    """A `.keras` file is a zip archive, an `.h5` file HDF5: anything else is no Keras model file
    (Keras itself says "File not found" of such a file)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    keras_file = path.suffix.lower() == ".keras"
    if keras_file and head.startswith(ZIP_MAGIC) and not zipfile.is_zipfile(path):
        raise ModelError(
            f"cannot read model file {path.name} (its zip archive is incomplete or damaged: truncated?); "
            "is it a complete Keras 3 .keras file?"
        )
    if head.startswith(ZIP_MAGIC) if keras_file else h5py.is_hdf5(path):
        return
    kind = "a zip archive" if keras_file else "an HDF5 file"
    raise ModelError(
        f"{path.name} is not a Keras model file: a {path.suffix} model is {kind} and this file is not one; "
        "give the file the model was saved to (model.save)"
    )


def _class_settings(path: Path, model: keras.Model, given: Sequence[str] | None, sidecar: Sidecar) -> Sidecar:
    """The sidecar with the class names and normal class the detector uses, once they are checked:
    one distinct name per class (two for a one-unit binary detector), a normal class among them."""
    outputs = model.outputs[0].shape[-1] if model.outputs else None
    binary = outputs == 1
    default = list(BINARY_CLASS_NAMES) if binary else [f"class_{i}" for i in range(outputs or 0)]
    names = list(given or sidecar.class_names or default)
    source = "--classes" if given else f"class_names in {sidecar_path(path).name}"
    if outputs is not None and len(names) != (2 if binary else outputs):
        has = "one output unit (a binary detector: two class names, the normal side first)" if binary else (
            f"{outputs} outputs"
        )
        raise ModelError(
            f"{path.name} has {has} but {len(names)} class names were given ({source}); "
            "fix class_names in the sidecar or the --classes option"
        )
    problem = class_names_problem(names)
    if problem:
        raise ModelError(f"{source}: {problem}")
    normal = sidecar.normal_class or (names[0] if binary else None)
    if normal is not None and normal not in names:
        raise ModelError(
            f"normal_class {normal!r} in {sidecar_path(path).name} is not one of the class names {names} ({source}): "
            "name it among the classes, or fix normal_class in the sidecar"
        )
    return sidecar.model_copy(update={"class_names": names, "normal_class": normal})


def _check_binary(detector: Detector) -> None:
    """A one-unit detector is a sigmoid binary detector whose normal side is first (see `auditor.detector.sidecar`)."""
    if not detector.binary:
        return
    name, sidecar = detector.model_path.name, detector.sidecar
    if detector.output_activation != "sigmoid":
        raise ModelError(
            f"{name} has one output unit with activation {detector.output_activation!r}: auditor reads a "
            "one-unit output as a binary detector's sigmoid; give its last Dense layer activation='sigmoid'"
        )
    if sidecar.normal_class != detector.class_names[0]:
        raise ModelError(
            f"{name} is a binary detector: its first class name is the normal side (probability 1 - p), so "
            f"normal_class must be {detector.class_names[0]!r}, not {sidecar.normal_class!r}; reorder class_names"
        )
    if sidecar.threshold < 0.5:
        raise ModelError(
            f"threshold {sidecar.threshold} in {sidecar_path(detector.model_path).name} is below 0.5: a binary "
            "detector raises an alert when the anomaly is the more likely side and its probability reaches "
            "the threshold, so it could not take effect; set a threshold between 0.5 and 1"
        )


def _check_clip_length(detector: Detector) -> None:
    """The sidecar's `frames_per_clip`, when set, repeats a fixed clip length."""
    fixed, stated = detector.frames_per_clip, detector.sidecar.frames_per_clip
    if fixed is not None and stated is not None and stated != fixed:
        raise ModelError(
            f"{sidecar_path(detector.model_path).name} sets frames_per_clip {stated} but {detector.model_path.name} "
            f"takes clips of {fixed} frames; remove frames_per_clip or set it to {fixed}"
        )
