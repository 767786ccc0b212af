"""The record's clip section (schema 2.6): the explained window with a few seconds of context, as
a video browsers play (`clip.webm`), and the same frames with the Grad-CAM overlay on the window
(`clip-heatmap.webm`), with where the clip lies in the original recording.

Times named `*_seconds` without `source_` are clip time: frame n of the clip starts at n / fps.
None in records before 2.6 and when no clip was written.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.evidence.note import Note, Sentence
from auditor.names import RelativePath, Sha256


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClipKeyFrame(_Record):
    """A key frame of the explanation in the clip."""

    position: int = Field(ge=0)  # index into input.frame_indices (explanations.key_frames)
    seconds: float = Field(ge=0)  # clip time of that frame


class ClipRecord(_Record):
    """The clip files, their SHA-256, and how the clip maps onto the recording and the window."""

    path: RelativePath
    heatmap_path: RelativePath
    sha256: Sha256
    heatmap_sha256: Sha256
    media_type: Literal["video/webm"] = "video/webm"
    encoder: Note | Annotated[Sentence, Field(max_length=200)]  # 2.7: "spec.encoder.vp9_webm" {quality, kbps}
    source_file: str  # the recording's file name (input.file_name)
    source_first_frame: int = Field(ge=0)  # index in the recording of the clip's first frame
    source_start_seconds: float = Field(ge=0)  # presentation time in the recording of the clip's first frame
    duration_seconds: float = Field(gt=0)
    fps: float = Field(gt=0)  # the recording's nominal rate: every decoded frame is played at it
    frame_count: int = Field(ge=1)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    window_start_seconds: float = Field(ge=0)
    window_end_seconds: float = Field(gt=0)
    key_frames: list[ClipKeyFrame]
    faces_masked: bool
