"""The compiled passes of a detector: the per-frame features of any number of frames, the logits
of windows of features, and, per target layer, the maps and their gradients (with or without dy/dx).

Every function has an input signature with the frame (or window) count left open, so each is
traced once per detector (per target layer for the maps), whatever the clip length or batch size;
the per-frame CNN runs on the frames as one batch (see `anatomy`), so a trace holds one copy of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from auditor._tensorflow import keras, tf
from auditor.detector.anatomy import Split

Logits = Callable[[tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class Passes:
    """The compiled functions of one target layer; each maps pass returns a dict of one clip's index
    (the explained class), logits (n,), maps and maps_grad (T,h,w,K), features (T,...) and input_grad."""

    split: Split
    maps_without_input_gradient: Callable  # (frames (T,H,W,C), target) -> logits, maps, features, dy/dA
    maps_with_input_gradient: Callable  # (frames, target) -> the same and dy/dx, from one tape
    logits_of_features: Callable  # windows of features (N,T,...) -> logits (N, n_classes); shared by all layers


def head_logits(head: keras.Model, final: keras.layers.Layer) -> Logits:
    """Windows of per-frame features (N,T,...) -> logits (N, n_classes): the head, then the final
    Dense layer without its activation (a one-unit sigmoid z gives [0, z], see auditor.sidecar)."""
    kernel, bias = final.kernel, final.bias
    binary = kernel.shape[-1] == 1

    def logits_of(features: tf.Tensor) -> tf.Tensor:
        logits = tf.matmul(head(features, training=False), kernel)
        logits = logits + bias if bias is not None else logits
        return tf.concat([tf.zeros_like(logits), logits], axis=-1) if binary else logits

    return logits_of


def compile_logits(logits_of: Logits, features_shape: tuple) -> Callable:
    """`logits_of` compiled for any number of windows of shape `features_shape` (T, ...)."""
    return tf.function(logits_of, input_signature=[tf.TensorSpec((None, *features_shape), tf.float32)])


def compile_frames(frame_cnn: keras.Model) -> Callable:
    """The per-frame CNN compiled for any number of preprocessed frames (N,H,W,C) -> (N,...)."""
    spec = tf.TensorSpec((None, *frame_cnn.input.shape[1:]), tf.float32)
    return tf.function(lambda frames: frame_cnn(frames, training=False), input_signature=[spec])


def compile_passes(split: Split, logits_of: Logits, compiled_logits: Callable, clip_length: int | None) -> Passes:
    """Grad-CAM only (tape from A up) and Grad-CAM + saliency (one tape from x) over one clip of
    preprocessed frames (T,H,W,C), T fixed or, for a model of unfixed T, any length."""
    encoder, upper = split.encoder, split.upper
    signature = [
        tf.TensorSpec((clip_length, *encoder.input.shape[1:]), tf.float32),
        tf.TensorSpec((), tf.int32),
    ]

    def chosen(logits: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        return tf.where(target < 0, tf.argmax(logits, output_type=tf.int32), target)

    @tf.function(input_signature=signature)
    def maps_without_input_gradient(x: tf.Tensor, target: tf.Tensor) -> dict:
        """One tape from the target layer's maps up: dy/dA only (input_grad is an empty stand-in)."""
        maps = encoder(x, training=False)
        with tf.GradientTape() as tape:
            tape.watch(maps)
            features = upper(maps, training=False)
            logits = logits_of(features[tf.newaxis])[0]
            index = chosen(logits, target)
            score = tf.gather(logits, index)
        maps_grad, input_grad = tape.gradient(score, maps), tf.zeros((0,))
        return {"index": index, "logits": logits, "maps": maps, "features": features,
                "maps_grad": maps_grad, "input_grad": input_grad}

    @tf.function(input_signature=signature)
    def maps_with_input_gradient(x: tf.Tensor, target: tf.Tensor) -> dict:
        """One tape from the input x: dy/dA and dy/dx together."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            maps = encoder(x, training=False)
            features = upper(maps, training=False)
            logits = logits_of(features[tf.newaxis])[0]
            index = chosen(logits, target)
            score = tf.gather(logits, index)
        maps_grad, input_grad = tape.gradient(score, [maps, x])
        return {"index": index, "logits": logits, "maps": maps, "features": features,
                "maps_grad": maps_grad, "input_grad": input_grad}

    return Passes(split, maps_without_input_gradient, maps_with_input_gradient, compiled_logits)

