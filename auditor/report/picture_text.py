"""Text drawn into the report's pictures (frame numbers, captions, marks, people's labels) in the
font the report itself uses, DejaVu Sans as shipped with auditor (`auditor.fonts`), rendered by
Pillow's FreeType: the same text gives the same pixels on any machine, and it reads like the
report's text rather than OpenCV's stroke font. Every label is kept inside its picture.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from auditor.fonts import font_bytes

REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
RGB = tuple[int, int, int]


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The shipped DejaVu Sans at `size` px."""
    return ImageFont.truetype(io.BytesIO(font_bytes(BOLD if bold else REGULAR)), size)


def text_size(text: str, size: int, bold: bool = False) -> tuple[int, int]:
    """Width and line height (ascent + descent) of `text`, px."""
    face = font(size, bold)
    ascent, descent = face.getmetrics()
    return int(np.ceil(face.getlength(text))), ascent + descent


def draw_text(
    image: np.ndarray, text: str, origin: tuple[int, int], size: int, rgb: RGB = (0, 0, 0), *,
    bold: bool = False, background: RGB | None = None, pad: int = 0,
) -> tuple[int, int, int, int]:
    """Draw `text` into `image` (H, W, 3 uint8 RGB, in place) with its box's top-left corner at
    `origin`, moved as little as needed to keep the box (text plus `pad`) inside the picture;
    on `background` when given. Returns the box drawn (x0, y0, x1, y1)."""
    width, height = text_size(text, size, bold)
    box_w, box_h = width + 2 * pad, height + 2 * pad
    x0 = min(max(origin[0], 0), max(0, image.shape[1] - box_w))
    y0 = min(max(origin[1], 0), max(0, image.shape[0] - box_h))
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    if background is not None:
        draw.rectangle((x0, y0, x0 + box_w - 1, y0 + box_h - 1), fill=background)
    draw.text((x0 + pad, y0 + pad), text, font=font(size, bold), fill=rgb, anchor="la")
    image[...] = np.asarray(picture)
    return x0, y0, x0 + box_w, y0 + box_h
