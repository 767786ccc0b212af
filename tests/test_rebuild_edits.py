"""Issue 23 item 1: every what-if edit a report states is rebuilt from the report folder alone and
re-scored with Keras, without auditor's edit code: `evidence.json` says what was edited, how the
replacement values are computed and how the edited clip became the model's input; `arrays.npz`
holds the edited pixels; the window is decoded from the video with OpenCV, blurred with cv2 and
scored by the model file loaded with `keras.saving.load_model`."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from fixtures.rebuild import decode_window, demo_report, load_demo_model, model_input, preprocessed

from auditor.demo import demo_model_path
from auditor.evidence import EvidenceRecord, Note
from auditor.evidence.trust import CounterfactualEdit, CounterfactualRecord, RegionBlur
from auditor.files import sha256_file
from auditor.report import narrative_trust as trust
from auditor.report.spec_words import spec_text

CLIP = ("fall", 6)  # the demo detector: a region blur and two frame edits each take the alert away
SIZE = 160  # recorded frames larger than the model's 64 x 64: resized, and blurred at 1/2 of the size


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, EvidenceRecord]:
    """A demo report of CLIP with the what-if search as its only check."""
    return demo_report(tmp_path_factory.mktemp("rebuild"), CLIP, SIZE, "counterfactuals")


def test_every_reported_edit_is_rebuilt_from_the_record_and_flips_with_keras(
    report: tuple[Path, Path, EvidenceRecord],
) -> None:
    video, folder, record = report
    search = record.explanations.counterfactuals
    assert search is not None and search.region_blur is not None and search.model_input
    assert {edit.kind for edit in search.found} == {"frames", "region"} and len(search.found) == 3
    recorded = decode_window(video, record)
    model = load_demo_model()
    assert sha256_file(demo_model_path()) == record.model.sha256
    arrays = np.load(folder / record.explanations.arrays.path)
    original = _scores(model, recorded, record)
    assert _flagged(original, record) == search.original_flagged == record.decision.flagged
    for edit in search.found:
        edited = _rebuilt(recorded, edit, search, arrays)
        probabilities = _scores(model, edited, record)
        top = int(np.argmax(probabilities))
        assert _flagged(probabilities, record) == edit.flagged != search.original_flagged, edit
        assert record.decision.classes[top].name == edit.predicted_class
        assert float(probabilities[top]) == pytest.approx(edit.predicted_probability, abs=1e-4)
        target = [c.name for c in record.decision.classes].index(record.decision.explained_class)
        assert float(probabilities[target]) == pytest.approx(edit.explained_probability, abs=1e-4)


def test_a_region_edit_names_its_exact_pixels(report: tuple[Path, Path, EvidenceRecord]) -> None:
    """The stored mask is the edit: its mean is the stated share, it covers the stated frames, and
    the stored coarse map-resolution component of earlier reports is gone."""
    _, folder, record = report
    search = record.explanations.counterfactuals
    assert search is not None
    arrays = np.load(folder / record.explanations.arrays.path)
    assert not [key for key in arrays.files if key.endswith("_region")]
    regions = [edit for edit in search.found if edit.kind == "region"]
    assert regions and all(edit.pixels for edit in search.found if edit.kind == "region")
    assert not [edit for edit in search.found if edit.kind == "frames" and edit.pixels]
    for edit in regions:
        pixels = _pixels(edit, arrays)
        geometry = record.explanations.geometry
        assert geometry is not None
        assert pixels.shape == (len(record.input.frame_indices), geometry.source_height, geometry.source_width)
        assert edit.edited_share == pixels.mean()
        assert edit.positions == [int(t) for t in np.flatnonzero(pixels.any(axis=(1, 2)))]
        assert edit.pixels.split("#") == [record.explanations.arrays.path, pixels_key(edit)]
        assert pixels_key(edit) in record.explanations.arrays.keys
    assert search.region_blur is not None and search.region_blur.downscale == 2 and search.region_blur.sigma == 8.0


def test_the_report_says_how_the_edits_were_searched_and_can_be_rebuilt(
    report: tuple[Path, Path, EvidenceRecord],
) -> None:
    _, folder, record = report
    search = record.explanations.counterfactuals
    assert search is not None
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "blurred areas from the largest within the budget down" in html
    assert "smaller edits were tried first" not in html  # the wording of records before 2.5
    scorer, blur, rule = spec_text(search.rescored_by), spec_text(search.blur), search.region_blur
    assert f"scored by {scorer}" in html and "predict_on_batch" in scorer
    assert f"the record states the blur ({blur})" in html and "cv2.GaussianBlur" in blur
    assert rule is not None and isinstance(search.blur, Note) and search.blur.params == {
        "sigma": rule.sigma, "factor": rule.downscale, "border": rule.border}  # the words state the rule rebuilt above


def _rebuilt(recorded: np.ndarray, edit: CounterfactualEdit, search: CounterfactualRecord,
             arrays: np.lib.npyio.NpzFile) -> np.ndarray:
    """The recorded clip with `edit` applied, from what the record and `arrays.npz` state."""
    edited = recorded.copy()
    if edit.kind == "frames":
        assert edit.replaced_by is not None and len(edit.replaced_by) == len(edit.positions)
        edited[edit.positions] = recorded[edit.replaced_by]
        return edited
    assert search.region_blur is not None
    pixels = _pixels(edit, arrays)
    for t in edit.positions:
        edited[t][pixels[t]] = _blurred(recorded[t], search.region_blur)[pixels[t]]
    return edited


def pixels_key(edit: CounterfactualEdit) -> str:
    assert edit.pixels is not None
    return edit.pixels.split("#")[1]


def _pixels(edit: CounterfactualEdit, arrays: np.lib.npyio.NpzFile) -> np.ndarray:
    """The edit's pixels (T, H, W) bool, from the `arrays.npz` member it names."""
    pixels = arrays[pixels_key(edit)]
    assert pixels.dtype == bool
    return pixels


def _blurred(frame: np.ndarray, blur: RegionBlur) -> np.ndarray:
    """The frame blurred as `blur` states, with OpenCV."""
    assert blur.border == "BORDER_REFLECT_101"
    height, width = frame.shape[:2]
    f = blur.downscale
    if f == 1:
        return cv2.GaussianBlur(frame, (0, 0), blur.sigma, borderType=cv2.BORDER_REFLECT_101)
    small = cv2.resize(frame, (round(width / f), round(height / f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), blur.sigma / f, borderType=cv2.BORDER_REFLECT_101)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _scores(model: keras.Model, clip: np.ndarray, record: EvidenceRecord) -> np.ndarray:
    """The model file's class probabilities of one recorded clip, made its input as `model_input` states."""
    return np.asarray(model(preprocessed(model_input(clip, record)[np.newaxis], record), training=False))[0]


def _flagged(probabilities: np.ndarray, record: EvidenceRecord) -> bool:
    top = int(np.argmax(probabilities))
    name = record.decision.classes[top].name
    return name != record.decision.normal_class and float(probabilities[top]) >= record.decision.threshold


def test_each_frame_edit_names_exactly_the_frames_it_replaced(report: tuple[Path, Path, EvidenceRecord]) -> None:
    """Frames 10 and 12 replaced are not 'frames 10–12' (the sentence said so while frame 11 was kept)."""
    _, _, record = report
    search = record.explanations.counterfactuals
    assert search is not None
    gaps = 0
    for edit in (e for e in search.found if e.kind == "frames"):
        numbers = [record.input.frame_indices[t] for t in edit.positions]
        consecutive = edit.positions == list(range(edit.positions[0], edit.positions[-1] + 1))
        named = f"frames {numbers[0]}–{numbers[-1]}" if consecutive else (
            "frames " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}")
        assert f"Replacing {named} ({len(numbers)} of" in trust.counterfactual_edit(record, edit)
        gaps += not consecutive
    assert gaps == 1  # CLIP's frame edits: frames 10 and 12, and frames 0–2
