"""Frame occlusion (DESIGN §2, "Frame importance"): y(x) − y(x with frame t replaced by its neighbour).

The neighbour of frame t is frame t−1, and frame 1 for frame 0 (`base.neighbours`). The CNN inside TimeDistributed
sees each frame alone, so replacing frame t by its neighbour replaces the CNN's per-frame
features at t by the neighbour's: the edited clips are scored exactly by running only the layers
above the CNN, once, on one batch (the unedited clip and the T edited ones).
"""

from __future__ import annotations

import numpy as np

from auditor.explain.base import DetectorPass, FrameMethod


def occlusion(gradients: DetectorPass) -> np.ndarray:
    """Drop of the target logit when each frame is replaced by its neighbour, float32 (T,).

    Positive = the frame supports the class more than its neighbour does; 0 when the neighbour
    is identical. The unedited score is recomputed in the same batch as the edited ones.
    """
    scores = gradients.neighbour_logits[:, gradients.target_index]
    return (scores[0] - scores[1:]).astype(np.float32)


METHOD = FrameMethod(
    name="occlusion",
    compute=occlusion,
    needs_input_grads=False,
    label="occlusion drop",
    summary=(
        "Occlusion: how much the score of the flagged class falls when this frame is replaced by the "
        "previous frame (the first frame by the second); positive means this frame supports the flag more "
        "than the frame that replaced it."
    ),
)
