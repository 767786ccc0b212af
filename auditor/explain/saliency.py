"""Per-frame gradient saliency (DESIGN §2): S[t,i,j] = max_c |∂y/∂x[t,i,j,c]|."""

from __future__ import annotations

import numpy as np

from auditor.explain.base import DetectorPass, Method


def saliency(detector_pass: DetectorPass) -> np.ndarray:
    """Raw saliency, float32 (T, H, W), at the model's input resolution, not normalised."""
    if detector_pass.input_grads is None:
        raise ValueError("saliency needs the gradient with respect to the input")
    return np.abs(detector_pass.input_grads).max(axis=-1).astype(np.float32)


METHOD = Method(
    name="saliency",
    compute=saliency,
    needs_input_grads=True,
)
