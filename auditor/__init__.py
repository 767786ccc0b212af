"""auditor: signed, reviewable evidence reports for the decisions of video anomaly detectors."""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("auditor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

if TYPE_CHECKING:
    from auditor.detector import Detector, load_detector
    from auditor.legacy import import_legacy_model

__all__ = ["Detector", "load_detector", "import_legacy_model", "__version__"]
_LAZY = {"Detector": "auditor.detector", "load_detector": "auditor.detector", "import_legacy_model": "auditor.legacy"}


def __getattr__(name: str) -> Any:
    """Import the detector (and TensorFlow) only when it is asked for."""
    if name not in _LAZY:
        raise AttributeError(name)
    return getattr(importlib.import_module(_LAZY[name]), name)
