"""Keras model adapter, one concern per module:

- `loading`: model files and sidecars (`load_detector`, Keras 2 recognition);
- `anatomy`: taking the model apart (the TimeDistributed CNN, its per-frame steps, the head, the
  final Dense layer) and rebuilding it, without TimeDistributed, around one target layer;
- `passes`: the compiled tf.functions (the per-frame CNN on a batch of frames; the logits of
  windows of per-frame features; per target layer, maps and their gradients, with or without dy/dx);
- `front`: the `Detector` that prepares clips and turns one detector pass into a `ClipExplanation`.
"""

from auditor.detector.front import Detector
from auditor.detector.loading import MODEL_SUFFIXES, h5_text, load_detector, looks_like_keras2

__all__ = ["MODEL_SUFFIXES", "Detector", "h5_text", "load_detector", "looks_like_keras2"]
