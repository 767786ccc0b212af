"""Text in the report's pictures: drawn in the shipped DejaVu Sans (not OpenCV's stroke font) and
kept inside the picture, also for a person at the edge of the frame (issue 24, item 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from auditor.explain.persons import DetectedPerson, PersonGrounding
from auditor.report.display import UNLOCALISED_MARK, FrameGeometry, _mark_unlocalised, labelled_tile
from auditor.report.display_trust import person_mark, write_person_image
from auditor.report.picture_text import draw_text, text_size

CYAN = np.array([0, 255, 255])


def test_text_is_drawn_in_the_shipped_font() -> None:
    tile = labelled_tile(np.zeros((40, 40, 3), np.uint8), 40, "12")
    expected = np.full((tile.shape[0] - 40, tile.shape[1], 3), 255, np.uint8)
    draw_text(expected, "12", (4, 1), expected.shape[0] - 4)
    assert np.array_equal(tile[40:], expected) and (expected < 128).any()
    marked = _mark_unlocalised(np.full((300, 640, 3), 90, np.uint8))
    width, height = text_size(UNLOCALISED_MARK, 20, bold=True)
    blank = np.full((300, 640, 3), 90, np.uint8)
    draw_text(blank, UNLOCALISED_MARK, (0, 0), 20, bold=True, background=(255, 255, 255), pad=6)
    assert np.array_equal(marked, blank) and (marked[: height + 12, width + 11] == 255).all()


def test_a_label_past_the_edge_is_moved_inside_the_picture() -> None:
    image = np.zeros((50, 100, 3), np.uint8)
    box = draw_text(image, "person 6: 40 %", (90, 45), 12, background=(255, 255, 255), pad=2)
    width, height = text_size("person 6: 40 %", 12)
    assert box == (100 - width - 4, 50 - height - 4, 100, 50)
    assert (image[box[1] : box[3], box[0] : box[2]] == 255).any(axis=-1).mean() > 0.5


def test_a_person_at_the_frame_edge_keeps_a_whole_label(tmp_path: Path) -> None:
    """The field test's "6:" cut at the right edge: the label's cyan box now ends at the edge,
    whole, above the box or inside its top when the box touches the picture's top."""
    width, height = 320, 240
    shown = np.full((1, height, width, 3), 60, np.uint8)
    person = DetectedPerson(person_id=6, boxes={0: (296, 0, 320, 80)}, frame_shares={0: 0.4}, share=0.4)
    grounding = PersonGrounding(positions=(0,), persons=(person,), upscale=1.0, window=(64, 128),
                                frames_without_person=())
    geometry = FrameGeometry(width, height, 64, 64, "stretch", width, height)
    artifact = write_person_image(shown, np.zeros((1, 8, 8), np.float32), grounding, geometry, tmp_path)
    picture = np.asarray(Image.open(tmp_path / artifact.path).convert("RGB")).astype(int)
    assert person_mark(6, 0.4) == "6: 40 %"
    label_w, label_h = text_size("6: 40 %", 12, bold=True)
    cyan = (np.abs(picture - CYAN).max(axis=-1) < 40)
    rows = slice(4, label_h)  # inside the box's top: the box starts at the picture's top
    assert cyan[rows, width - label_w - 2 : width - 2].mean() > 0.6  # the whole label's background is there
