"""The sidecar JSON that travels next to a model file: class names, preprocessing, provenance.

For `model.keras` the sidecar is `model.json` in the same folder, for example::

    {
      "format": "auditor-sidecar/1",
      "name": "demo-anomaly-detector",
      "version": "1.0.0",
      "class_names": ["normal", "fight", "fall"],
      "normal_class": "normal",
      "preprocessing": "unit",
      "threshold": 0.5,
      "target_layer": null,
      "frames_per_clip": null,
      "sample_every": 1,
      "sample_fps": null,
      "model_card": "MODEL_CARD.md",
      "provenance": {}
    }

`class_names` name the model's outputs in order, each once; `normal_class` (one of them) is the
class that never raises an alert. `preprocessing` is one of: "unit" (float RGB in [0, 1]),
"caffe" (VGG/ResNet: BGR, ImageNet mean subtracted), "tf" (RGB in [-1, 1]), "torch" (RGB in
[0, 1], ImageNet mean/std). `target_layer` names the layer Grad-CAM explains (null: the last
spatial map of the CNN). `frames_per_clip` is the clip length (frames) the model was trained on:
required for a model that takes clips of any length (input `(None, None, H, W, 3)`), which is
never run on a whole video; for a model of fixed clip length it may only repeat that length.

How the detector takes its clips. A clip is `frames_per_clip` frames (or the model's fixed clip
length) sampled from the video as the model was trained: `sample_every` k takes every k-th decoded
frame (1: every frame; a 16-frame clip with k = 3 spans 46 frames of the video), `sample_fps` f
takes about f frames per second, chosen by the frames' presentation times (a variable frame rate
or dropped frames do not change the clip's pace; a video slower than f gives every frame). Give
one of the two, not both. Sampling begins at the clip's first frame; the report states it.

Binary detectors. A model whose final Dense layer has one unit with a sigmoid scores one thing,
the anomaly: p = sigmoid(z) is the probability that the clip shows it. It has two class names,
the normal side first (`class_names` of length 2; default ["normal", "anomaly"]; `normal_class`,
if given, must be the first), and probabilities [1 - p, p]. Its logits are taken as [0, z]:
softmax([0, z]) = [1 - p, p] exactly, so the anomaly's logit is the model's own z, and Grad-CAM,
saliency and frame importance explain z by default, whichever side is more likely (the normal
side's logit is the constant 0 and has no gradient). A clip raises an alert when the anomaly is
the more likely side and p reaches the threshold, so a binary detector's threshold is at least 0.5.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from auditor.errors import ModelError, first_problem
from auditor.explain.base import DecisionRule
from auditor.video import Sampling

Preprocessing = Literal["unit", "caffe", "tf", "torch"]
SIDECAR_FORMAT: Final = "auditor-sidecar/1"


class Sidecar(BaseModel):
    """What the model file itself does not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor-sidecar/1"] = SIDECAR_FORMAT
    name: str = "unnamed-model"
    version: str = "unversioned"
    class_names: list[str] | None = None
    normal_class: str | None = None
    preprocessing: Preprocessing = "unit"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    target_layer: str | None = None
    frames_per_clip: int | None = Field(None, ge=1)
    sample_every: int = Field(1, ge=1)
    sample_fps: float | None = Field(None, gt=0)
    model_card: str | None = None
    provenance: dict[str, object] = Field(default_factory=dict)

    @property
    def decision_rule(self) -> DecisionRule:
        """The alert rule this sidecar states."""
        return DecisionRule(self.threshold, self.normal_class)

    @property
    def sampling(self) -> Sampling:
        """Which decoded frames the detector's clips are made of."""
        return Sampling(every=self.sample_every, fps=self.sample_fps)

    @field_validator("class_names")
    @classmethod
    def _class_names_differ(cls, names: list[str] | None) -> list[str] | None:
        problem = class_names_problem(names) if names is not None else None
        if problem:
            raise PydanticCustomError("class_names", problem)
        return names

    @model_validator(mode="after")
    def _normal_class_is_known(self) -> Sidecar:
        if self.normal_class and self.class_names and self.normal_class not in self.class_names:
            raise PydanticCustomError("normal_class", f"normal_class {self.normal_class!r} is not one of class_names")
        return self

    @model_validator(mode="after")
    def _one_sampling(self) -> Sidecar:
        if self.sample_fps is not None and self.sample_every != 1:
            raise PydanticCustomError(
                "sampling", "sample_every and sample_fps are both set; give one of them (every k-th frame or a frame rate)"
            )
        return self


def class_names_problem(names: Sequence[str]) -> str | None:
    """What is wrong with a list of class names (an empty or repeated name), or None."""
    if any(not name.strip() for name in names):
        return "a class name is empty; give every class a name"
    repeated = next((name for name in names if names.count(name) > 1), None)
    if repeated is not None:
        return f"{repeated!r} is named twice; give each class its own name"
    return None


def sidecar_path(model_path: Path) -> Path:
    """Where the sidecar of `model_path` lives: same folder, same stem, `.json`."""
    model_path = Path(model_path)
    return model_path.with_suffix(".json")


def read_sidecar(model_path: Path) -> Sidecar:
    """The sidecar of `model_path`, or defaults when there is none."""
    path = sidecar_path(model_path)
    if not path.is_file():
        return Sidecar(name=Path(model_path).stem)
    try:
        return Sidecar.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"sidecar {path} is not valid JSON ({exc}); fix or remove it") from exc
    except ValidationError as exc:
        raise ModelError(f"sidecar {path}: {first_problem(exc, 'sidecar')}; see the format in auditor/sidecar.py") from exc
