"""The review form's own font: Liberation Sans embedded whole, to encode, measure and draw field text.

`auditor.review.form` puts it in the AcroForm `/DR` (why whole and shared with nothing on the
pages: its docstring); fill and verify read it back from there (`auditor.review.form.form_font_in`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cached_property, lru_cache

import pydyf
from fontTools.ttLib import TTFont

from auditor import fonts

FONT_NAME = "LiberationSans"


def font_file() -> bytes:
    """Liberation Sans Regular, the form font, shipped with auditor (SIL OFL: embedding allowed)."""
    return fonts.font_bytes(fonts.FORM_FONT)


@dataclass(frozen=True)
class FormFont:
    """Glyphs and advance widths of the form font, to encode and measure field text."""

    data: bytes

    @cached_property
    def _font(self) -> TTFont:
        return TTFont(io.BytesIO(self.data), lazy=False)

    @cached_property
    def units(self) -> int:
        return int(self._font["head"].unitsPerEm)

    @cached_property
    def glyph_ids(self) -> dict[int, int]:
        """Unicode code point → glyph id (the CID, as the font is Identity-H with identity CIDToGIDMap)."""
        order = {name: index for index, name in enumerate(self._font.getGlyphOrder())}
        return {code: order[name] for code, name in self._font.getBestCmap().items()}

    @cached_property
    def widths(self) -> list[int]:
        """Advance width of every glyph, in thousandths of the font size."""
        metrics = self._font["hmtx"].metrics
        return [round(metrics[name][0] * 1000 / self.units) for name in self._font.getGlyphOrder()]

    def encode(self, text: str) -> bytes:
        """Two-byte glyph codes of `text` (unknown characters draw as .notdef, glyph 0)."""
        return b"".join(self.glyph_ids.get(ord(c), 0).to_bytes(2, "big") for c in text)

    def width(self, text: str, size: float) -> float:
        """Width of `text` at `size` points."""
        return sum(self.widths[self.glyph_ids.get(ord(c), 0)] for c in text) * size / 1000

    def pdf_objects(self, pdf: pydyf.PDF) -> pydyf.Dictionary:
        """Add the Type0 font (whole font program, widths, ToUnicode) to `pdf`; return its dictionary."""
        head, hhea, post = self._font["head"], self._font["hhea"], self._font["post"]
        scale = 1000 / self.units
        program = pydyf.Stream([self.data], {"Length1": len(self.data)}, compress=True)
        pdf.add_object(program)
        descriptor = pydyf.Dictionary({
            "Type": "/FontDescriptor",
            "FontName": f"/{FONT_NAME}",
            "Flags": 32,  # nonsymbolic
            "FontBBox": pydyf.Array([round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]),
            "ItalicAngle": int(post.italicAngle),
            "Ascent": round(hhea.ascent * scale),
            "Descent": round(hhea.descent * scale),
            "CapHeight": round(getattr(self._font["OS/2"], "sCapHeight", hhea.ascent) * scale),
            "StemV": 80,
            "FontFile2": program.reference,
        })
        pdf.add_object(descriptor)
        cid_font = pydyf.Dictionary({
            "Type": "/Font",
            "Subtype": "/CIDFontType2",
            "BaseFont": f"/{FONT_NAME}",
            "CIDSystemInfo": pydyf.Dictionary(
                {"Registry": pydyf.String("Adobe"), "Ordering": pydyf.String("Identity"), "Supplement": 0}
            ),
            "FontDescriptor": descriptor.reference,
            "DW": 1000,
            "W": pydyf.Array([0, pydyf.Array(self.widths)]),
            "CIDToGIDMap": "/Identity",
        })
        to_unicode = pydyf.Stream([self._to_unicode()], compress=True)
        pdf.add_object(to_unicode)
        font = pydyf.Dictionary({
            "Type": "/Font",
            "Subtype": "/Type0",
            "BaseFont": f"/{FONT_NAME}",
            "Encoding": "/Identity-H",
            "DescendantFonts": pydyf.Array([cid_font]),  # direct: pypdf's filler resolves an indirect one
            # in place, and in incremental mode then rewrites this font, which breaks the seal's DocMDP
            "ToUnicode": to_unicode.reference,
        })
        pdf.add_object(font)
        return font

    def _to_unicode(self) -> bytes:
        first: dict[int, int] = {}
        for code, glyph in sorted(self.glyph_ids.items()):
            first.setdefault(glyph, code)
        pairs = sorted(first.items())
        lines = [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
        ]
        for start in range(0, len(pairs), 100):
            chunk = pairs[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines += [f"<{glyph:04X}> <{_utf16_hex(code)}>" for glyph, code in chunk]
            lines.append("endbfchar")
        lines.append("endcmap CMapName currentdict /CMap defineresource pop end end")
        return "\n".join(lines).encode("ascii")


def _utf16_hex(code: int) -> str:
    return chr(code).encode("utf-16-be").hex().upper()


@lru_cache(maxsize=1)
def form_font() -> FormFont:
    return FormFont(font_file())
