"""The installed auditor's version, in one leaf module every stage may import."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("auditor")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0+source"
