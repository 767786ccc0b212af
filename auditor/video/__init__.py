"""Video: what a container says (`container`), frames as a stream with exact indices, presentation
times, sampling and where decoding stopped (`stream`, which explains these), decoded clips
(`clip`), a file held open while it is hashed and decoded (`held`), and positions as people write
them (`timecode`)."""

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
from auditor.video.held import HeldVideo, held_video, video_sha256
from auditor.video.stream import EVERY_FRAME, DecodeEnd, Frame, FrameStream, Sampling, decode_end, open_stream
from auditor.video.timecode import TIME_FORMS, clock_time, format_time, parse_time

__all__ = [
    "EVERY_FRAME", "FFMPEG_QUIET", "TIME_FORMS", "Clip", "DecodeEnd", "Frame", "FrameStream", "HeldVideo", "Sampling",
    "VideoInfo", "VideoLength", "check_video_path", "clock_time", "count_frames", "decode_end", "decodes_through", "format_time",
    "frame_at", "held_video", "open_stream", "parse_time", "probe_video", "read_video", "stated_end_decodes",
    "video_length", "video_sha256", "write_video",
]
