"""The words beside the report's pictures, in the active language: the pictures themselves hold only
numbers and marks (their SHA-256 is in the record, so they cannot change with the language), and
these captions say what they show. Which maps there are comes from their descriptors
(`auditor.explain.methods`); templates only place the text, as `captions.NAME`.
"""

from __future__ import annotations

from auditor import i18n
from auditor.evidence import EvidenceRecord, ImageRef, MapSummary
from auditor.evidence.trust import PositionImage
from auditor.explain.methods import MethodDescriptor, map_methods, method, primary_map
from auditor.i18n import _, ngettext
from auditor.report.display import UNLOCALISED_MARK
from auditor.report.narrative_attention import failed_sanity, peak_words, term
from auditor.report.quantities import percent, seconds

__all__ = [
    "failed_sheets", "grid_image", "key_frame_heading", "key_frame_pictures", "key_frames_intro", "legend_caption",
    "legend_image", "motion_caption", "persons_caption", "poster", "primary_shown", "unlocalised_note",
]


def primary_shown(record: EvidenceRecord) -> bool:
    """Whether the primary map's pictures are evidence (it did not fail the model-randomisation check)."""
    return not failed_sanity(record, primary_map().name)


def _shown(record: EvidenceRecord) -> list[MethodDescriptor]:
    return [d for d in map_methods() if not failed_sanity(record, d.name)]


def key_frames_intro(record: EvidenceRecord) -> str:
    """What the key frames' pictures show, side by side, and how their colours are scaled."""
    ex, shown = record.explanations, _shown(record)
    count = len(ex.key_frames)
    sentences = [ngettext("The %(count)d frame with the most %(method)s activation.",
                          "The %(count)d frames with the most %(method)s activation.", count) % {
        "count": count, "method": term(primary_map().name)}]
    levels = i18n.listing(percent(level) for level in ex.contour_levels)
    for position, descriptor in zip(_positions(len(shown)), shown, strict=True):
        description = _(descriptor.description) % {"levels": levels}
        sentences.append(position % {"description": description})
    sentences.append(_scale_sentence(record, shown))
    return " ".join(sentences)


def _positions(count: int) -> list[str]:
    """Where each picture of a key frame stands: left and right for two, each for one."""
    if count == 2:
        # TRANSLATORS: %(description)s says what the left picture shows ("the frame with a heatmap …").
        return [_("Left: %(description)s"), _("Right: %(description)s")]
    # TRANSLATORS: %(description)s says what every picture shows ("the frame with a heatmap …").
    return [_("Each: %(description)s")] * count


def _scale_sentence(record: EvidenceRecord, shown: list[MethodDescriptor]) -> str:
    ex = record.explanations
    capped = next((d for d in shown if d.display_cap_percentile is not None), None)
    cap = ex.parameters.get(f"{capped.name}_display_cap_percentile") if capped else None
    per_clip = ex.display_normalisation == "per-clip"
    if cap is None or capped is None:
        return _("Colours are scaled for the whole clip.") if per_clip else _("Colours are scaled per frame.")
    values = {"method": term(capped.name), "cap": i18n.number(float(str(cap)), None)}
    if per_clip:
        # TRANSLATORS: %(cap)s is a percentile ("99.5"): values above it show at full strength.
        return _("Colours are scaled for the whole clip; %(method)s above the clip's percentile %(cap)s is shown at "
                 "full strength.") % values
    return _("Colours are scaled per frame; %(method)s above the clip's percentile %(cap)s is shown at full "
             "strength.") % values


def unlocalised_note(record: EvidenceRecord) -> str | None:
    """What the mark on a map that singles out no region means; None when the record gives no bound."""
    bound = record.explanations.parameters.get("localised_max_area_above_half")
    if bound is None:
        return None
    # TRANSLATORS: %(area)s is a share of the frame ("50%"); %(mark)s is the sign drawn on such a picture (∅).
    return _("A map that singles out no region (no activation at all, or at least half of its peak strength over more "
             "than %(area)s of the frame, as when it is flat or nearly flat) is marked %(mark)s in its top-left corner "
             "and has no contour lines; no peak is named for it.") % {
        "area": percent(float(str(bound))), "mark": UNLOCALISED_MARK}


def key_frame_heading(record: EvidenceRecord, position: int) -> str:
    """'Frame 123 · 12.30 s · 35% of activation · peak centre' (the last two while the primary map is shown)."""
    frame = record.explanations.frames[position]
    summary = frame.maps.get(primary_map().name)
    values = {"frame": frame.frame_index, "time": seconds(frame.timestamp)}
    if summary is None or not primary_shown(record):
        return _("Frame %(frame)d \u00b7 %(time)s") % values
    # TRANSLATORS: a key frame's heading; %(share)s of the clip's activation lies in it; %(peak)s is "peak centre".
    return _("Frame %(frame)d \u00b7 %(time)s \u00b7 %(share)s of activation \u00b7 %(peak)s") % {
        **values, "share": percent(summary.mass_share), "peak": peak_words(summary)}


def key_frame_pictures(record: EvidenceRecord, position: int) -> list[tuple[ImageRef, str]]:
    """The pictures of one key frame the report shows as evidence, in the descriptors' order, each with
    its caption."""
    ex = record.explanations
    frame = ex.frames[position]
    pictures = []
    for descriptor in _shown(record):
        for image in ex.images:
            if image.frame == position and image.kind == descriptor.picture:
                pictures.append((image, _picture_caption(descriptor, frame.maps.get(descriptor.name))))
    return pictures


def _picture_caption(descriptor: MethodDescriptor, summary: MapSummary | None) -> str:
    values = {"method": _(descriptor.label), "mark": UNLOCALISED_MARK}
    unlocalised = summary is not None and summary.localised is False
    if descriptor.contours:
        if unlocalised:
            return _("%(method)s: no localisation (marked %(mark)s), no contours") % values
        return _("%(method)s with contours") % values
    return _("%(method)s: no localisation (marked %(mark)s)") % values if unlocalised else values["method"]


def _sheet(record: EvidenceRecord, kind: str) -> ImageRef | None:
    return next((i for i in record.explanations.images if i.kind == kind), None)


def legend_image(record: EvidenceRecord) -> ImageRef | None:
    """The colour scale and contour levels, while the primary map's pictures are evidence."""
    return _sheet(record, "legend") if primary_shown(record) else None


def grid_image(record: EvidenceRecord) -> ImageRef | None:
    """Every frame's primary-map overlay on one sheet, while those pictures are evidence."""
    return _sheet(record, "grid") if primary_shown(record) else None


def poster(record: EvidenceRecord) -> ImageRef | None:
    """The picture the heatmap clip shows before it plays: the primary map's picture of the first key frame."""
    ex = record.explanations
    first = ex.key_frames[0] if ex.key_frames else None
    kind = primary_map().picture
    return next((i for i in ex.images if i.kind == kind and first is not None and i.frame == first), None)


def legend_caption(record: EvidenceRecord) -> str:
    """What the legend's bar, numbers and lines mean: the legend itself holds numbers only."""
    values = {"low": percent(0), "high": percent(1), "method": term(primary_map().name)}
    if record.explanations.display_normalisation == "per-clip":
        return _("Colour scale and contour levels of the %(method)s pictures: the bar shows the heat as it is drawn "
                 "over a mid-grey frame, from %(low)s to %(high)s of the clip's strongest activation, with the contour "
                 "levels marked on it; below it, each contour line as drawn, beside its level (a share of the clip's "
                 "strongest activation).") % values
    return _("Colour scale and contour levels of the %(method)s pictures: the bar shows the heat as it is drawn over a "
             "mid-grey frame, from %(low)s to %(high)s of each frame's strongest activation, with the contour levels "
             "marked on it; below it, each contour line as drawn, beside its level (a share of each frame's "
             "strongest activation).") % values


def motion_caption(record: EvidenceRecord, image: PositionImage) -> str:
    """The caption of a key frame's movement picture (two panels, no words in them)."""
    return _("Frame %(frame)d: the part of its %(method)s the frame held still accounts for (left) and the part due "
             "to movement (right), on the frame's own colour scale.") % {
        "frame": record.explanations.frames[image.position].frame_index, "method": term(primary_map().name)}


def persons_caption(record: EvidenceRecord, image: PositionImage) -> str:
    """The caption of the people picture: what the number and the percentage beside each box are."""
    return _("Frame %(frame)d: the people detected, each box marked with the person's number and the share of this "
             "frame's %(method)s activation inside it.") % {
        "frame": record.explanations.frames[image.position].frame_index, "method": term(primary_map().name)}


def failed_sheets(record: EvidenceRecord, name: str) -> list[tuple[ImageRef, str]]:
    """For a map that failed the model-randomisation check: its sheets (every frame, the legend, the
    people) with captions that say so; none unless it is the primary map, which the sheets draw."""
    descriptor = method(name)
    if descriptor is None or not descriptor.primary:
        return []
    values = {"method": term(name)}
    words = {
        "grid": _("Every frame with its %(method)s heatmap (failed the model-randomisation check)"),
        "legend": _("Colour scale and contour levels of the %(method)s pictures (failed the model-randomisation "
                    "check)"),
        "persons": _("The people detected, with the share of the frame's %(method)s activation in each box (failed "
                     "the model-randomisation check)"),
    }
    return [(image, words[image.kind] % values) for image in record.explanations.images if image.kind in words]
