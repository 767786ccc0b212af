"""The compiled passes over a model rebuilt around one target layer (see `anatomy`): the target
layer's maps and their gradients (with or without dy/dx), and the logits of edited clips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from auditor._tensorflow import keras, tf
from auditor.detector.anatomy import Split


@dataclass(frozen=True)
class Passes:
    """The compiled functions of one target layer; each pass returns the dict `_record` makes."""

    split: Split
    maps_without_input_gradient: Callable  # (x, target) -> logits, maps, features, dy/dA
    maps_with_input_gradient: Callable  # (x, target) -> the same and dy/dx, from one tape
    logits_of_features: Callable  # F for N clips (N,T,...) -> logits (N, n_classes)


def compile_passes(split: Split, final: keras.layers.Layer) -> Passes:
    """Three tf.functions: Grad-CAM only (tape from A up), Grad-CAM + saliency (one tape from x),
    and the logits of a batch of per-frame feature sequences (no tape).

    The time axis is never relaxed: Keras 3's TimeDistributed maps over the batch axis when the
    time axis is dynamic, so a model of unfixed T is traced once per clip length; a model of fixed
    T is traced once, and `logits_of_features` accepts any batch size.
    """
    encoder, upper, head = split.encoder, split.upper, split.head
    kernel, bias = final.kernel, final.bias
    binary = kernel.shape[-1] == 1  # a one-unit sigmoid z has logits [0, z] (see auditor.sidecar)

    def logits_of(features: tf.Tensor) -> tf.Tensor:
        logits = tf.matmul(head(features, training=False), kernel)
        logits = logits + bias if bias is not None else logits
        return tf.concat([tf.zeros_like(logits), logits], axis=-1) if binary else logits

    def chosen(logits: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        return tf.where(target < 0, tf.argmax(logits[0], output_type=tf.int32), target)

    @tf.function
    def maps_without_input_gradient(x: tf.Tensor, target: tf.Tensor) -> dict:
        """One tape from the target layer's maps up: dy/dA only (input_grad is an empty stand-in)."""
        maps = encoder(x, training=False)
        with tf.GradientTape() as tape:
            tape.watch(maps)
            features = upper(maps, training=False)
            logits = logits_of(features)
            index = chosen(logits, target)
            score = tf.gather(logits[0], index)
        maps_grad, input_grad = tape.gradient(score, maps), tf.zeros((1, 0))
        return _record(index, logits=logits, maps=maps, features=features, maps_grad=maps_grad, input_grad=input_grad)

    @tf.function
    def maps_with_input_gradient(x: tf.Tensor, target: tf.Tensor) -> dict:
        """One tape from the input x: dy/dA and dy/dx together."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            maps = encoder(x, training=False)
            features = upper(maps, training=False)
            logits = logits_of(features)
            index = chosen(logits, target)
            score = tf.gather(logits[0], index)
        maps_grad, input_grad = tape.gradient(score, [maps, x])
        return _record(index, logits=logits, maps=maps, features=features, maps_grad=maps_grad, input_grad=input_grad)

    features_shape = tuple(head.input.shape[1:])
    signature = [tf.TensorSpec((None, *features_shape), tf.float32)] if features_shape[0] is not None else None
    return Passes(
        split, maps_without_input_gradient, maps_with_input_gradient, tf.function(logits_of, input_signature=signature)
    )


def _record(index: tf.Tensor, **batched: tf.Tensor) -> dict:
    """The chosen class index and every batched output without its batch axis."""
    return {"index": index, **{name: value[0] for name, value in batched.items()}}
