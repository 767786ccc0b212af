"""One descriptor per explanation method (issue 25, item 6): every method the pipeline can produce
has one, the report's words about methods come from them, and no display, narrative or template
file names a method by its code. The pictures they describe hold no words, so they are the same in
every language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fixtures.report_records import make_explanation, make_report_folder
from PIL import Image

import auditor
from auditor import explain, i18n
from auditor.explain.methods import METHODS, map_methods, method, primary_map
from auditor.report import captions, narrative_trust
from auditor.report.display import (
    BAR_HEIGHT,
    BAR_LEFT,
    BAR_TOP,
    COLOUR_MAPS,
    SHEET_KINDS,
    draw_explanation,
    encode_picture,
)
from auditor.report.display_trust import write_counterfactual_image
from auditor.report.narrative_sanity import method_name
from auditor.report.picture_text import text_size

PACKAGE = Path(auditor.__file__).parent
TEMPLATES = PACKAGE.parent / "templates"
# The files that must iterate over the descriptors instead of naming methods.
WORDING_FILES = [
    *(PACKAGE / "report" / name for name in (
        "display.py", "display_trust.py", "narrative.py", "narrative_attention.py", "narrative_trust.py",
        "narrative_sanity.py", "narrative_faithfulness.py", "captions.py", "charts.py", "clip.py", "shown_frames.py",
        "picture_text.py", "quantities.py", "layer_names.py")),
    *(path for path in TEMPLATES.rglob("*.j2") if "desk" not in path.parts),
]
CODE = re.compile("[\"'](" + "|".join(map(re.escape, METHODS)) + ")[\"']")


@pytest.mark.parametrize("path", WORDING_FILES, ids=lambda p: p.name)
def test_no_wording_file_names_a_method_by_its_code(path: Path) -> None:
    found = [m.group(0) for m in CODE.finditer(path.read_text(encoding="utf-8"))]
    assert not found, f"{path.name} names methods by code: {found}; iterate over auditor.explain.methods instead"


def test_the_table_of_method_names_is_gone() -> None:
    for module in ("narrative_sanity.py", "narrative_trust.py"):
        assert "_METHOD_NAMES" not in (PACKAGE / "report" / module).read_text(encoding="utf-8")


def test_every_method_the_pipeline_can_produce_has_a_descriptor() -> None:
    assert set(explain.METHODS) == {d.name for d in map_methods()}
    assert set(explain.FRAME_IMPORTANCE) == {d.name for d in METHODS.values() if d.family == "frame_importance"}
    assert set(explain.DEFAULT_METHODS) | set(explain.DEFAULT_FRAME_IMPORTANCE) <= set(METHODS)
    assert [d.name for d in METHODS.values() if d.primary] == [primary_map().name]
    assert method("no-such-method") is None
    for descriptor in METHODS.values():
        assert descriptor.label and descriptor.term and descriptor.description and descriptor.limitation
        assert (descriptor.picture is not None) == (descriptor.family == "map")
        if descriptor.picture is not None:
            assert descriptor.picture in descriptor.kinds and descriptor.picture not in SHEET_KINDS
            assert descriptor.colour_map in COLOUR_MAPS


def test_the_frame_importance_modules_take_their_words_from_the_descriptors() -> None:
    for name, computed in explain.FRAME_IMPORTANCE.items():
        descriptor = METHODS[name]
        assert (computed.label, computed.description, computed.limitation) == (
            descriptor.label, descriptor.description, descriptor.limitation)


def test_every_descriptor_text_is_extracted_for_the_translators() -> None:
    """The words are literal `N_` msgids, so Babel's extraction finds every one of them."""
    extracted = {message for _, message, _, _ in extract_from_file("python", str(PACKAGE / "explain" / "methods.py"))}
    for descriptor in METHODS.values():
        assert {descriptor.label, descriptor.term, descriptor.description, descriptor.limitation} <= extracted


def test_the_report_draws_one_picture_per_frame_for_every_map_descriptor() -> None:
    explanation = make_explanation()
    drawing = draw_explanation(explanation, recorded=explanation.frames)
    frames = len(explanation.frames)
    for descriptor in map_methods():
        assert [p.frame for p in drawing.pictures if p.kind == descriptor.picture] == list(range(frames))
    assert {p.kind for p in drawing.pictures} == {d.picture for d in map_methods()} | {"strip", "grid", "legend"}


def test_method_names_and_captions_come_from_the_descriptors(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    assert method_name("saliency") == "saliency" and narrative_trust.method_title("saliency") == "Saliency"
    assert narrative_trust.method_title("occlusion") == "Frame occlusion"
    assert narrative_trust.shown_maps(record) == [d.name for d in map_methods()]
    intro = captions.key_frames_intro(record)
    assert "Left: the frame with a heatmap" in intro and "Right: saliency, the pixels" in intro
    pictures = captions.key_frame_pictures(record, record.explanations.key_frames[0])
    assert [image.kind for image, _ in pictures] == [d.picture for d in map_methods()]
    assert [caption for _, caption in pictures] == ["Grad-CAM with contours", "Saliency"]


def test_pictures_are_the_same_in_every_language(tmp_path: Path) -> None:
    """No picture depends on the catalog: drawn in English and in German, every byte agrees; the
    what-if picture is two bare panels, without a caption band."""
    explanation = make_explanation()
    drawn = {}
    for code in ("en", "de"):
        with i18n.speaking(code):
            pictures = draw_explanation(explanation, recorded=explanation.frames).pictures
            drawn[code] = [encode_picture(p.rgb, lossless=True) for p in pictures]
    assert drawn["en"] == drawn["de"]
    geometry = draw_explanation(explanation, recorded=explanation.frames).geometry
    frame = explanation.frames[0]
    artifact = write_counterfactual_image(frame, frame[::-1], 0, 1, geometry, tmp_path)
    with Image.open(tmp_path / artifact.path) as picture:
        assert picture.size == (2 * geometry.image_width + 2, geometry.image_height)


def test_the_legend_holds_numbers_only() -> None:
    """The legend's title and the words after each contour level are gone: above the colour bar
    there is no ink, and each contour row ends with its level ("25 %")."""
    explanation = make_explanation()
    legend = next(p.rgb for p in draw_explanation(explanation, recorded=explanation.frames).pictures
                  if p.kind == "legend")
    dark = (legend < 128).all(axis=-1)
    assert not dark[: BAR_TOP - 7].any()  # the old title "Heat colour: share of …" stood here (level marks start below)
    row_start = BAR_TOP + BAR_HEIGHT + 44
    level_end = BAR_LEFT + 116 + text_size("100 %", 18)[0]
    assert dark[row_start:, BAR_LEFT + 116 : level_end].any() and not dark[row_start:, level_end + 4 :].any()
