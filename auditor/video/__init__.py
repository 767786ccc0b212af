"""Video: what a container says (`container`), frames as a stream with exact indices, presentation
times, sampling and where decoding stopped (`stream`, which explains these), decoded clips
(`clip`), and positions as people write them (`timecode`)."""

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
