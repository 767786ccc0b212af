"""The frames a report may show: the recorded frames with bystanders' faces masked when the
deployment profile asks for it (`mask_faces`, on by default). Every picture of a report is drawn
from these, never from the recorded frames: the explanation is computed on the unmasked frames."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from auditor.video.masking import Box, FaceMasking, find_faces, mask_faces, spread_in_time


@dataclass(frozen=True)
class ShownFrames:
    """The frames to show, the faces found in them, and the boxes masked (each face also in the
    frame before and after it, `masking.spread_in_time`); None when masking is switched off."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    masking: FaceMasking | None
    masked: FaceMasking | None = None
    recorded: np.ndarray | None = None  # the frames the faces were looked for in

    @classmethod
    def of(cls, recorded: np.ndarray, mask: bool) -> ShownFrames:
        """The recorded frames, faces masked when `mask`."""
        if not mask:
            return cls(recorded, None)
        found = find_faces(recorded)
        masked = spread_in_time(found)
        return cls(mask_faces(recorded, masked) if found.count else recorded, found, masked, recorded)

    def edited(self, frame: np.ndarray, position: int) -> np.ndarray:
        """An edited copy of the frame at `position`, masked where that frame had faces and where
        faces are found in the edited frame itself (an edit may bring in another frame's)."""
        if self.masking is None:
            return frame
        masked = self.masked or self.masking
        found = self._faces_in(frame, self.masking)
        boxes = tuple(dict.fromkeys(masked.boxes[position] + found))
        return mask_faces(frame[np.newaxis], replace(masked, boxes=(boxes,)))[0]

    def _faces_in(self, frame: np.ndarray, masking: FaceMasking) -> tuple[Box, ...]:
        """The faces of `frame`: those found already when it is one of the recorded frames (an
        edit that replaces the key frame by another), else looked for in it."""
        recorded = () if self.recorded is None else self.recorded
        same = next((t for t, other in enumerate(recorded) if np.array_equal(frame, other)), None)
        return masking.boxes[same] if same is not None else find_faces(frame[np.newaxis], masking.settings).boxes[0]
