"""Scoring clips whose frames are each the frame as the model saw it, its removed copy, or a mix
of the two by a pixel mask, re-running the per-frame CNN only on the mixed frames.

The CNN sees each frame alone, so a clip's per-frame features are those of its frames: a frame left
untouched has the features of the original clip, a frame removed entirely those of its removed
copy (each computed once, or taken from the explanation's own pass). Only a frame with some but not
all of its pixels removed goes through the CNN, once per distinct mask of that frame; every clip is
then a window of features scored by the layers above the CNN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np


class FeatureDetector(Protocol):
    """What scoring mixed clips needs of a detector (`auditor.detector.Detector` has it)."""

    def frame_features(self, frames: np.ndarray) -> np.ndarray: ...
    def window_logits(self, features: np.ndarray) -> np.ndarray: ...
    def probabilities(self, logits: np.ndarray) -> np.ndarray: ...


class MixedClips:
    """Probabilities of clips given by masks of removed units: (T, H, W) pixels or (T,) frames.

    `frames_through_cnn` counts frames given to `frame_features`, `calls` its calls and those of
    `window_logits`; at most `chunk` frames (or windows) go into one call.
    """

    def __init__(
        self, detector: FeatureDetector, frames: np.ndarray, removed: np.ndarray,
        features: np.ndarray | None = None, chunk: int = 64,
    ):
        self.detector, self.frames, self.removed, self.chunk = detector, frames, removed, chunk
        self.frames_through_cnn = self.calls = 0
        self._kept = None if features is None else np.asarray(features)
        self._gone: np.ndarray | None = None

    def probabilities(self, masks: Iterable[np.ndarray]) -> np.ndarray:
        """(N, n_classes) for N masks (True: removed); masks are read once each, in order."""
        partial: dict[tuple[int, bytes], int] = {}
        plans = [self._plan(np.asarray(mask, dtype=bool), partial) for mask in masks]
        mixed = self._mixed_features(partial)
        kept, gone = self.kept(), self.gone()
        sources = (kept, gone, mixed)
        windows = [np.stack([sources[kind][index] for kind, index in plan]) for plan in plans]
        logits = [self._run_logits(np.stack(windows[i : i + self.chunk])) for i in range(0, len(windows), self.chunk)]
        return np.asarray(self.detector.probabilities(np.concatenate(logits)))

    def kept(self) -> np.ndarray:
        """Per-frame features of the frames as seen."""
        if self._kept is None:
            self._kept = self._features(self.frames)
        return self._kept

    def gone(self) -> np.ndarray:
        """Per-frame features of the removed frames."""
        if self._gone is None:
            self._gone = self._features(self.removed)
        return self._gone

    def _plan(self, mask: np.ndarray, partial: dict[tuple[int, bytes], int]) -> list[tuple[int, int]]:
        """Where each frame's features come from: (0, t) kept, (1, t) removed, (2, i) mixed frame i."""
        plan = []
        for t, frame_mask in enumerate(mask):
            if not frame_mask.any():
                plan.append((0, t))
            elif frame_mask.all():
                plan.append((1, t))
            else:
                key = (t, np.packbits(frame_mask).tobytes())
                plan.append((2, partial.setdefault(key, len(partial))))
        return plan

    def _mixed_features(self, partial: dict[tuple[int, bytes], int]) -> list[np.ndarray]:
        """Features of the distinct partly removed frames, in the order of their index."""
        keys = list(partial)
        shape = self.frames.shape[1:3]
        features: list[np.ndarray] = []
        for start in range(0, len(keys), self.chunk):
            batch = []
            for t, packed in keys[start : start + self.chunk]:
                bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=shape[0] * shape[1])
                batch.append(np.where(bits.reshape(*shape, 1).astype(bool), self.removed[t], self.frames[t]))
            features.extend(self._features(np.stack(batch)))
        return features

    def _features(self, frames: np.ndarray) -> np.ndarray:
        self.frames_through_cnn += len(frames)
        self.calls += 1
        return np.asarray(self.detector.frame_features(frames))

    def _run_logits(self, windows: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(self.detector.window_logits(windows))
