"""Import TensorFlow and Keras once, keeping their start-up noise off the user's terminal.

TensorFlow's C++ runtime writes oneDNN and CUDA-driver lines straight to file descriptor 2,
which `TF_CPP_MIN_LOG_LEVEL` does not fully silence; the import runs with that descriptor
pointed at /dev/null. Every module imports `tf` and `keras` from here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
with _native_stderr_silenced():
    import keras
    import tensorflow as tf

    tf.constant(0.0) + 1.0  # the first op initialises the devices, which logs again

tf.get_logger().setLevel("ERROR")

__all__ = ["keras", "tf"]
