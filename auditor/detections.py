"""The record `auditor scan` writes for each flagged stretch of a video (JSON Lines, one per line)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

DETECTION_FORMAT: Final = "auditor-detection/1"


class Detection(BaseModel):
    """One flagged stretch of a video: the best window of overlapping flagged windows of one class
    (`first_frame`..`last_frame`, its score), the span they cover together, and where decoding of
    the file stopped when it did not reach the end the file states."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor-detection/1"] = DETECTION_FORMAT
    video: str
    video_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    source_id: str | None = None
    first_frame: int = Field(ge=0)
    last_frame: int = Field(ge=0)
    start_seconds: float = Field(ge=0)
    end_seconds: float = Field(ge=0)
    class_name: str
    score: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    model_name: str
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    windows: int = Field(1, ge=1)
    span_first_frame: int = Field(ge=0)
    span_last_frame: int = Field(ge=0)
    decoding_stopped: str | None = None

    @property
    def detection_id(self) -> str:
        """A short id that names this detection on any machine (video, model, window, class)."""
        key = f"{self.video_sha256}:{self.model_sha256}:{self.first_frame}:{self.class_name}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def detections_jsonl(detections: Sequence[Detection]) -> str:
    """Detections as JSON Lines, one object per line, keys in a fixed order."""
    return "".join(json.dumps(d.model_dump(mode="json"), ensure_ascii=False) + "\n" for d in detections)
