"""Older records in today's shape, where the shape changed: schema 1.x kept Grad-CAM mass,
gradient x input and frame occlusion in fields of their own; 2.0 holds every frame-importance
method in one list. (Records before 2.7 keep their English sentences: the models accept them.)"""

from __future__ import annotations

from typing import Any

from auditor.explain import FRAME_IMPORTANCE

EDIT_FIELDS = ("position", "replaced_by", "predicted_class", "predicted_probability", "flagged")  # `FrameEdit`


def migrate_frame_importance(explanations: dict[str, Any]) -> dict[str, Any]:
    """A schema 1.x `explanations` section with its frame importance in the 2.0 form."""
    old = dict(explanations)
    rows = [_row("gradcam_share", old.pop("frame_importance")["values"])]
    occlusion, gradient = old.pop("occlusion", None), old.pop("gradient_x_input", None)
    if occlusion:
        edits = [{k: f[k] for k in EDIT_FIELDS} for f in occlusion["frames"]]
        rows.append(_row("occlusion", [f["score_drop"] for f in occlusion["frames"]], edits))
    if gradient:
        rows.append(_row("gradient_x_input", gradient["values"]))
    return {**old, "frame_importance": rows}


def _row(name: str, values: list[float], edits: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One method's row; its label and description are the report's (`auditor.report.record_words`)."""
    return {"method": name, "signed": FRAME_IMPORTANCE[name].signed, "values": values, "edits": edits}
