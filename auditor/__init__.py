"""auditor: signed, reviewable evidence reports for the decisions of video anomaly detectors."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from auditor.version import VERSION as __version__

if TYPE_CHECKING:
    from auditor.detector import Detector, load_detector
    from auditor.legacy import import_legacy_model

__all__ = ["Detector", "__version__", "import_legacy_model", "load_detector"]
_LAZY = {"Detector": "auditor.detector", "load_detector": "auditor.detector", "import_legacy_model": "auditor.legacy"}


def __getattr__(name: str) -> Any:
    """Import the detector (and TensorFlow) only when it is asked for."""
    if name not in _LAZY:
        raise AttributeError(name)
    return getattr(importlib.import_module(_LAZY[name]), name)
