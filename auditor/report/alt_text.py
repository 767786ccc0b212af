"""Alternative text of the report's pictures: what each one shows, from the record's facts.

A screen reader reads these for the PDF's `/Figure` elements and the HTML's `alt` (templates call
`alt.picture(record, image)` and `alt.importance_chart(record)`). Each text names the frame, the
method and what the picture shows of the decision ("Frame 7, Grad-CAM heatmap: strongest
activation in the centre, on person 2"), in the active language (`auditor.i18n`); numbers and
percentages are formatted for the locale before they go into a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor import i18n
from auditor.evidence import EvidenceRecord
from auditor.evidence.model import FrameSummary, ImageRef, MapSummary
from auditor.evidence.trust import CounterfactualEdit
from auditor.explain import methods
from auditor.i18n import _, ngettext
from auditor.messages import N_

__all__ = ["importance_chart", "picture"]

PLACES = {
    "upper-left": N_("in the upper left"),
    "upper-centre": N_("at the top centre"),
    "upper-right": N_("in the upper right"),
    "middle-left": N_("on the left"),
    "centre": N_("in the centre"),
    "middle-right": N_("on the right"),
    "lower-left": N_("in the lower left"),
    "lower-centre": N_("at the bottom centre"),
    "lower-right": N_("in the lower right"),
}


def picture(record: EvidenceRecord, image: object) -> str:
    """What the picture at `image`'s path shows (an `ImageRef`, a `PositionImage` or a mapping
    with a "path"); a plain description for a file the record does not describe. The trust checks'
    pictures are looked up first: the record lists them among its images too, with a frame."""
    path = image.get("path") if isinstance(image, Mapping) else getattr(image, "path", None)
    ex = record.explanations
    if ex.motion is not None:
        moving = next((i for i in ex.motion.images if i.path == path), None)
        if moving is not None:
            return _motion(record, moving.position)
    if ex.persons is not None and ex.persons.image is not None and ex.persons.image.path == path:
        return _persons(record, ex.persons.image.position)
    if ex.counterfactuals is not None:
        edit = next((e for e in ex.counterfactuals.found if e.image == path), None)
        if edit is not None:
            return _counterfactual(record, edit)
    ref = next((i for i in ex.images if i.path == path), None)
    if ref is not None:
        return _image(record, ref)
    return _("A picture from the report's evidence files.")


def importance_chart(record: EvidenceRecord) -> str:
    """The frame-importance bar chart: how many frames, and which frame each method rates highest."""
    ex = record.explanations
    count = len(ex.frames)
    sentences = [ngettext(
        "Bar chart of how much the %(count)d frame counted, one row of bars per method.",
        "Bar chart of how much each of the %(count)d frames counted, one row of bars per method.", count,
    ) % {"count": count}]
    for row in ex.frame_importance:
        if not row.values or len(row.values) != count:
            continue
        top = max(range(count), key=lambda t: row.values[t])
        sentences.append(_("By %(method)s, frame %(frame)d counted most.") % {
            "method": _label(row.method, row.label), "frame": ex.frames[top].frame_index,
        })
    return " ".join(sentences)


def _image(record: EvidenceRecord, ref: ImageRef) -> str:
    ex = record.explanations
    if ref.kind == "strip":
        return _strip(record)
    if ref.kind == "grid":
        return _grid(record)
    if ref.kind == "legend":
        levels = i18n.listing(i18n.percent(level) for level in ex.contour_levels)
        return _("Colour scale of the %(method)s heatmap, from no activation to the strongest, with the "
                 "contour levels at %(levels)s marked on it.") % {"method": _primary_label(), "levels": levels}
    if ref.frame is not None and 0 <= ref.frame < len(ex.frames):
        return frame_map(record, ex.frames[ref.frame], ref.kind)
    return _("A picture from the report's evidence files.")


def frame_map(record: EvidenceRecord, frame: FrameSummary, method: str) -> str:
    """One frame's map: where its strongest activation lies, and on whom."""
    values = {"frame": frame.frame_index, "method": _label(method)}
    summary = frame.maps.get(method)
    if summary is None:
        return _("Frame %(frame)d, %(method)s heatmap.") % values
    if summary.localised is False or summary.region not in PLACES:
        return _("Frame %(frame)d, %(method)s heatmap: no region stands out.") % values
    values["place"] = _(PLACES[summary.region])
    person = _person_at_peak(record, frame.position, summary)
    if person is None:
        return _("Frame %(frame)d, %(method)s heatmap: strongest activation %(place)s.") % values
    return _("Frame %(frame)d, %(method)s heatmap: strongest activation %(place)s, on person %(person)d.") % {
        **values, "person": person,
    }


def _strip(record: EvidenceRecord) -> str:
    indices = record.input.frame_indices
    return ngettext(
        "The %(count)d frame the model saw, frame %(first)d, numbered by its position in the window.",
        "The %(count)d frames the model saw, in a row from frame %(first)d to frame %(last)d, each numbered by "
        "its position in the window.", len(indices),
    ) % {"count": len(indices), "first": indices[0], "last": indices[-1]}


def _grid(record: EvidenceRecord) -> str:
    ex = record.explanations
    name = methods.primary_map().name
    values = {"count": len(ex.frames), "method": _primary_label()}
    shown = [f for f in ex.frames if name in f.maps]
    if not shown:
        return ngettext("The %(count)d frame with its %(method)s heatmap.",
                        "The %(count)d frames, each with its %(method)s heatmap, in a grid.", len(ex.frames)) % values
    top = max(shown, key=lambda f: f.maps[name].mass_share)
    return ngettext(
        "The %(count)d frame with its %(method)s heatmap; it holds all of the clip's activation.",
        "The %(count)d frames, each with its %(method)s heatmap, in a grid; frame %(frame)d holds the largest "
        "share of the clip's activation (%(share)s).", len(ex.frames),
    ) % {**values, "frame": top.frame_index, "share": i18n.percent(top.maps[name].mass_share)}


def _motion(record: EvidenceRecord, position: int) -> str:
    ex = record.explanations
    assert ex.motion is not None
    name = methods.primary_map().name
    frame = _frame(record, position)
    values = {"frame": frame, "method": _primary_label()}
    measured = next((m.motion_share.get(name) for m in ex.motion.frames if m.position == position), None)
    if measured is None:
        return _("Frame %(frame)d: the part of its %(method)s map the frame held still accounts for (left) and the "
                 "part due to movement (right).") % values
    return _("Frame %(frame)d: the part of its %(method)s map the frame held still accounts for (left) and the "
             "part due to movement (right); %(share)s of it is due to movement.") % {
        **values, "share": i18n.percent(measured),
    }


def _persons(record: EvidenceRecord, position: int) -> str:
    ex = record.explanations
    assert ex.persons is not None
    boxes = [(p.person_id, box.share) for p in ex.persons.persons for box in p.boxes if box.position == position]
    values = {"frame": _frame(record, position), "count": len(boxes), "method": _primary_label()}
    if not boxes:
        return _("Frame %(frame)d: no person was detected.") % values
    person, share = max(boxes, key=lambda b: b[1])
    return ngettext(
        "Frame %(frame)d with %(count)d person detected, in a numbered box; person %(person)d holds %(share)s of "
        "the frame's %(method)s activation.",
        "Frame %(frame)d with %(count)d people detected, each in a numbered box; person %(person)d holds the "
        "largest share of the frame's %(method)s activation, %(share)s.", len(boxes),
    ) % {**values, "person": person, "share": i18n.percent(share)}


def _counterfactual(record: EvidenceRecord, edit: CounterfactualEdit) -> str:
    values = {
        "frame": _frame(record, edit.key_position), "label": edit.predicted_class,
        "score": i18n.percent(edit.predicted_probability, 1),
    }
    if edit.kind == "frames" and edit.replaced_by:
        index = edit.positions.index(edit.key_position) if edit.key_position in edit.positions else 0
        return _("Frame %(frame)d as recorded (left) and replaced by frame %(other)d (right); with the edit, the "
                 "system's label is “%(label)s” (%(score)s).") % {
            **values, "other": _frame(record, edit.replaced_by[index]),
        }
    return _("Frame %(frame)d as recorded (left) and with the region of strongest activation blurred (right); "
             "with the edit, the system's label is “%(label)s” (%(score)s).") % values


def _person_at_peak(record: EvidenceRecord, position: int, summary: MapSummary) -> int | None:
    """The person whose box (in this frame) holds the map's peak, if any."""
    ex = record.explanations
    if ex.persons is None or ex.geometry is None:
        return None
    x = summary.peak_col * ex.geometry.source_width
    y = summary.peak_row * ex.geometry.source_height
    for person in ex.persons.persons:
        for box in person.boxes:
            x0, y0, x1, y1 = box.box
            if box.position == position and x0 <= x <= x1 and y0 <= y <= y1:
                return person.person_id
    return None


def _frame(record: EvidenceRecord, position: int) -> int:
    """The source frame number of window position `position`."""
    frames = record.explanations.frames
    return frames[position].frame_index if 0 <= position < len(frames) else position


def _label(name: str, recorded: str | None = None) -> str:
    """A method's label in the active language (a record's own label, or its code, for a method
    this version does not describe)."""
    descriptor = methods.method(name)
    return _(descriptor.label) if descriptor is not None else (recorded or name)


def _primary_label() -> str:
    return _(methods.primary_map().label)
