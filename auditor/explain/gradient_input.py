"""Gradient × input per frame (DESIGN §2, "Frame importance"): Σ_{i,j,c} x[t,i,j,c] · ∂y/∂x[t,i,j,c]."""

from __future__ import annotations

import numpy as np

from auditor.explain.base import DetectorPass, FrameMethod


def gradient_x_input(gradients: DetectorPass) -> np.ndarray:
    """Signed gradient × input mass of each frame, float32 (T,).

    x is the model input after preprocessing. The value is the first-order estimate of how much
    y would fall if frame t were replaced by the all-zero input; positive = the frame supports
    the class. Summed in float64 so that the many signed terms do not lose precision.
    """
    if gradients.input_grads is None:
        raise ValueError("gradient × input needs the gradient with respect to the input")
    products = gradients.inputs.astype(np.float64) * gradients.input_grads
    return products.sum(axis=tuple(range(1, products.ndim))).astype(np.float32)


METHOD = FrameMethod(
    name="gradient_x_input",
    compute=gradient_x_input,
    needs_input_grads=True,
    label="gradient × input",
    summary=(
        "Gradient × input: an estimate of how much the score of the flagged class would fall if this "
        "frame were blanked out (set to an all-zero model input); positive means the frame supports the flag."
    ),
)
