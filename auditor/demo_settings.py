"""The demo's choices, in a leaf module so that the CLI offers them without loading OpenCV or TensorFlow.

`CLASS_NAMES` are the kinds of clip `auditor.synthetic` draws, which are also the demo detector's
classes in its output order.
"""

CLASS_NAMES = ("normal", "fight", "fall")
DEMO_LABEL = "fight"  # the incident the demo generates unless told otherwise
DEMO_SEED = 2026
