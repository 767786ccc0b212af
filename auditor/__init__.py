"""auditor: signed, reviewable evidence reports for the decisions of video anomaly detectors."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("auditor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

if TYPE_CHECKING:
    from auditor.detector import Detector, load_detector

__all__ = ["Detector", "load_detector", "__version__"]


def __getattr__(name: str) -> Any:
    """Import the detector (and TensorFlow) only when it is asked for."""
    if name in ("Detector", "load_detector"):
        from auditor import detector

        return getattr(detector, name)
    raise AttributeError(name)
