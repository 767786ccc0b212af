"""Explanation cost on the paper's shape: TimeDistributed(VGG19) → GRU → Dense, T=16, 224×224.

Prints, from one run on this machine, the median wall time of:
  forward        the model's plain forward pass, compiled with tf.function
  fwd+bwd        one forward + one full backward pass (dy/dx) on one tape, compiled
  gradcam        Detector.gradients(..., input_grads=False)   (what Grad-CAM alone costs)
  gradcam+sal    Detector.gradients(..., input_grads=True)    (both maps from one tape)
  naive          eager mode, one tape per method, each through the whole model
  occlusion      frame occlusion given one pass: the layers above the CNN on a batch of T+1 clips
  grad×input     gradient × input per frame given one pass (the input gradients are already there)
  frame scores   both frame scores given one pass
and the ratios the foundation issue sets targets for.

    python benchmarks/bench_explain.py [--frames 16] [--size 224] [--repeats 3]
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
    cnn = keras.applications.VGG19(include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")
    inputs = keras.Input((frames, size, size, 3))
    x = keras.layers.GRU(64)(keras.layers.TimeDistributed(cnn)(inputs))
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
    final = detector._final

    def score_of(maps: tf.Tensor) -> tf.Tensor:
        features = split.head(split.upper(maps, training=False), training=False)
        return (tf.matmul(features, final.kernel) + final.bias)[0, target]

    with tf.GradientTape() as tape:
        maps = split.encoder(x, training=False)
        score = score_of(maps)
    tape.gradient(score, maps).numpy()
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = score_of(split.encoder(x, training=False))
    tape.gradient(score, x).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

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
