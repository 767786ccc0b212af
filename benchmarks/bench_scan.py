"""Scan cost: frames per second of `scan_video` against the per-frame CNN alone, and peak memory.

Mode `speed` (default) prints, from one run on this machine, for the demo detector (64², T=16)
and a TimeDistributed VGG19 → GRU → Dense (224², T=16, weights=None):
  decode alone   frames/s of decoding the video (open_stream), nothing else
  cnn alone      frames/s of Detector.frame_features over the video's frames (batch 16)
  scan (reuse)   frames/s of scan_video at stride 1 (decode + CNN once per frame + head per window)
  recompute      frames/s when every window runs its 16 frames through the CNN again (measured
                 on a few windows and scaled: the per-window cost times the windows of the video)
and the ratios scan / cnn (goal ≥ 0.8) and scan / recompute. The scan decodes in a background
thread while the model runs, so it cannot beat the slower of decoding and the CNN.

Mode `memory` scans a synthetic video of N frames and one of 10·N frames (640×480), each in a
fresh process, and prints each one's peak resident memory, VmHWM (goal: flat).

    python benchmarks/bench_scan.py [--frames 800] [--vgg-frames 48]
    python benchmarks/bench_scan.py --mode memory [--frames 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.scan.sliding import ScanSettings, scan_video, window_length
from auditor.video import open_stream, read_video


def synthetic_video(path: Path, frames: int, size: tuple[int, int] = (240, 320)) -> Path:
    """A moving bright square on noise, written one frame at a time (MJPG): any length, little memory."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (size[1], size[0]))
    for t in range(frames):
        image = rng.integers(0, 60, (*size, 3), dtype=np.uint8)
        x = (t * 3) % (size[1] - 40)
        image[100:140, x : x + 40] = 230
        writer.write(image)
    writer.release()
    return path


def vgg_detector(folder: Path, frames: int = 16, size: int = 224) -> Detector:
    from auditor._tensorflow import keras

    cnn = keras.applications.VGG19(include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")
    inputs = keras.Input((frames, size, size, 3))
    x = keras.layers.GRU(64)(keras.layers.TimeDistributed(cnn)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    path = folder / "vgg19_td_gru.keras"
    model.save(path)
    return load_detector(path, class_names=["normal", "fight", "fall"])


def speed(detector: Detector, video: Path, label: str) -> None:
    frames = read_video(video).frames
    length = window_length(detector)
    detector.frame_features(frames[:16])  # trace once, outside the timings
    detector.window_probabilities(detector.frame_features(frames[:length])[np.newaxis])
    started = time.perf_counter()
    with open_stream(video) as stream:
        decoded = sum(1 for _ in stream)
    decode = decoded / (time.perf_counter() - started)
    started = time.perf_counter()
    detector.frame_features(frames)
    cnn = len(frames) / (time.perf_counter() - started)
    started = time.perf_counter()
    result = scan_video(video, detector, ScanSettings(stride=1))
    scan = len(frames) / (time.perf_counter() - started)
    probe = min(4, result.windows)
    started = time.perf_counter()
    for start in range(probe):
        detector.window_probabilities(detector.frame_features(frames[start : start + length])[np.newaxis])
    per_window = (time.perf_counter() - started) / probe
    recompute = len(frames) / (per_window * result.windows)
    print(f"{label}: {len(frames)} frames, {result.windows} windows, {len(result.detections)} detections")
    print(f"  decode alone  {decode:8.1f} frames/s")
    print(f"  cnn alone     {cnn:8.1f} frames/s")
    print(f"  scan (reuse)  {scan:8.1f} frames/s   scan / cnn = {scan / cnn:.2f}  (goal ≥ 0.8)")
    print(f"  recompute     {recompute:8.1f} frames/s   scan / recompute = {scan / recompute:.1f}×")


def peak_memory_of_scan(video: Path) -> float:
    """Peak resident memory (MiB) of a fresh process that scans `video` with the demo detector."""
    code = (
        "import sys; from pathlib import Path\n"
        "from auditor.demo import demo_model_path; from auditor.detector import load_detector\n"
        "from auditor.scan.sliding import scan_video\n"
        "scan_video(Path(sys.argv[1]), load_detector(demo_model_path()))\n"
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(video)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024  # VmHWM (kB): this process's own peak, not inherited at exec


def memory(frames: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for count in (frames, 10 * frames):
            video = synthetic_video(Path(tmp) / f"v{count}.avi", count, size=(480, 640))
            print(f"scan of {count:6d} frames (640×480): peak RSS {peak_memory_of_scan(video):7.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("speed", "memory"), default="speed")
    parser.add_argument("--frames", type=int, default=800)
    parser.add_argument("--vgg-frames", type=int, default=48)
    args = parser.parse_args()
    if args.mode == "memory":
        memory(args.frames)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        speed(load_detector(demo_model_path()), synthetic_video(folder / "demo.avi", args.frames), "demo detector (64², T=16)")
        video = synthetic_video(folder / "vgg.avi", args.vgg_frames)
        speed(vgg_detector(folder), video, "TD(VGG19) → GRU (224², T=16)")


if __name__ == "__main__":
    main()
