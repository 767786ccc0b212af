"""Gradient × input per frame (DESIGN §2, "Frame importance"): Σ_{i,j,c} x[t,i,j,c] · ∂y/∂x[t,i,j,c]."""

from __future__ import annotations

import numpy as np

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
    label="Gradient × input",
    description=(
        "an estimate of how much that score would fall if the frame were blanked out; bars below the line mean "
        "the frame speaks against the label."
    ),
    limitation=(
        "Gradient × input is a first-order estimate: it can be wrong where the model responds non-linearly, "
        "and it compares each frame with a blank frame, which never occurs in real video."
    ),
    needs_input_grads=True,
)
