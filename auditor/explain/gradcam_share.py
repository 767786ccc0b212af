"""Grad-CAM share per frame: the part of the clip's Grad-CAM activation that each frame holds.

The report's key frames are the frames with the largest share.
"""

from __future__ import annotations

import numpy as np

from auditor.explain import methods
from auditor.explain.base import DetectorPass, FrameImportance, FrameImportanceMethod
from auditor.explain.gradcam import gradcam


def gradcam_share(detector_pass: DetectorPass) -> FrameImportance:
    """Each frame's Grad-CAM mass over the clip's, float32 (T,) summing to 1 (all 0 for an empty map)."""
    mass = gradcam(detector_pass).sum(axis=(1, 2), dtype=np.float64)
    total = mass.sum()
    return FrameImportance((mass / total if total > 0 else mass).astype(np.float32))


METHOD = FrameImportanceMethod(
    name="gradcam_share",
    compute=gradcam_share,
    label=methods.GRADCAM_SHARE.label,
    description=methods.GRADCAM_SHARE.description,
    limitation=methods.GRADCAM_SHARE.limitation,
    signed=False,
    selects_key_frames=True,
)
