"""The frames a report may show: the recorded frames with bystanders' faces masked when the
deployment profile asks for it (`mask_faces`, on by default). Every picture of a report is drawn
from these, never from the recorded frames: the explanation is computed on the unmasked frames."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from auditor.masking import FaceMasking, find_faces, mask_faces


@dataclass(frozen=True)
class ShownFrames:
    """The frames to show, and the faces found in them (None when masking is switched off)."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    masking: FaceMasking | None

    @classmethod
    def of(cls, recorded: np.ndarray, mask: bool) -> ShownFrames:
        """The recorded frames, faces masked when `mask`."""
        if not mask:
            return cls(recorded, None)
        masking = find_faces(recorded)
        return cls(mask_faces(recorded, masking) if masking.count else recorded, masking)

    def edited(self, frame: np.ndarray, position: int) -> np.ndarray:
        """An edited copy of the frame at `position`, masked where that frame had faces and where
        faces are found in the edited frame itself (an edit may bring in another frame's)."""
        if self.masking is None:
            return frame
        found = find_faces(frame[np.newaxis], self.masking.settings).boxes[0]
        boxes = tuple(dict.fromkeys(self.masking.boxes[position] + found))
        return mask_faces(frame[np.newaxis], replace(self.masking, boxes=(boxes,)))[0]
