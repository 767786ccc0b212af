"""Libraries' warnings and log lines stay off the user's terminal unless `--debug`.

A user sees auditor's own lines only: on a fresh install `cryptography` warns that DSA is
deprecated each time pyHanko is imported (in every worker process too), and a Dask cluster logs
thirty-odd `distributed.*` lines while it starts and stops. The settings are also put in the
environment, so worker processes started by `--workers N` or a local Dask cluster inherit them.
"""

from __future__ import annotations

import logging
import os
import warnings

QUIET_ENVIRONMENT = ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL", "PYTHONWARNINGS", "DASK_LOGGING__DISTRIBUTED")
LIBRARY_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "distributed", "tornado", "asyncio", "fontTools", "weasyprint")


def quiet_libraries(debug: bool) -> None:
    """Unless `debug`: ignore Python warnings, keep library loggers below CRITICAL and OpenCV's and
    FFmpeg's own lines off stderr, here and in the processes this one starts. Call it before the
    libraries are imported (OpenCV reads its settings when imported and when it opens a video)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "INFO" if debug else "FATAL")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "32" if debug else "-8")  # AV_LOG_INFO / AV_LOG_QUIET
    if debug:
        return
    warnings.simplefilter("ignore")
    os.environ["PYTHONWARNINGS"] = "ignore"
    os.environ["DASK_LOGGING__DISTRIBUTED"] = "critical"  # read by dask.config when distributed is imported
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
