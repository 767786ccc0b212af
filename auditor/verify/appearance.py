"""What a filled review field shows must be what it says.

A PDF reader draws a field from its appearance stream, while `verify` reads its value (`/V`): a
field whose value says "overturn" while its appearance draws "confirm" would let readers and
verify see two different decisions. A text field's appearance must draw, in the form's own font
(the AcroForm `/DR` font of the sealed revision) and in a visible rendering mode, exactly the
glyphs of its value (whitespace aside: fillers wrap lines differently); a checkbox's state `/AS`
must equal its value `/V` and name one of its appearances. Any filler's appearance passes that
draws the value (auditor's, pypdf's, a PDF reader's), whatever its layout.
"""

from __future__ import annotations

import re

from pyhanko.pdf_utils import generic

from auditor.review.form import FormFont

MAX_APPEARANCE_BYTES = 256 * 1024  # a full reasons box draws a few kB
_TOKEN = re.compile(
    rb"<(?P<hex>[0-9A-Fa-f\s]*)>|\((?P<literal>(?:\\.|[^\\()])*)\)|(?P<operator>[A-Za-z'\"]+\*?)|(?P<number>[-+]?[0-9.]+)"
    rb"|(?P<name>/[^\s/<>()\[\]{}%]*)",
    re.DOTALL,
)
_SHOWS_TEXT = frozenset({b"Tj", b"TJ", b"'", b'"'})
_LITERAL_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r?\n|.)", re.DOTALL)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def appearance_problem(field: generic.DictionaryObject, form_font_ref: generic.PdfObject, font: FormFont) -> str | None:
    """Why what `field` shows differs from its value, or None when it shows its value."""
    kind = str(field.get("/FT"))
    if kind == "/Btn":
        return _checkbox_problem(field)
    if kind != "/Tx":
        return None
    value = field.get("/V")
    text = "" if value is None else str(value)
    try:
        stream = field["/AP"]["/N"].get_object()
    except (KeyError, TypeError, AttributeError):
        return None if not text.strip() else "it has a value but no appearance"
    if not isinstance(stream, generic.StreamObject) or len(stream.encoded_data) > MAX_APPEARANCE_BYTES:
        return "its appearance is not a single bounded stream"
    fonts = _fonts(stream)
    if any(not _same_object(ref, form_font_ref) for ref in fonts.values()):
        return "its appearance draws with another font than the form's own"
    shown, problem = _shown_glyphs(stream.data, set(fonts))
    if problem:
        return problem
    if _without_spaces(shown, font) != _without_spaces(font.encode(text), font):
        return "its appearance draws other text than its value"
    return None


def _checkbox_problem(field: generic.DictionaryObject) -> str | None:
    value, state = str(field.get("/V", "/Off")), str(field.get("/AS", "/Off"))
    if value != state:
        return f"its value is {value} but it is drawn in state {state}"
    try:
        states = set(map(str, field["/AP"]["/N"].get_object()))
    except (KeyError, TypeError, AttributeError):
        states = set()
    return None if state in states else f"it has no appearance for its state {state}"


def _fonts(stream: generic.StreamObject) -> dict[str, generic.PdfObject]:
    try:
        fonts = stream["/Resources"].get_object()["/Font"].get_object()
    except (KeyError, TypeError, AttributeError):
        return {}
    return {str(name): fonts.raw_get(name) for name in fonts}


def _same_object(ref: generic.PdfObject, expected: generic.PdfObject) -> bool:
    return (
        isinstance(ref, generic.IndirectObject)
        and isinstance(expected, generic.IndirectObject)
        and (ref.idnum, ref.generation) == (expected.idnum, expected.generation)
    )


def _shown_glyphs(content: bytes, font_names: set[str]) -> tuple[bytes, str | None]:
    """The two-byte glyph codes the content stream shows, or why it cannot be trusted to show them."""
    shown: list[bytes] = []
    operands: list[re.Match[bytes]] = []
    for token in _TOKEN.finditer(content):
        operator = token.group("operator")
        if operator is None:
            operands.append(token)
            continue
        if operator == b"Tr" and operands and operands[-1].group("number") not in (b"0", b"0.0"):
            return b"", "its appearance draws text in an invisible or outline rendering mode"
        name = operands[0].group("name") if operator == b"Tf" and operands else None
        if name is not None and name.decode("latin-1") not in font_names:
            return b"", "its appearance selects a font it does not name"
        if operator in _SHOWS_TEXT:
            shown += [_string_bytes(t) for t in operands if t.group("hex") is not None or t.group("literal") is not None]
        operands = []
    return b"".join(shown), None


def _string_bytes(token: re.Match[bytes]) -> bytes:
    if token.group("hex") is not None:
        digits = re.sub(rb"\s", b"", token.group("hex"))
        return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))
    return _LITERAL_ESCAPE.sub(_unescape, token.group("literal"))



def _unescape(match: re.Match[bytes]) -> bytes:
    """One escape of a PDF literal string (ISO 32000-1, 7.3.4.2)."""
    escaped = match.group(1)
    if escaped[:1].isdigit():
        return bytes([int(escaped, 8) & 0xFF])
    if escaped in (b"\n", b"\r\n"):
        return b""
    return _ESCAPES.get(escaped, escaped)


def _without_spaces(codes: bytes, font: FormFont) -> bytes:
    """Glyph codes with the whitespace glyphs removed."""
    spaces = {font.glyph_ids.get(ord(c), -1) for c in " \t\n\r\u00a0"}
    pairs = (codes[i : i + 2] for i in range(0, len(codes) - len(codes) % 2, 2))
    return b"".join(p for p in pairs if int.from_bytes(p, "big") not in spaces)
