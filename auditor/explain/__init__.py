"""Explanation methods, one module each, registered by name in METHODS."""

from auditor.explain import gradcam, saliency
from auditor.explain.base import Explanation, Gradients, Method

METHODS: dict[str, Method] = {m.name: m for m in (gradcam.METHOD, saliency.METHOD)}
DEFAULT_METHODS: tuple[str, ...] = ("gradcam", "saliency")

__all__ = ["METHODS", "DEFAULT_METHODS", "Explanation", "Gradients", "Method"]
