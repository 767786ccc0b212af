"""Frame occlusion (DESIGN §2, "Frame importance"): y(x) − y(x with frame t replaced by its neighbour).

The neighbour of frame t is frame t−1, and frame 1 for frame 0. The CNN inside TimeDistributed
sees each frame alone, so replacing frame t by its neighbour replaces the CNN's per-frame
features at t by the neighbour's: the edited clips are scored exactly by running only the layers
above the CNN, once, on one batch (the unedited clip and the T edited ones).
"""

from __future__ import annotations

import numpy as np

from auditor.errors import VideoError
from auditor.explain.base import FrameMethod, Gradients


def neighbours(count: int) -> np.ndarray:
    """The frame that replaces frame t, for t = 0 … count−1: t−1, and 1 for t = 0."""
    if count < 2:
        raise VideoError(
            f"frame occlusion replaces each frame by a neighbour, so it needs a clip of at least 2 frames; "
            f"this clip has {count}: leave 'occlusion' out of the frame-importance methods"
        )
    index = np.arange(count) - 1
    index[0] = 1
    return index


def occluded_logits(gradients: Gradients) -> np.ndarray:
    """Logits of the unedited clip (row 0) and of the clip with frame t replaced by its neighbour
    (row t+1), all scored in one batch; float64 (T+1, n_classes)."""
    features, score = gradients.frame_features, gradients.logits_from_features
    if features is None or score is None:
        raise ValueError("occlusion needs the per-frame features and the function that scores them")
    count = features.shape[0]
    edited = np.repeat(features[np.newaxis], count + 1, axis=0)
    edited[np.arange(1, count + 1), np.arange(count)] = features[neighbours(count)]
    return np.asarray(score(edited), dtype=np.float64)


def occlusion(gradients: Gradients) -> np.ndarray:
    """Drop of the target logit when each frame is replaced by its neighbour, float32 (T,).

    Positive = the frame supports the class more than its neighbour does; 0 when the neighbour
    is identical. The unedited score is recomputed in the same batch as the edited ones.
    """
    scores = occluded_logits(gradients)[:, gradients.target_index]
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
