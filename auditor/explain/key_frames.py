"""The key frames of an explanation: the frames the report shows large and the trust checks
look at (people, motion pictures). They are the frames the key-frame method ranks highest (the
Grad-CAM share), else the frames with the most Grad-CAM mass."""

from __future__ import annotations

import numpy as np

from auditor.explain import FRAME_IMPORTANCE, ClipExplanation

KEY_FRAME_COUNT = 4


def key_frames(explanation: ClipExplanation, count: int = KEY_FRAME_COUNT) -> list[int]:
    """The `count` positions ranked highest, in clip order; ties go to the earlier frame."""
    values = _basis(explanation)
    order = sorted(range(len(values)), key=lambda t: (-values[t], t))
    return sorted(order[: min(count, len(values))])


def _basis(explanation: ClipExplanation) -> list[float]:
    for name, result in explanation.frame_importance.items():
        if FRAME_IMPORTANCE[name].selects_key_frames:
            return [float(v) for v in result.values]
    first = explanation.maps.get("gradcam")
    if first is None:
        first = next(iter(explanation.maps.values()))
    mass = np.asarray(first, dtype=np.float64).sum(axis=(1, 2))
    return [round(float(v), 6) for v in mass]
