"""Explanation methods, one module each: maps registered in METHODS, per-frame scores in FRAME_METHODS."""

from auditor.explain import gradcam, gradient_input, occlusion, saliency
from auditor.explain.base import DetectorPass, Explanation, FrameMethod, Method

METHODS: dict[str, Method] = {m.name: m for m in (gradcam.METHOD, saliency.METHOD)}
DEFAULT_METHODS: tuple[str, ...] = ("gradcam", "saliency")

FRAME_METHODS: dict[str, FrameMethod] = {m.name: m for m in (gradient_input.METHOD, occlusion.METHOD)}
DEFAULT_FRAME_METHODS: tuple[str, ...] = ("gradient_x_input", "occlusion")

__all__ = [
    "DEFAULT_FRAME_METHODS",
    "DEFAULT_METHODS",
    "FRAME_METHODS",
    "METHODS",
    "DetectorPass",
    "Explanation",
    "FrameMethod",
    "Method",
]
