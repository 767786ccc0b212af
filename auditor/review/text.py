"""How a text field draws its text: wrapped, shrunk to fit its box down to a minimum size, clipped.

`auditor.review.form` draws the sealed initial values with it (the page-1 status lines) and
`auditor.review.fill` the values a review writes. Every glyph of the value is drawn (what does
not fit is clipped, not cut), so the appearance shows exactly the value (`auditor.verify.appearance`).
The words a review writes (page-1 line, signature stamp) speak the report's language: `report_language`.
"""

from __future__ import annotations

from pyhanko.pdf_utils import generic

from auditor import i18n
from auditor.review.form_font import FormFont

FONT_RESOURCE = "AuRv"  # the form font's name in the AcroForm /DR
PADDING = 2.0  # points between a box's edge and its text
LEADING = 1.15  # line height, in font sizes


def report_language(root: generic.DictionaryObject) -> str:
    """The language a sealed report speaks: its catalog's `/Lang` when auditor has that language,
    else English (the language of reports sealed before `/Lang` followed the report's language)."""
    code = root.get("/Lang")
    text = str(code).strip() if isinstance(code, (generic.TextStringObject, generic.ByteStringObject)) else ""
    return text if text in i18n.available() else i18n.SOURCE_LANGUAGE


def text_appearance(
    font: FormFont, text: str, width: float, height: float, size: float, *, multiline: bool, min_size: float
) -> bytes:
    """The content of a text field's appearance: `text` in the form font, shrunk (down to
    `min_size`) to fit the box, wrapped when `multiline`, clipped to the box."""
    size = fitting_size(font, text, width, height, size, multiline=multiline, min_size=min_size)
    inner = width - 2 * PADDING
    lines = wrap(font, text, inner, size) if multiline else [" ".join(text.split())]
    leading = size * LEADING
    top = height - PADDING - size * 0.9 if multiline else (height - size * 0.7) / 2
    ops = [f"/Tx BMC q {PADDING / 2:g} {PADDING / 2:g} {width - PADDING:g} {height - PADDING:g} re W n BT",
           f"/{FONT_RESOURCE} {size:g} Tf 0 g {PADDING:g} {top:.2f} Td {leading:.2f} TL"]
    ops += [f"<{font.encode(line).hex()}> Tj T*" for line in lines]
    ops.append("ET Q EMC")
    return "\n".join(ops).encode("ascii")


def fitting_size(
    font: FormFont, text: str, width: float, height: float, size: float, *, multiline: bool, min_size: float
) -> float:
    """The largest size from `size` down to `min_size`, in half points, at which `text` fits the box
    (`min_size` when it fits at none: the rest is clipped)."""
    inner = width - 2 * PADDING
    while size > min_size:
        if multiline:
            fits = len(wrap(font, text, inner, size)) * size * LEADING <= height - PADDING
        else:
            fits = font.width(" ".join(text.split()), size) <= inner
        if fits:
            return size
        size = max(min_size, size - 0.5)
    return size


def wrap(font: FormFont, text: str, width: float, size: float) -> list[str]:
    """`text` broken into lines of at most `width` points (a word longer than a line is cut)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.width(candidate, size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while font.width(word, size) > width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and font.width(word[:cut], size) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines
