"""The fonts reports are drawn with, shipped in the package (`auditor/data/fonts`, each under its
free licence, the licence files beside them).

No report depends on the machine's fontconfig: the stylesheet names its fonts with `@font-face`
rules whose URLs use the `auditor-font:` scheme, which the report's URL fetcher answers from
these files only, and the review form embeds Liberation Sans from here. The same record then
renders to the same page text positions and font names on any machine.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from auditor.errors import ReportError

FONTS_DIR = Path(__file__).parent / "data" / "fonts"
URL_SCHEME = "auditor-font"
REPORT_FONTS = frozenset({
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
})
FORM_FONT = "LiberationSans-Regular.ttf"
SHIPPED_FONTS = REPORT_FONTS | {FORM_FONT}


@cache
def font_bytes(name: str) -> bytes:
    """The bytes of one shipped font file; any other name is refused."""
    if name not in SHIPPED_FONTS:
        raise ReportError(f"{name!r} is not a font shipped with auditor")
    try:
        return (FONTS_DIR / name).read_bytes()
    except OSError as exc:
        raise ReportError(f"the font {name} is missing from this installation ({exc.strerror}); reinstall auditor") from exc


def font_of_url(url: str) -> str | None:
    """The shipped font an `auditor-font:NAME` URL names, or None for any other URL."""
    scheme, colon, name = url.partition(":")
    return name if colon and scheme == URL_SCHEME else None
