"""The review form of the PDF: fields placed on the printed form's boxes, with their own font.

`ReviewForm.prepare` finds, after layout, the boxes the review template marks with
`data-field="review1.reasons"` (names from `auditor.review.model.field_name`) and gives each its
widget before WeasyPrint writes the PDF, so that WeasyPrint's tagging puts a `/Form` structure
element (with an `/OBJR` to the widget) where the box is in the structure tree, and gives the
widget its `/StructParent`. Its `finish`, a WeasyPrint finisher, then adds, in the same single
revision WeasyPrint writes, an AcroForm with one non-terminal field per
slot (`review1`, `review2`) whose kids are the slot's page-1 outcome line, the text fields, the
automation-bias checkbox and an empty signature field, each a widget on its box, in the order of
the document (page `/Tabs /S` in a tagged PDF: the structure's order, else `/R`). Each widget's
`/TU` names it for a screen reader ("Review 1: decision"), in the report's language. A box's `data-value` is its field's sealed value, drawn in its
appearance: the page-1 lines say what each slot waits for until its review replaces them.

Choices, and why (DESIGN §4):

- **Own font, fully embedded.** The text fields draw with Liberation Sans embedded whole (a
  Type0/CIDFontType2 font, Identity-H, ~90 kB compressed) in the AcroForm `/DR` only, shared with
  nothing on the pages: a filler can draw any character of the font (Latin, Greek, Cyrillic)
  without adding a font or rewriting a page's subset font, which pyHanko's diff analysis would
  rate as a modification beyond form filling.
- **Text that stays legible.** A text too long for its box shrinks, but not below `MIN_SIZE`
  (single lines) or `MIN_MULTILINE_SIZE` (the tall boxes): 7 pt is about the smallest size a
  printed page can be read at. What does not fit is clipped on paper; the field's value (and
  `review-N.json`) keeps the whole text. The reasons box spans the page width and is tall enough
  for ~1,000 characters at 8 pt.
- **PDF/A-3 kept.** Every widget has a normal appearance stream (empty text, the checkbox's
  `/Yes` and `/Off` states drawn as paths without a font, an empty signature box), the Print flag
  set, no `NeedAppearances`; the XMP is `auditor.report.pdf`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pydyf
from pyhanko.pdf_utils import generic

from auditor.errors import ReportError
from auditor.i18n import _
from auditor.messages import N_
from auditor.review.form_font import FormFont, form_font
from auditor.review.model import FIELDS, OUTCOME, SIGNATURE_SUFFIX_NAME, SLOTS, field_name
from auditor.review.text import FONT_RESOURCE, text_appearance

__all__ = ["FONT_RESOURCE", "FormFont", "ReviewForm", "expected_fields", "form_font_in", "review_fields", "text_style", "tooltip"]

TEXT_SIZE = 9.0  # points, single-line fields
MULTILINE_SIZE = 8.0  # points, the tall fields (data considered, reasons)
OUTCOME_SIZE = 10.5  # points, the page-1 lines
MIN_SIZE = 5.0  # points: a single line (a 200-character name) shrinks down to this size, then is clipped
MIN_MULTILINE_SIZE = 7.0  # points: the tall fields and the page-1 lines shrink down to this size, then are clipped
MULTILINE = frozenset({"data_considered", "reasons", OUTCOME})
CHECKBOX = "automation_bias_acknowledged"
MAX_FONT_BYTES = 4 * 1024 * 1024  # the form font program as stored (Liberation Sans: ~0.3 MB)
_CSS_TO_PT = 0.75
_FLAG_PRINT = 4
_FLAG_MULTILINE = 1 << 12
_HUMAN = {  # what a screen reader calls each field, after "Review 1: "
    "reviewer": N_("reviewer's name"),
    "role": N_("role"),
    "authority": N_("authority to change the decision"),
    "data_considered": N_("data considered"),
    "decision": N_("decision (confirm, overturn or escalate)"),
    "reasons": N_("reasons for the decision"),
    "minutes": N_("time spent on the review, in minutes"),
    CHECKBOX: N_("I judged the clip myself and did not rely on the system alone"),
    "signature": N_("reviewer's signature"),
    OUTCOME: N_("outcome shown on page 1: the decision, by whom, when"),
}


def tooltip(slot: int, attribute: str) -> str:
    """The field's `/TU`, in the active language: "Review 1: decision (confirm, overturn or escalate)"."""
    return _("Review %(slot)d: %(field)s") % {"slot": slot, "field": _(_HUMAN[attribute])}


def text_style(attribute: str) -> tuple[float, float, bool]:
    """A text field's font size, the size it may shrink to, and whether it wraps."""
    if attribute == OUTCOME:
        return OUTCOME_SIZE, MIN_MULTILINE_SIZE, True
    if attribute in MULTILINE:
        return MULTILINE_SIZE, MIN_MULTILINE_SIZE, True
    return TEXT_SIZE, MIN_SIZE, False


def expected_fields() -> list[str]:
    """Every field name the form must carry, slot by slot, in the order of the document (the
    page-1 outcome line first)."""
    return [field_name(slot, attribute) for slot in range(1, SLOTS + 1) for attribute in (OUTCOME, *FIELDS, "signature")]


def attribute_of(suffix: str) -> str:
    """The ReviewInput attribute (or "signature", "outcome") of a field name suffix."""
    if suffix in (SIGNATURE_SUFFIX_NAME, OUTCOME):
        return suffix
    return next(attribute for attribute, name in FIELDS.items() if name == suffix)


@dataclass(frozen=True)
class Box:
    """One marked box of the laid-out review form, in PDF points, and the widget made for it."""

    name: str
    page: int  # 0-based
    rect: tuple[float, float, float, float]  # x1, y1, x2, y2, origin bottom left
    value: str = ""  # the field's sealed value (data-value)
    widget: pydyf.Dictionary = field(default_factory=lambda: _Widget({"Type": "/Annot", "Subtype": "/Widget"}))


def marked_boxes(document: object) -> list[Box]:
    """The boxes marked `data-field` in a laid-out WeasyPrint document, in document order; each
    layout box gets its widget as `widget_annotation`, which WeasyPrint's tagging links to."""
    boxes: list[Box] = []
    for index, page in enumerate(document.pages):  # type: ignore[attr-defined]
        seen: set[int] = set()
        for box in _descendants(page._page_box):
            element = getattr(box, "element", None)
            if element is None:
                continue
            name = element.get("data-field")
            if not name or id(element) in seen:
                continue
            seen.add(id(element))
            x, y = box.border_box_x(), box.border_box_y()
            w, h = box.border_width(), box.border_height()
            top, bottom = (page.height - y) * _CSS_TO_PT, (page.height - y - h) * _CSS_TO_PT
            rect = (x * _CSS_TO_PT, bottom, (x + w) * _CSS_TO_PT, top)
            marked = Box(name, index, rect, element.get("data-value") or "")
            box.widget_annotation = marked.widget
            boxes.append(marked)
    return boxes


def _descendants(box: Any) -> Iterator[Any]:
    yield box
    for child in getattr(box, "children", ()):
        yield from _descendants(child)


class _Widget(pydyf.Dictionary):
    """A widget made before WeasyPrint writes the PDF: WeasyPrint's tagging refers to it (an
    `/OBJR` in a `/Form` element) before `ReviewForm.finish` adds it to the PDF, so its reference
    is written out only when the PDF is."""

    @property
    def reference(self) -> Any:
        return _LaterReference(self) if self.number is None else super().reference


@dataclass(frozen=True)
class _LaterReference:
    target: pydyf.Dictionary

    def __str__(self) -> str:  # pydyf writes a value it does not know with str()
        if self.target.number is None:
            raise ReportError("a review form widget was referred to but never written")
        return f"{self.target.number} 0 R"


@dataclass(frozen=True)
class ReviewForm:
    """The review form of a laid-out document: its marked boxes, each with its widget."""

    boxes: tuple[Box, ...]

    @classmethod
    def prepare(cls, document: object) -> ReviewForm:
        """The form of `document`, to call before `write_pdf`. A document without marked boxes
        (an operator's template without the form) gets no form; one that marks only some of the
        fields is refused."""
        boxes = marked_boxes(document)
        names = [b.name for b in boxes]
        missing = [n for n in expected_fields() if n not in names]
        extra = sorted({n for n in names if n not in expected_fields()} | {n for n in names if names.count(n) > 1})
        if boxes and (missing or extra):
            raise ReportError(
                f"the review form in the templates is incomplete or odd (missing {', '.join(missing) or 'none'}; "
                f"unknown or repeated {', '.join(extra) or 'none'}); mark each review field once with data-field"
            )
        return cls(tuple(boxes))

    def finish(self, document: object, pdf: pydyf.PDF) -> None:
        """WeasyPrint finisher: turn the marked boxes into the PDF's form fields."""
        if self.boxes:
            _FormWriter(pdf, form_font()).write(list(self.boxes))
            _objr_as_kid(pdf, {id(box.widget) for box in self.boxes})


def _objr_as_kid(pdf: pydyf.PDF, widgets: set[int]) -> None:
    """Make each `/Form` element's `/K` the `/OBJR` of its widget itself, not an array holding it:
    pyHanko's diff analysis accepts a filled field that the structure tree refers to only through
    `…/K/Obj`, and would rate a review's revision as a modification beyond form filling."""
    objrs = {
        obj.reference for obj in pdf.objects
        if isinstance(obj, pydyf.Dictionary) and obj.get("Type") == "/OBJR"
        and isinstance(obj.get("Obj"), _LaterReference) and id(obj["Obj"].target) in widgets
    }
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Dictionary) and obj.get("S") == "/Form":
            kids = obj.get("K")
            if isinstance(kids, pydyf.Array) and len(kids) == 1 and kids[0] in objrs:
                obj["K"] = kids[0]


class _FormWriter:
    """Writes the AcroForm, the fields and their widgets into a pydyf PDF."""

    def __init__(self, pdf: pydyf.PDF, font: FormFont) -> None:
        self.pdf = pdf
        self.font = font
        self.font_ref = font.pdf_objects(pdf).reference
        self.pages = [pdf.objects[int(number)] for number in pdf.pages["Kids"][::3]]

    def write(self, boxes: list[Box]) -> None:
        parents = []
        for slot in range(1, SLOTS + 1):
            parent = pydyf.Dictionary({"T": pydyf.String(f"review{slot}"), "Kids": pydyf.Array()})
            self.pdf.add_object(parent)
            parents.append(parent)
        for box in boxes:
            slot_text, suffix = box.name.removeprefix("review").split(".", 1)
            parent = parents[int(slot_text) - 1]
            widget = self._widget(box, int(slot_text), attribute_of(suffix), suffix, parent)
            parent["Kids"].append(widget.reference)
            page = self.pages[box.page]
            page.setdefault("Annots", pydyf.Array()).append(widget.reference)
            page.setdefault("Tabs", "/R")  # a tagged PDF has /S: the structure's order, the document's
        self.pdf.catalog["AcroForm"] = pydyf.Dictionary({
            "Fields": pydyf.Array([p.reference for p in parents]),
            "DR": pydyf.Dictionary({"Font": pydyf.Dictionary({FONT_RESOURCE: self.font_ref})}),
            "DA": pydyf.String(f"/{FONT_RESOURCE} {TEXT_SIZE:g} Tf 0 g"),
        })

    def _widget(self, box: Box, slot: int, attribute: str, suffix: str, parent: pydyf.Dictionary) -> pydyf.Dictionary:
        x1, y1, x2, y2 = box.rect
        if attribute == CHECKBOX:
            inset = 0.75  # inside the printed box's border
            x1, y1, x2, y2 = x1 + inset, y1 + inset, x2 - inset, y2 - inset
        width, height = x2 - x1, y2 - y1
        widget = box.widget
        widget.update({
            "Rect": pydyf.Array([round(v, 2) for v in (x1, y1, x2, y2)]),
            "F": _FLAG_PRINT,
            "P": self.pages[box.page].reference,
            "Parent": parent.reference,
            "T": pydyf.String(suffix),
            "TU": pydyf.String(tooltip(slot, attribute)),
        })
        if attribute == "signature":
            widget.update({"FT": "/Sig", "AP": pydyf.Dictionary({"N": self._appearance(width, height, b"")})})
        elif attribute == CHECKBOX:
            states = {"Yes": self._appearance(width, height, check_mark(width, height)),
                      "Off": self._appearance(width, height, b"")}
            widget.update({"FT": "/Btn", "V": "/Off", "AS": "/Off", "AP": pydyf.Dictionary({"N": pydyf.Dictionary(states)})})
        else:
            size, min_size, multiline = text_style(attribute)
            drawn = text_appearance(self.font, box.value, width, height, size, multiline=multiline, min_size=min_size)
            widget.update({
                "FT": "/Tx",
                "DA": pydyf.String(f"/{FONT_RESOURCE} {size:g} Tf 0 g"),
                "AP": pydyf.Dictionary({"N": self._appearance(width, height, drawn if box.value else b"/Tx BMC EMC", font=True)}),
            })
            if box.value:
                widget.update({"V": pydyf.String(box.value), "DV": pydyf.String(box.value)})
            if multiline:
                widget["Ff"] = _FLAG_MULTILINE
        self.pdf.add_object(widget)
        return widget

    def _appearance(self, width: float, height: float, content: bytes, *, font: bool = False) -> str:
        extra = {"Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array([0, 0, round(width, 2), round(height, 2)])}
        if font:
            extra["Resources"] = pydyf.Dictionary({"Font": pydyf.Dictionary({FONT_RESOURCE: self.font_ref})})
        stream = pydyf.Stream([content], extra, compress=True)
        self.pdf.add_object(stream)
        return stream.reference


def check_mark(width: float, height: float) -> bytes:
    """A filled tick drawn with paths (no font), inside a `width`×`height` box."""
    points = [(0.15, 0.5), (0.4, 0.2), (0.88, 0.85), (0.4, 0.36)]
    path = " ".join(f"{x * width:.2f} {y * height:.2f} {'m' if i == 0 else 'l'}" for i, (x, y) in enumerate(points))
    return f"0 g {path} h f".encode("ascii")


def review_fields(root: generic.DictionaryObject) -> dict[str, generic.IndirectObject]:
    """Each review field of a PDF (as pyHanko reads it) by full name, e.g. "review1.reasons" → its
    field dictionary's reference; fields outside the review slots are left out."""
    try:
        top = root["/AcroForm"]["/Fields"]
    except KeyError:
        return {}
    found: dict[str, generic.IndirectObject] = {}
    for parent_ref in list(top)[:_MAX_TOP_FIELDS]:
        parent = parent_ref.get_object()
        slot = str(parent.get("/T", ""))
        if slot not in _SLOT_NAMES or "/Kids" not in parent:
            continue
        for kid in list(parent["/Kids"])[:_MAX_TOP_FIELDS]:
            if isinstance(kid, generic.IndirectObject):
                found.setdefault(f"{slot}.{kid.get_object().get('/T', '')}", kid)
    return found


def form_font_in(root: generic.DictionaryObject) -> tuple[generic.PdfObject, FormFont]:
    """The form font of a PDF read with pyHanko: its reference in the AcroForm `/DR` and its
    glyphs. Raise `ReportError` when the form has no such font (or not a TrueType Type0 one)."""
    try:
        reference = root["/AcroForm"]["/DR"]["/Font"].raw_get(f"/{FONT_RESOURCE}")
        font = reference.get_object()
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        program = descriptor["/FontFile2"].get_object()
        if not isinstance(program, generic.StreamObject) or len(program.encoded_data) > MAX_FONT_BYTES:
            raise ReportError("the form font program is not a stream of a bounded size")
        return reference, FormFont(program.data)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ReportError(f"the review form has no embedded TrueType form font /{FONT_RESOURCE} ({exc})") from exc


_SLOT_NAMES = frozenset(f"review{slot}" for slot in range(1, SLOTS + 1))
_MAX_TOP_FIELDS = 256
