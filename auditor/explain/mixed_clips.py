"""Scoring clips whose frames are each the frame as the model saw it, its removed copy, or a mix
of the two by a pixel mask, re-running the per-frame CNN only on the mixed frames.

The CNN sees each frame alone, so a clip's per-frame features are those of its frames: a frame left
untouched has the features of the original clip, a frame removed entirely those of its removed
copy (each computed once, when first needed; the clip's may come from the explanation's own pass).
Only a frame with some but not all of its pixels removed goes through the CNN, once per distinct
mask of that frame; every clip is then a window of features scored by the layers above the CNN.
Faithfulness curves (frames removed by a blur) and what-if region edits (areas blurred) both score
their clips this way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol

import numpy as np

Source = tuple[Literal["kept", "gone", "mixed"], int, bytes]  # a frame's features: kind, position, packed mask


class FeatureDetector(Protocol):
    """What scoring mixed clips needs of a detector (`auditor.detector.Detector` has it)."""

    def frame_features(self, frames: np.ndarray) -> np.ndarray: ...
    def window_logits(self, features: np.ndarray) -> np.ndarray: ...
    def probabilities(self, logits: np.ndarray) -> np.ndarray: ...


class MixedClips:
    """Probabilities of clips given by masks of removed units: (T, H, W) pixels or (T,) frames.

    Features are kept across calls: the clip's own (given, or computed once), each removed frame's
    and each distinct partly removed frame's (computed when first needed). `frames_through_cnn`
    counts frames given to `frame_features`, `calls` its calls and those of `window_logits`; at
    most `chunk` frames (or windows) go into one call.
    """

    def __init__(
        self, detector: FeatureDetector, frames: np.ndarray, removed: np.ndarray,
        features: np.ndarray | None = None, chunk: int = 64,
    ):
        self.detector, self.frames, self.removed, self.chunk = detector, frames, removed, chunk
        self.frames_through_cnn = self.calls = 0
        self._kept = None if features is None else np.asarray(features)
        self._computed: dict[Source, np.ndarray] = {}  # ("gone", t, b"") and ("mixed", t, packed mask)

    def probabilities(self, masks: Iterable[np.ndarray]) -> np.ndarray:
        """(N, n_classes) for N masks (True: removed); masks are read once each, in order."""
        plans = [self._plan(np.asarray(mask, dtype=bool)) for mask in masks]
        self._compute({source for plan in plans for source in plan if source[0] != "kept"} - set(self._computed))
        windows = [np.stack([self._feature(source) for source in plan]) for plan in plans]
        logits = [self._run_logits(np.stack(windows[i : i + self.chunk])) for i in range(0, len(windows), self.chunk)]
        return np.asarray(self.detector.probabilities(np.concatenate(logits)))

    def kept(self) -> np.ndarray:
        """Per-frame features of the frames as seen."""
        if self._kept is None:
            self._kept = self._features(self.frames)
        return self._kept

    @staticmethod
    def _plan(mask: np.ndarray) -> list[Source]:
        """Where each frame's features come from: kept, removed whole, or mixed by its mask."""
        plan: list[Source] = []
        for t, frame_mask in enumerate(mask):
            if not frame_mask.any():
                plan.append(("kept", t, b""))
            elif frame_mask.all():
                plan.append(("gone", t, b""))
            else:
                plan.append(("mixed", t, np.packbits(frame_mask).tobytes()))
        return plan

    def _feature(self, source: Source) -> np.ndarray:
        return self.kept()[source[1]] if source[0] == "kept" else self._computed[source]

    def _compute(self, sources: set[Source]) -> None:
        """Features of the removed and partly removed frames not computed yet, in chunks."""
        todo = sorted(sources)
        for start in range(0, len(todo), self.chunk):
            batch = todo[start : start + self.chunk]
            for source, row in zip(batch, self._features(np.stack([self._frame(s) for s in batch])), strict=True):
                self._computed[source] = row

    def _frame(self, source: Source) -> np.ndarray:
        kind, t, packed = source
        if kind == "gone":
            return self.removed[t]
        height, width = self.frames.shape[1:3]
        bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=height * width).reshape(height, width, 1)
        return np.where(bits.astype(bool), self.removed[t], self.frames[t])

    def _features(self, frames: np.ndarray) -> np.ndarray:
        self.frames_through_cnn += len(frames)
        self.calls += 1
        return np.asarray(self.detector.frame_features(frames))

    def _run_logits(self, windows: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(self.detector.window_logits(windows))
