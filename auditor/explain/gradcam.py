"""Per-frame Grad-CAM (DESIGN §2): weights are averaged over space only, never over time."""

from __future__ import annotations

import numpy as np

from auditor.explain.base import DetectorPass, Method


def gradcam_pre_relu(detector_pass: DetectorPass) -> np.ndarray:
    """Σ_k α[t,k]·A[t,:,:,k] with α[t,k] = mean_ij ∂y/∂A[t,i,j,k]; shape (T, h, w)."""
    weights = detector_pass.activation_grads.mean(axis=(1, 2), keepdims=True)
    return (weights * detector_pass.activations).sum(axis=-1, dtype=np.float32)


def gradcam(detector_pass: DetectorPass) -> np.ndarray:
    """Raw per-frame Grad-CAM, ReLU of the weighted map sum; float32 (T, h, w), not normalised."""
    return np.maximum(gradcam_pre_relu(detector_pass), 0.0).astype(np.float32)


METHOD = Method(
    name="gradcam",
    compute=gradcam,
    needs_input_grads=False,
)
