"""Frame occlusion (DESIGN §2, "Frame importance"): y(x) − y(x with frame t replaced by its neighbour).

The neighbour of frame t is frame t−1, and frame 1 for frame 0 (`neighbours`). The CNN inside
TimeDistributed sees each frame alone, so replacing frame t by its neighbour replaces the CNN's
per-frame features at t by the neighbour's: the edited clips are scored exactly by running only
the layers above the CNN, once, on one batch (the unedited clip and the T edited ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from auditor.errors import VideoError
from auditor.explain import methods
from auditor.explain.base import DetectorPass, FrameImportance, FrameImportanceMethod


def replacements(positions: Sequence[int], count: int) -> tuple[int, ...]:
    """For each of a set of positions in a clip of `count` frames, the nearest frame outside the
    set (the earlier one on a tie): the replacement rule of occlusion and of the what-if search."""
    chosen = set(positions)
    if len(chosen) >= count:
        raise ValueError(f"cannot replace {len(chosen)} of {count} frames: no frame would be left to copy")
    outside = np.array([t for t in range(count) if t not in chosen])
    return tuple(int(outside[np.argmin(np.abs(outside - t))]) for t in positions)  # argmin: first = earlier


def neighbours(count: int) -> np.ndarray:
    """The frame that replaces frame t alone, for t = 0 … count−1 (`replacements`): t−1, and 1 for t = 0."""
    if count < 2:
        raise VideoError(
            f"frame occlusion replaces each frame by a neighbour, so it needs a clip of at least 2 frames; "
            f"this clip has {count}: leave 'occlusion' out of the frame-importance methods"
        )
    return np.array([replacements((t,), count)[0] for t in range(count)])


def neighbour_logits(detector_pass: DetectorPass) -> np.ndarray:
    """Logits of the clip (row 0) and of the clip with frame t replaced by its neighbour (row
    t+1), scored in one batch; float64 (T+1, n_classes)."""
    features, score = detector_pass.frame_features, detector_pass.logits_from_features
    if features is None or score is None:
        raise ValueError("scoring edited clips needs the per-frame features and the function that scores them")
    count = features.shape[0]
    edited = np.repeat(features[np.newaxis], count + 1, axis=0)
    edited[np.arange(1, count + 1), np.arange(count)] = features[neighbours(count)]
    return np.asarray(score(edited), dtype=np.float64)


def occlusion(detector_pass: DetectorPass) -> FrameImportance:
    """Drop of the target logit when each frame is replaced by its neighbour, float32 (T,), with
    the class probabilities of each edited clip.

    Positive = the frame supports the class more than its neighbour does; 0 when the neighbour
    is identical. The unedited score is recomputed in the same batch as the edited ones.
    """
    logits = neighbour_logits(detector_pass)
    scores = logits[:, detector_pass.target_index]
    to_probabilities = detector_pass.probabilities_from_logits
    edited = to_probabilities(logits[1:].astype(np.float32)) if to_probabilities else None
    return FrameImportance(
        values=(scores[0] - scores[1:]).astype(np.float32),
        edited_probabilities=None if edited is None else np.asarray(edited, dtype=np.float32),
        replaced_by=neighbours(len(scores) - 1),
    )


METHOD = FrameImportanceMethod(
    name="occlusion",
    compute=occlusion,
    label=methods.OCCLUSION.label,
    description=methods.OCCLUSION.description,
    limitation=methods.OCCLUSION.limitation,
    min_frames=2,
)
