"""The compiled passes of a detector: the per-frame features of any number of frames, the logits
of windows of features, and, per target layer, the maps and their gradients (with or without dy/dx),
of the clip itself or of its T static clips (frame t repeated T times, all T in one pass).

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
    static_without_input_gradient: Callable  # (frames, target) -> the T static clips' dy/dA at position t
    static_with_input_gradient: Callable  # (frames, target) -> the same and dy/dx, from one tape


def head_logits(head: keras.Model, final: keras.layers.Layer) -> Logits:
    """Windows of per-frame features (N,T,...) -> logits (N, n_classes): the head, then the final
    Dense layer without its activation (a one-unit sigmoid z gives [0, z], see auditor.detector.sidecar)."""
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

    static_without, static_with = (
        _static_pass(split, logits_of, chosen, signature, with_input) for with_input in (False, True)
    )

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

    return Passes(
        split, maps_without_input_gradient, maps_with_input_gradient, compiled_logits, static_without, static_with
    )


def _static_pass(split: Split, logits_of: Logits, chosen: Callable, signature: list, with_input: bool) -> Callable:
    """The T static clips of one clip (static clip t: frame t repeated T times) in one pass.

    The CNN sees each frame alone, so static clip t has the maps A[t] and features F[t] at every
    position: the encoder and `upper` run once on the T frames, the head on the T windows W[t] = F[t]
    repeated. g[t] = ∂y_t/∂W[t, t] (y_t: the target logit of static clip t, only position t taken);
    its VJP through `upper` (and the encoder) gives each static clip's dy/dA (and dy/dx) at position
    t. The target is the explained class of the clip itself (target < 0: its predicted class).
    """
    encoder, upper = split.encoder, split.upper

    def position_gradients(features: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(the clip's logits, the explained class, g (T, ...) = ∂y_t/∂W[t, t] for every t)."""
        logits = logits_of(features[tf.newaxis])[0]
        index = chosen(logits, target)
        count = features.shape[0] or tf.shape(features)[0]  # static when the model's T is fixed
        windows = tf.repeat(features[:, tf.newaxis], count, axis=1)
        with tf.GradientTape() as tape:
            tape.watch(windows)
            score = tf.reduce_sum(tf.gather(logits_of(windows), index, axis=1))
        positions = tf.range(count)
        return logits, index, tf.gather_nd(tape.gradient(score, windows), tf.stack([positions, positions], axis=1))

    @tf.function(input_signature=signature)
    def static_clips(x: tf.Tensor, target: tf.Tensor) -> dict:
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            if with_input:
                tape.watch(x)
            maps = encoder(x, training=False)
            tape.watch(maps)
            features = upper(maps, training=False)
        logits, index, position_grad = position_gradients(features, target)
        sources = [maps, x] if with_input else [maps]
        grads = tape.gradient(features, sources, output_gradients=position_grad)
        input_grad = grads[1] if with_input else tf.zeros((0,))
        return {"index": index, "logits": logits, "maps": maps, "features": features,
                "maps_grad": grads[0], "input_grad": input_grad}

    return static_clips

