"""The record `auditor scan` writes for each flagged stretch of a video (JSON Lines, one per line),
and what its names may hold: a camera, class or file name goes into records, the batch index and
report folder names, so a control or invisible character, or an overlong name, is refused."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Sequence
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from auditor.names import Sha256

DETECTION_FORMAT: Final = "auditor-detection/1"
MAX_FRAME: Final = 2**31 - 1
MAX_SECONDS: Final = 1e9  # 31 years of recording
MAX_LABEL_CHARS: Final = 200  # a camera or source id, a class or model name
MAX_PATH_CHARS: Final = 4096
_UNSHOWABLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, invisible formats (bidi), lone surrogates, line breaks


def text_problem(text: str, limit: int = MAX_LABEL_CHARS) -> str | None:
    """Why `text` may not name a camera, class or file in a record, an index or a folder name (a
    control or invisible character such as NUL, a newline or a bidi override, or more than `limit`
    characters); None if it may."""
    if len(text) > limit:
        return f"is {len(text)} characters long, more than the {limit} allowed"
    bad = next((char for char in text if unicodedata.category(char) in _UNSHOWABLE), None)
    return None if bad is None else f"holds the control or invisible character U+{ord(bad):04X}"


def shown(text: str, limit: int = 60) -> str:
    """`text` quoted for a one-line message: control characters escaped, cut after `limit` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _plain(limit: int) -> AfterValidator:
    def check(text: str) -> str:
        problem = text_problem(text, limit)
        if problem is not None:
            raise ValueError(problem)
        return text

    return AfterValidator(check)


Label = Annotated[str, _plain(MAX_LABEL_CHARS)]


class Detection(BaseModel):
    """One flagged stretch of a video: the best window of overlapping flagged windows of one class
    (`first_frame`..`last_frame`, its score), the span they cover together, and where decoding of
    the file stopped when it did not reach the end the file states."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    format: Literal["auditor-detection/1"] = DETECTION_FORMAT
    video: Annotated[str, _plain(MAX_PATH_CHARS)]
    video_sha256: Sha256
    source_id: Label | None = None
    first_frame: int = Field(ge=0, le=MAX_FRAME)
    last_frame: int = Field(ge=0, le=MAX_FRAME)
    start_seconds: float = Field(ge=0, le=MAX_SECONDS)
    end_seconds: float = Field(ge=0, le=MAX_SECONDS)
    class_name: Label
    score: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    model_name: Label
    model_sha256: Sha256
    windows: int = Field(1, ge=1)
    span_first_frame: int = Field(ge=0, le=MAX_FRAME)
    span_last_frame: int = Field(ge=0, le=MAX_FRAME)
    decoding_stopped: str | None = Field(None, max_length=300)

    @property
    def detection_id(self) -> str:
        """A short id that names this detection on any machine (video, model, window, class)."""
        key = f"{self.video_sha256}:{self.model_sha256}:{self.first_frame}:{self.class_name}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def detections_jsonl(detections: Sequence[Detection]) -> str:
    """Detections as JSON Lines, one object per line, keys in a fixed order."""
    return "".join(json.dumps(d.model_dump(mode="json"), ensure_ascii=False) + "\n" for d in detections)
