"""Explanation methods, one module each: map methods in METHODS, frame-importance methods in
FRAME_IMPORTANCE. A new method is one new module plus one line here."""

from auditor.explain import gradcam, gradcam_share, gradient_input, occlusion, saliency
from auditor.explain.base import (
    ClipExplanation,
    DetectorPass,
    FrameImportance,
    FrameImportanceMethod,
    Method,
)

METHODS: dict[str, Method] = {m.name: m for m in (gradcam.METHOD, saliency.METHOD)}
DEFAULT_METHODS: tuple[str, ...] = ("gradcam", "saliency")

FRAME_IMPORTANCE: dict[str, FrameImportanceMethod] = {
    m.name: m for m in (gradcam_share.METHOD, occlusion.METHOD, gradient_input.METHOD)
}
DEFAULT_FRAME_IMPORTANCE: tuple[str, ...] = ("gradcam_share", "occlusion", "gradient_x_input")


def frame_importance_for(frames: int, names: tuple[str, ...] = DEFAULT_FRAME_IMPORTANCE) -> tuple[str, ...]:
    """The methods among `names` that can measure a clip of `frames` frames."""
    return tuple(name for name in names if frames >= FRAME_IMPORTANCE[name].min_frames)

__all__ = [
    "DEFAULT_FRAME_IMPORTANCE",
    "DEFAULT_METHODS",
    "FRAME_IMPORTANCE",
    "METHODS",
    "ClipExplanation",
    "DetectorPass",
    "FrameImportance",
    "FrameImportanceMethod",
    "Method",
    "frame_importance_for",
]
