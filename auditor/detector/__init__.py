"""Keras model adapter, one concern per module:

- `loading`: model files and sidecars (`load_detector`, Keras 2 recognition);
- `anatomy`: taking the model apart (the TimeDistributed CNN, its per-frame steps, the head, the
  final Dense layer) and rebuilding it, without TimeDistributed, around one target layer;
- `passes`: the compiled tf.functions (the per-frame CNN on a batch of frames; the logits of
  windows of per-frame features; per target layer, maps and their gradients, with or without dy/dx);
- `front`: the `Detector` that prepares clips and turns one detector pass into a `ClipExplanation`;
- `sidecar`: the JSON beside a model file (class names, preprocessing, provenance); it imports no
  TensorFlow, so the names below load lazily and `auditor.detector.sidecar` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.detector.front import Detector
    from auditor.detector.loading import MODEL_SUFFIXES, h5_text, load_detector, looks_like_keras2

__all__ = ["MODEL_SUFFIXES", "Detector", "h5_text", "load_detector", "looks_like_keras2"]
_HOME = {"Detector": "front", "MODEL_SUFFIXES": "loading", "h5_text": "loading", "load_detector": "loading",
         "looks_like_keras2": "loading"}


def __getattr__(name: str) -> Any:
    """Import TensorFlow (through `front` and `loading`) only when a name of theirs is asked for."""
    if name not in _HOME:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"auditor.detector.{_HOME[name]}"), name)
