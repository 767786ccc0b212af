"""What the report says of each explanation method, and which pictures it makes: one descriptor per
method, keyed by the code the record holds (`MethodDescriptor.name`).

The words are English msgids marked with `N_`; the report translates them where it shows them
(`auditor.i18n._`). Display, narrative and templates iterate over these descriptors instead of
naming methods, so a new method is one descriptor here plus its module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from auditor.messages import N_

Family = Literal["map", "frame_importance"]


@dataclass(frozen=True)
class MethodDescriptor:
    """One explanation method as the report presents it.

    `label` names it in headings, table columns and chart rows; `term` names it inside a sentence;
    `description` says what its picture or bar shows (after "Left:", "Each:" or its label and a colon;
    a map's may name `%(levels)s`, the contour levels); `limitation` what it cannot show. `kinds` are
    the image kinds it makes (`auditor.report.display`); `picture` is the kind of its per-frame picture.
    """

    name: str
    family: Family
    label: str
    term: str
    description: str
    limitation: str
    kinds: tuple[str, ...] = ()
    colour_map: str | None = None  # colour map of its overlay (`report.display.COLOUR_MAPS`)
    contours: bool = False  # its per-frame picture has iso-contour lines (legend: contour levels)
    display_cap_percentile: float | None = None  # values above this percentile of the clip show at full strength
    primary: bool = False  # the map that says where the attention lay (key frames, people, movement)

    @property
    def picture(self) -> str | None:
        """The image kind of its picture of every frame (None for frame-importance methods)."""
        return self.name if self.family == "map" else None


GRADCAM = MethodDescriptor(
    name="gradcam",
    family="map",
    label=N_("Grad-CAM"),
    term=N_("Grad-CAM"),
    # TRANSLATORS: follows "Left:" or "Each:" under the key frames; %(levels)s lists percentages ("25%, 50% and 75%").
    description=N_("the frame with a heatmap (warmer colours mean stronger activation) and contour lines at "
                   "%(levels)s of the clip's strongest activation."),
    limitation=N_("Grad-CAM is computed on a coarse grid of the model's internal feature map and enlarged to the "
                  "frame: its outlines are approximate."),
    kinds=("gradcam", "grid", "legend"),
    colour_map="inferno",
    contours=True,
    primary=True,
)
SALIENCY = MethodDescriptor(
    name="saliency",
    family="map",
    label=N_("Saliency"),
    term=N_("saliency"),
    # TRANSLATORS: follows "Right:" or "Each:" under the key frames.
    description=N_("saliency, the pixels whose change would move the score most."),
    limitation=N_("Saliency maps are noisy and change with small pixel changes; read them as a rough guide."),
    kinds=("saliency",),
    colour_map="inferno",
    display_cap_percentile=99.5,
)
GRADCAM_SHARE = MethodDescriptor(
    name="gradcam_share",
    family="frame_importance",
    label=N_("Grad-CAM share"),
    term=N_("Grad-CAM share"),
    # TRANSLATORS: follows "Grad-CAM share:" in a list of chart rows; it reads as the rest of that sentence.
    description=N_("how much of the clip's Grad-CAM activation the frame holds. It shows where the model's attention "
                   "lay, not what the decision depends on."),
    limitation=N_("The Grad-CAM share of a frame shows where the model's attention lay; it is not a causal measure."),
)
OCCLUSION = MethodDescriptor(
    name="occlusion",
    family="frame_importance",
    label=N_("Occlusion drop"),
    term=N_("frame occlusion"),
    # TRANSLATORS: follows "Occlusion drop:" in a list of chart rows; it reads as the rest of that sentence.
    description=N_("how much the model's internal score for the explained label falls when the frame is replaced by "
                   "the one before it (the first frame by the second). Bars below the line mean the score rises "
                   "without the frame."),
    limitation=N_("Occlusion replaces one frame at a time by the frame before it; it does not test other edits, such "
                  "as removing several frames together or changing part of a frame."),
)
GRADIENT_X_INPUT = MethodDescriptor(
    name="gradient_x_input",
    family="frame_importance",
    label=N_("Gradient × input"),
    term=N_("gradient × input"),
    # TRANSLATORS: follows "Gradient × input:" in a list of chart rows; "that score" is the model's internal score.
    description=N_("an estimate of how much that score would fall if the frame were blanked out; bars below the line "
                   "mean the frame speaks against the label."),
    limitation=N_("Gradient × input is a first-order estimate: it can be wrong where the model responds "
                  "non-linearly, and it compares each frame with a blank frame, which never occurs in real video."),
)

METHODS: dict[str, MethodDescriptor] = {
    d.name: d for d in (GRADCAM, SALIENCY, GRADCAM_SHARE, OCCLUSION, GRADIENT_X_INPUT)
}


def method(name: str) -> MethodDescriptor | None:
    """The descriptor of the method coded `name` in a record; None for a code this version does not know."""
    return METHODS.get(name)


def map_methods() -> tuple[MethodDescriptor, ...]:
    """The map methods, in the order their pictures are drawn and shown."""
    return tuple(d for d in METHODS.values() if d.family == "map")


def primary_map() -> MethodDescriptor:
    """The map that says where the attention lay: the key frames, people and movement are read from it."""
    return next(d for d in METHODS.values() if d.primary)
