"""Comparing a Keras 2 model with its converted Keras 3 file: both run on seeded random clips
(and a user clip when given); the largest output difference decides whether the import stands.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from auditor._tensorflow import keras, tf
from auditor.detector import Detector
from auditor.detector.sidecar import Sidecar
from auditor.errors import ModelError, VideoError
from auditor.files import sha256_file

log = logging.getLogger(__name__)

FRAMES_WHEN_UNFIXED = 16


def compare(
    legacy_model: Any, saved: Path, sidecar: Sidecar, clip: Path | str | None, seed: int, clips: int
) -> tuple[float, dict[str, object]]:
    """Largest |output difference| of the legacy model and the saved file, and what was compared."""
    converted = keras.saving.load_model(saved, compile=False)
    detector = Detector(converted, saved, sidecar, _class_names(converted, sidecar))
    frames = _seeded_clips(detector.input_shape, seed, clips)
    checks: dict[str, object] = {
        "compared": "largest |difference| of any model output (class probability) over all clips",
        "random_clips": clips, "seed": seed,
    }
    if clip:
        frames.append(_user_frames(Path(clip), detector.frames_per_clip or FRAMES_WHEN_UNFIXED))
        checks.update(user_clip=Path(clip).name, user_clip_sha256=sha256_file(Path(clip)))
    difference = max(_output_difference(legacy_model, converted, detector.preprocess(f)) for f in frames)
    log.info("legacy vs converted: max |difference| %.3g over %d clips", difference, len(frames))
    return difference, checks


def _output_difference(legacy_model: Any, converted: keras.Model, x: np.ndarray) -> float:
    """Largest |difference| of the two models' outputs on one preprocessed clip (one at a time: memory)."""
    expected = np.asarray(legacy_model(tf.constant(x[np.newaxis]), training=False), dtype=np.float64)
    actual = np.asarray(converted(x[np.newaxis], training=False), dtype=np.float64)
    if expected.shape != actual.shape:
        raise ModelError(f"the converted model outputs {actual.shape}, the legacy model {expected.shape}")
    return float(np.max(np.abs(expected - actual)))


def _class_names(model: keras.Model, sidecar: Sidecar) -> list[str]:
    outputs = int(model.outputs[0].shape[-1])
    names = sidecar.class_names or [f"class_{i}" for i in range(outputs)]
    if len(names) != outputs:
        raise ModelError(f"the model has {outputs} outputs but {len(names)} class names were given; fix --classes")
    return list(names)


def _seeded_clips(input_shape: tuple, seed: int, count: int) -> list[np.ndarray]:
    frames, height, width, channels = input_shape
    rng = np.random.default_rng(seed)
    shape = (frames or FRAMES_WHEN_UNFIXED, height, width, channels)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(count)]


def _user_frames(path: Path, frames: int) -> np.ndarray:
    from auditor.video import read_video

    video = read_video(path, max_frames=frames)
    if len(video) < frames:
        raise VideoError(f"clip {path.name} has {len(video)} frames; the model needs {frames}")
    return video.frames
