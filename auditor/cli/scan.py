"""`auditor scan`: slide the detector over whole videos and list the flagged windows (JSON Lines)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.cli.output import check_label, class_names, escaped, progress_bar

if TYPE_CHECKING:
    from auditor.scan.detections import Detection

DETECTIONS_HELP = "Write the detections here (JSON Lines; default: stdout)."

@click.command("scan")
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=click.Path(path_type=Path), required=True,
              help="Keras .keras or .h5 detector; its sidecar JSON is read from beside it.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help=DETECTIONS_HELP)
@click.option("--stride", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="Sampled frames between the starts of two windows.")
@click.option("--classes", help="Comma-separated class names (overrides the sidecar).")
@click.option("--source-id", help="Camera or source id to record with every detection.")
def scan_command(
    videos: tuple[Path, ...], model_path: Path, out: Path | None, stride: int, classes: str | None,
    source_id: str | None,
) -> None:
    """Slide the detector's window over each VIDEO and list the flagged detections.

    Each sampled frame goes through the per-frame CNN once; overlapping flagged windows of one
    class merge into one detection (the best window kept). The output, JSON Lines, feeds
    `auditor report --detections`.
    """
    from auditor.files import atomic_write_text
    from auditor.scan.detections import MAX_PATH_CHARS, detections_jsonl
    from auditor.video import probe_video

    for video in videos:
        check_label(str(video), "VIDEO", MAX_PATH_CHARS)
    if source_id is not None:
        check_label(source_id, "--source-id")
    infos = [probe_video(video) for video in videos]
    if out is not None:
        _check_output_file(out)
    from auditor.detector import load_detector  # TensorFlow: after the quick checks
    from auditor.scan.sliding import ScanSettings, scan_video

    detector = load_detector(model_path, class_names=class_names(classes))
    found: list[Detection] = []
    for info in infos:
        with progress_bar(info.name, info.frame_count, "frames") as update:
            show = (lambda done, n, u=update: u(done, f"{n} detections")) if update else None
            result = scan_video(info.path, detector, ScanSettings(stride=stride), source_id, show)
        if result.decode_end is not None and not result.decode_end.complete:
            click.echo(escaped(f"auditor: {info.name}: {result.decode_end.describe()}"), err=True)
        click.echo(escaped(f"{info.name}: {len(result.detections)} detections in {result.windows} windows"), err=True)
        found.extend(_relative_to(d, out) for d in result.detections)
    text = detections_jsonl(found)
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        click.echo(escaped(f"{len(found)} detections written to {out}"), err=True)


def _check_output_file(out: Path) -> None:
    """ArchiveError, before any video is decoded, unless the file `out` can be written: its folder
    exists and you can write in it (the file is written only at the end of the scan; click
    refuses a folder given as --out)."""
    from auditor.errors import ArchiveError

    folder = out.absolute().parent
    if folder.exists() and not folder.is_dir():
        raise ArchiveError(f"cannot write --out {out}: {folder} is a file, not a folder; choose another place")
    if not folder.is_dir():
        raise ArchiveError(f"cannot write --out {out}: the folder {folder} does not exist; create it first or choose another place")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ArchiveError(f"cannot write --out {out}: you cannot write in {folder}; choose a folder where you can")


def _relative_to(detection: Detection, out: Path | None) -> Detection:
    """The detection with its video path relative to the folder of `out` (where it is read back)
    when the video lies below that folder, else absolute."""
    base = Path(out).absolute().parent if out is not None else Path.cwd()
    video = Path(detection.video).absolute()
    shown = os.path.relpath(video, base) if video.is_relative_to(base) else str(video)
    return detection.model_copy(update={"video": shown})

COMMANDS = [scan_command]
