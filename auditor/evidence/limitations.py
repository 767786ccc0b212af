"""The known limitations a report states (checklist item 12), worded for a non-expert."""

from __future__ import annotations

from auditor.evidence.model import Limitations
from auditor.explain import FRAME_IMPORTANCE, ClipExplanation


def limitations_of(explanation: ClipExplanation) -> Limitations:
    """What the model and the explanation methods of this report cannot show."""
    frames, height, width = explanation.frames.shape[:3]
    model = [
        ("The model learned from a limited set of example videos. It can miss events and can flag "
        "harmless scenes, especially with lighting, camera angles or crowds unlike its training data."),
        "The probability is the model's own score, not a measured likelihood that the event happened.",
        (f"The model saw only {frames} frames scaled down to {width}x{height} pixels; small or distant "
        "details may be lost."),
        "The model does not identify people and cannot judge intent or context outside the clip.",
    ]
    methods = [
        ("Heatmaps show where the model's features supported its score, not why the event happened; "
        "they can highlight background or context."),
        ("Grad-CAM is computed on a coarse grid of the model's internal feature map and enlarged to "
        "the frame: its outlines are approximate."),
        "Saliency maps are noisy and change with small pixel changes; read them as a rough guide.",
        ("Heatmap colours and contour levels are scaled per clip: frames of this clip can be compared "
        "with each other, not with other reports."),
        *_frame_importance_limitations(explanation),
        (f"The explanations follow the pre-activation score (logit) of the class "
        f"'{explanation.target_name}', not its probability."),
    ]
    return Limitations(model=model, methods=methods)


def _frame_importance_limitations(explanation: ClipExplanation) -> list[str]:
    """Each frame-importance method's own limitation; and, when no frame was edited, that too."""
    methods = [FRAME_IMPORTANCE[name] for name in explanation.frame_importance]
    notes = [method.limitation for method in methods]
    if not any(result.edited_probabilities is not None for result in explanation.frame_importance.values()):
        notes.append("Whether removing a frame would change the decision (frame occlusion) was not computed.")
    return notes
