"""Video: what a container says (`container`), frames as a stream (`stream`), decoded clips
(`clip`), and positions as people write them (`timecode`).

- **Indices** are counted: frame i is the i-th frame that decodes (0-based), whatever its container
  claims. Frames before a stream's start are decoded with `grab` and dropped, never converted or
  kept, so reaching minute 59 holds nothing of minutes 0–58.
- **Times** are the container's presentation times (`CAP_PROP_POS_MSEC` read after each grab:
  the frame's PTS, measured from the stream's start), so variable frame rates and dropped frames
  show as they were recorded; a container that gives none falls back to index / fps.
- **Sampling** (`Sampling`) picks the frames a model sees: every k-th decoded frame, or about f
  frames per second by presentation time. Its phase begins at the stream's first frame.
- **The end**: decoding stops at the first frame that does not decode. `DecodeEnd` says where,
  and whether that is before the end the container states (a truncated or partly corrupt file):
  everything that decodes is used, and the report says where decoding stopped.
"""

from auditor.video.clip import Clip, read_video, write_video
from auditor.video.container import (
    FFMPEG_QUIET,
    VideoInfo,
    VideoLength,
    check_video_path,
    count_frames,
    decodes_through,
    frame_at,
    probe_video,
    stated_end_decodes,
    video_length,
)
from auditor.video.stream import EVERY_FRAME, DecodeEnd, Frame, FrameStream, Sampling, decode_end, open_stream
from auditor.video.timecode import TIME_FORMS, format_time, parse_time

__all__ = [
    "EVERY_FRAME", "FFMPEG_QUIET", "TIME_FORMS", "Clip", "DecodeEnd", "Frame", "FrameStream", "Sampling", "VideoInfo",
    "VideoLength", "check_video_path", "count_frames", "decode_end", "decodes_through", "format_time", "frame_at",
    "open_stream", "parse_time", "probe_video", "read_video", "stated_end_decodes", "video_length", "write_video",
]
