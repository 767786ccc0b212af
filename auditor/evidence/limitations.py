"""The known limitations a report states (checklist item 12), as codes with their numbers and
names; the report words them for a non-expert (`auditor.report.record_words`)."""

from __future__ import annotations

from auditor.evidence.model import Limitations, Note
from auditor.explain import ClipExplanation

MAP_METHODS = ("gradcam", "saliency")  # the maps every report shows


def limitations_of(explanation: ClipExplanation) -> Limitations:
    """What the model and the explanation methods of this report cannot show."""
    frames, height, width = explanation.frames.shape[:3]
    model = [
        Note(code="limitation.training_data"),
        Note(code="limitation.score_not_likelihood"),
        Note(code="limitation.input_size", params={"frames": int(frames), "width": int(width), "height": int(height)}),
        Note(code="limitation.no_identity_or_intent"),
    ]
    methods = [
        Note(code="limitation.heatmaps_not_why"),
        *(method_limitation(name) for name in MAP_METHODS),
        Note(code="limitation.per_clip_scale"),
        *_frame_importance_limitations(explanation),
        Note(code="limitation.logit_not_probability", params={"class_name": explanation.target_name}),
    ]
    return Limitations(model=model, methods=methods)


def method_limitation(name: str) -> Note:
    """The limitation of the explanation method `name`, worded by its descriptor."""
    return Note(code="limitation.method", params={"method": name})


def _frame_importance_limitations(explanation: ClipExplanation) -> list[Note]:
    """Each frame-importance method's own limitation; and, when no frame was edited, that too."""
    notes = [method_limitation(name) for name in explanation.frame_importance]
    if not any(result.edited_probabilities is not None for result in explanation.frame_importance.values()):
        notes.append(Note(code="limitation.no_occlusion"))
    return notes
