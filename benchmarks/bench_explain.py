"""Explanation cost on the paper's shape: TimeDistributed(VGG19) → GRU → Dense, T=16, 224×224.

Mode `cost` (default) prints, from one run on this machine, the median wall time of:
  forward        the model's plain forward pass, compiled with tf.function
  fwd+bwd        one forward + one full backward pass (dy/dx) on one tape, compiled
  gradcam        Detector.gradients(..., input_grads=False)   (what Grad-CAM alone costs)
  gradcam+sal    Detector.gradients(..., input_grads=True)    (both maps from one tape)
  naive          eager mode, one tape per method, each through the whole model
  occlusion      frame occlusion given one pass: the layers above the CNN on a batch of T+1 clips
  grad×input     gradient × input per frame given one pass (the input gradients are already there)
  frame scores   both frame scores given one pass
and the ratios the foundation issue sets targets for.

Mode `first-clip` prints, for a TimeDistributed MobileNetV2 (α 0.35, 112²) and a TimeDistributed
VGG19 (224²), each → GRU → Dense softmax, T=16, weights=None: the time to load the detector, its
first explanation (Detector.explain, default methods, one clip), the steady-state explanation
(median of --repeats further clips), first / steady (goal ≤ 3), and the throughput of
Detector.frame_features at batch 16 (when the detector has it).

    python benchmarks/bench_explain.py [--frames 16] [--size 224] [--repeats 3]
    python benchmarks/bench_explain.py --mode first-clip [--frames 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from auditor._tensorflow import keras, tf
from auditor.detector import Detector, load_detector
from auditor.explain.gradient_input import gradient_x_input
from auditor.explain.occlusion import occlusion


def build_model(frames: int, size: int) -> keras.Model:
    """TimeDistributed(VGG19 without top, avg pooling) → GRU → Dense softmax."""
    cnn = keras.applications.VGG19(include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")
    inputs = keras.Input((frames, size, size, 3))
    x = keras.layers.GRU(64)(keras.layers.TimeDistributed(cnn)(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def build_mobilenet_model(frames: int, size: int) -> keras.Model:
    """TimeDistributed(MobileNetV2 α 0.35 without top) → TimeDistributed(pooling) → GRU → Dense softmax.
    MobileNetV2 branches, so its output map is the Grad-CAM target; the pooling follows it."""
    cnn = keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights=None, input_shape=(size, size, 3))
    inputs = keras.Input((frames, size, size, 3))
    x = keras.layers.TimeDistributed(cnn)(inputs)
    x = keras.layers.GRU(64)(keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # trace / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive_explanation(detector: Detector, x: tf.Tensor, target: int) -> None:
    """The usual way: eager, a separate tape through the whole model for each method."""
    split = detector._passes(detector.layer_name).split
    logits_of = detector._head_logits
    frames = x[0]

    def score_of(maps: tf.Tensor) -> tf.Tensor:
        return logits_of(split.upper(maps, training=False)[tf.newaxis])[0, target]

    with tf.GradientTape() as tape:
        maps = split.encoder(frames, training=False)
        score = score_of(maps)
    tape.gradient(score, maps).numpy()
    with tf.GradientTape() as tape:
        tape.watch(frames)
        score = score_of(split.encoder(frames, training=False))
    tape.gradient(score, frames).numpy()


def first_clip(name: str, model: keras.Model, frames: int, size: int, repeats: int) -> None:
    """Load, first explanation, steady explanation and frame_features throughput of one model."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        start = time.perf_counter()
        detector = load_detector(path)
        load = time.perf_counter() - start
    clips = np.random.default_rng(1).integers(0, 256, (repeats + 1, frames, size, size, 3), dtype=np.uint8)
    start = time.perf_counter()
    detector.explain(clips[0])
    first = time.perf_counter() - start
    steady = []
    for clip in clips[1:]:
        start = time.perf_counter()
        detector.explain(clip)
        steady.append(time.perf_counter() - start)
    median = statistics.median(steady)
    print(f"{name}, T={frames}, {size}x{size}, layer {detector.layer_name}")
    print(f"  load_detector      {load:8.2f} s")
    print(f"  first explain      {first:8.2f} s")
    print(f"  steady explain     {median:8.2f} s   (median of {repeats})")
    print(f"  first / steady     {first / median:8.2f}     (goal <= 3)")
    print(f"  (load+first)/steady {(load + first) / median:7.2f}")
    if not hasattr(detector, "frame_features"):
        print("  frame_features     n/a (this version has no Detector.frame_features)")
        return
    batch = clips[1:3].reshape(-1, size, size, 3)  # 2 clips' frames, in 2T / 16 batches
    seconds = median_seconds(lambda: detector.frame_features(batch, batch_size=16), repeats)
    print(f"  frame_features     {len(batch) / seconds:8.1f} frames/s  (batch 16)")


def first_clip_mode(frames: int, repeats: int) -> None:
    keras.utils.set_random_seed(0)
    first_clip("MobileNetV2(a=0.35)-TD-GRU", build_mobilenet_model(frames, 112), frames, 112, repeats)
    keras.utils.set_random_seed(0)
    first_clip("VGG19-TD-GRU", build_model(frames, 224), frames, 224, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("cost", "first-clip"), default="cost")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "first-clip":
        first_clip_mode(args.frames, args.repeats)
        return

    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vgg19_td_gru.keras"
        build_model(args.frames, args.size).save(path)
        detector = load_detector(path)
    frames = np.random.default_rng(0).integers(0, 256, (args.frames, args.size, args.size, 3), dtype=np.uint8)
    x = tf.constant(detector.preprocess(frames)[None])
    model = detector.model

    forward = tf.function(lambda inputs: model(inputs, training=False))

    @tf.function
    def forward_backward(inputs: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = model(inputs, training=False)[0, 0]
        return tape.gradient(score, inputs)

    timings = {
        "forward": median_seconds(lambda: forward(x).numpy(), args.repeats),
        "fwd+bwd": median_seconds(lambda: forward_backward(x).numpy(), args.repeats),
        "gradcam": median_seconds(lambda: detector.gradients(frames, 0, input_grads=False), args.repeats),
        "gradcam+sal": median_seconds(lambda: detector.gradients(frames, 0, input_grads=True), args.repeats),
        "naive": median_seconds(lambda: naive_explanation(detector, x, 0), args.repeats),
    }
    gradients = detector.gradients(frames, 0, input_grads=True)
    # a fresh copy each time: the batch of edited clips is cached on the pass it belongs to
    timings["occlusion"] = median_seconds(lambda: occlusion(replace(gradients)), args.repeats)
    timings["grad×input"] = median_seconds(lambda: gradient_x_input(gradients), args.repeats)
    timings["frame scores"] = median_seconds(
        lambda: (occlusion(fresh := replace(gradients)), gradient_x_input(fresh)), args.repeats
    )
    print(f"VGG19-TD-GRU, T={args.frames}, {args.size}x{args.size}, weights=None, "
          f"median of {args.repeats}, layer {detector.layer_name}")
    for name, seconds in timings.items():
        print(f"  {name:<12} {seconds:9.4f} s")
    print(f"  gradcam / forward            {timings['gradcam'] / timings['forward']:.3f}   (target <= 1.15)")
    print(f"  gradcam+sal / fwd+bwd        {timings['gradcam+sal'] / timings['fwd+bwd']:.3f}   (target <= 1.10)")
    print(f"  naive / gradcam+sal          {timings['naive'] / timings['gradcam+sal']:.2f}x  (target >= 2)")
    print(f"  frame scores / gradcam+sal   {timings['frame scores'] / timings['gradcam+sal']:.4f}")


if __name__ == "__main__":
    main()
