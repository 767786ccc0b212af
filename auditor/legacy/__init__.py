"""Keras 2 detectors into verified Keras 3 models (`auditor import-model`).

A Keras 2 `.h5` whose `TimeDistributed` wraps a nested model does not load in Keras 3 (DESIGN §4).
The import reads the legacy model with `tf_keras` (the `legacy` extra), rebuilds its layers one by
one in Keras 3 from their configs, copies the weights layer by layer, saves the result, loads the
saved file back and runs both models on seeded random clips (and a user clip when given). It writes
the model and its sidecar only when every output agrees within the tolerance; the sidecar's
`provenance["import"]` records the hashes of both files, the tolerance and the largest difference.

One concern per module: `read` (Keras 2 files through tf_keras), `convert` (the conversion rules),
`rebuild` (the Keras 3 layers and their weights), `compare` (the outputs of both models),
`importer` (the whole import and the files it writes).
"""

from auditor.detector import looks_like_keras2
from auditor.legacy.compare import FRAMES_WHEN_UNFIXED
from auditor.legacy.convert import (
    CONVERTED_VALUES,
    DROPPABLE_KEYS,
    MODEL_CLASSES,
    RENAMED_KEYS,
    SUPPORTED_LAYERS,
    WRAPPER_CLASSES,
)
from auditor.legacy.importer import (
    DEFAULT_CLIPS,
    DEFAULT_SEED,
    DEFAULT_TOLERANCE,
    ImportResult,
    import_legacy_model,
)
from auditor.legacy.rebuild import convert_model

__all__ = [
    "CONVERTED_VALUES",
    "DEFAULT_CLIPS",
    "DEFAULT_SEED",
    "DEFAULT_TOLERANCE",
    "DROPPABLE_KEYS",
    "FRAMES_WHEN_UNFIXED",
    "MODEL_CLASSES",
    "RENAMED_KEYS",
    "SUPPORTED_LAYERS",
    "WRAPPER_CLASSES",
    "ImportResult",
    "convert_model",
    "import_legacy_model",
    "looks_like_keras2",
]
