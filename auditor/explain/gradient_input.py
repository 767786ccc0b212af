"""Gradient × input per frame (DESIGN §2, "Frame importance"): Σ_{i,j,c} x[t,i,j,c] · ∂y/∂x[t,i,j,c]."""

from __future__ import annotations

import numpy as np

from auditor.explain import methods
from auditor.explain.base import DetectorPass, FrameImportance, FrameImportanceMethod


def gradient_x_input(detector_pass: DetectorPass) -> FrameImportance:
    """Signed gradient × input mass of each frame, float32 (T,).

    x is the model input after preprocessing. The value is the first-order estimate of how much
    y would fall if frame t were replaced by the all-zero input; positive = the frame supports
    the class. Summed in float64 so that the many signed terms do not lose precision.
    """
    if detector_pass.input_grads is None:
        raise ValueError("gradient × input needs the gradient with respect to the input")
    products = detector_pass.inputs.astype(np.float64) * detector_pass.input_grads
    return FrameImportance(products.sum(axis=tuple(range(1, products.ndim))).astype(np.float32))


METHOD = FrameImportanceMethod(
    name="gradient_x_input",
    compute=gradient_x_input,
    label=methods.GRADIENT_X_INPUT.label,
    description=methods.GRADIENT_X_INPUT.description,
    limitation=methods.GRADIENT_X_INPUT.limitation,
    needs_input_grads=True,
)
