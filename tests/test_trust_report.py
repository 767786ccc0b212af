"""The trust checks in a whole report (issue 15): every section filled on the demo detection, the
counterfactuals it reports flip when re-applied on their own, and a drawn face blurred in every
picture of the report while the explanation stays the one of the unmasked frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures.faces import clip_with_face

from auditor.demo import DEMO_FPS, demo_model_path, demo_profile
from auditor.detector import Detector, load_detector
from auditor.evidence import EvidenceRecord, load_record
from auditor.explain.counterfactual import Edit, apply_edit, pixels_key
from auditor.pipeline import ReportOptions, report_video
from auditor.scan.window import select_window
from auditor.synthetic import make_clip
from auditor.video import write_video


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(demo_model_path())


@pytest.fixture(scope="module")
def fall_report(detector: Detector, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EvidenceRecord]:
    folder = tmp_path_factory.mktemp("fall")
    video = write_video(folder / "fall.avi", make_clip("fall", 7).frames, DEMO_FPS)
    result = report_video(video, detector, folder / "report", ReportOptions(profile=demo_profile()))
    return video, result.record


def test_a_demo_report_carries_every_trust_section(fall_report: tuple[Path, EvidenceRecord]) -> None:
    _, record = fall_report
    ex = record.explanations
    assert record.schema_version == "2.7" and record.decision.predicted_class == "fall" and record.decision.flagged
    assert ex.motion is not None and len(ex.motion.frames) == 16 and ex.motion.overall_share["gradcam"] > 0.2
    assert {image.position for image in ex.motion.images} == set(ex.key_frames)
    assert ex.faithfulness is not None and ex.sanity is not None and ex.persons is not None
    gradcam = next(c for c in ex.faithfulness.curves if c.ordering == "gradcam")
    assert gradcam.deletion.auc < gradcam.random_deletion.auc
    assert [m.verdict for m in ex.sanity.methods] == ["passes", "passes"]
    assert all(m.abs_correlation < ex.sanity.threshold for m in ex.sanity.methods)  # the figure the verdict rests on
    assert ex.persons.positions == ex.key_frames
    assert record.masking is not None and record.masking.enabled and record.masking.faces == 0
    assert ex.counterfactuals is not None and ex.counterfactuals.original_flagged
    assert all(a.path in {i.path for i in ex.images} for a in record.artifacts if a.role.startswith("image-"))


def test_each_reported_counterfactual_flips_the_alert_when_reapplied_alone(
    fall_report: tuple[Path, EvidenceRecord], detector: Detector
) -> None:
    video, record = fall_report
    search = record.explanations.counterfactuals
    assert search is not None and search.found, "the fall clip (seed 7) has a counterfactual within the budget"
    recorded = select_window(video, 16, 0).frames
    arrays = np.load(_arrays(video, record))
    rule = detector.sidecar.decision_rule
    for number, edit in enumerate(search.found, start=1):
        pixels = arrays[pixels_key(number)] if edit.kind == "region" else None
        assert edit.pixels == (f"arrays.npz#{pixels_key(number)}" if edit.kind == "region" else None)
        edited = apply_edit(recorded, Edit(edit.kind, tuple(edit.positions) if edit.kind == "frames" else (),
                                           tuple(edit.replaced_by or ()), edit.level, pixels))
        probabilities = detector.predict(edited)
        top = int(np.argmax(probabilities))
        assert rule.raises_alert(detector.class_names[top], float(probabilities[top])) is False
        assert detector.class_names[top] == edit.predicted_class
        assert float(probabilities[top]) == pytest.approx(edit.predicted_probability, abs=1e-3)


def _arrays(video: Path, record: EvidenceRecord) -> Path:
    return video.parent / "report" / record.explanations.arrays.path


@pytest.fixture(scope="module")
def face_reports(detector: Detector, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The same clip with a drawn face, reported with face masking on and off."""
    folder = tmp_path_factory.mktemp("face")
    video = write_video(folder / "face.avi", clip_with_face().frames, DEMO_FPS)
    reports = {}
    for mask in (True, False):
        profile = demo_profile().model_copy(update={"mask_faces": mask})
        out = folder / f"mask-{mask}"
        report_video(video, detector, out, ReportOptions(profile=profile))
        reports[mask] = out
    return reports


def test_a_drawn_face_is_blurred_in_every_report_image(face_reports: dict[bool, Path]) -> None:
    masked, plain = (load_record(face_reports[m] / "evidence.json") for m in (True, False))
    assert masked.masking is not None and masked.masking.enabled and masked.masking.faces >= 16
    assert plain.masking is not None and not plain.masking.enabled
    assert masked.explanations.frames == plain.explanations.frames  # computed on the same, unmasked frames
    assert masked.decision == plain.decision
    boxes = {frame.position: frame.boxes for frame in masked.masking.frames}
    assert sorted(boxes) == list(range(16))
    pictures = [i for i in masked.explanations.images if i.kind != "legend"]
    assert {i.kind for i in pictures} >= {"gradcam", "saliency", "strip", "grid", "motion"}
    for image in pictures:
        shown = _image(face_reports[True] / image.path)
        unmasked = _image(face_reports[False] / image.path)
        assert shown.shape == unmasked.shape
        assert np.abs(shown.astype(int) - unmasked.astype(int)).mean() > 0.5, f"{image.path} shows the face unmasked"
        if image.kind in ("gradcam", "saliency") and image.frame is not None:
            _assert_blurred_only_on_faces(shown, unmasked, boxes[image.frame], masked)


def _assert_blurred_only_on_faces(shown: np.ndarray, unmasked: np.ndarray, boxes: list[list[int]],
                                  record: EvidenceRecord) -> None:
    """Inside each face box the picture differs strongly from the unmasked one; outside every box
    of this and the neighbouring frames it is identical (JPEG codes each 8×8 block on its own: a
    block no box reaches is the same in both pictures)."""
    geometry = record.explanations.geometry
    assert geometry is not None
    scale = geometry.image_width / geometry.source_width
    outside = np.ones(shown.shape[:2], bool)
    near = [b for frame in record.masking.frames for b in frame.boxes] if record.masking else []
    for x0, y0, x1, y1 in near:
        outside[int(y0 * scale) - 2 : int(y1 * scale) + 2, int(x0 * scale) - 2 : int(x1 * scale) + 2] = False
    difference = np.abs(shown.astype(int) - unmasked.astype(int)).max(axis=-1)
    assert difference[_whole_blocks(outside)].max() == 0
    for x0, y0, x1, y1 in boxes:
        inside = difference[int(y0 * scale) : int(y1 * scale), int(x0 * scale) : int(x1 * scale)]
        assert inside.mean() > 10


def _whole_blocks(mask: np.ndarray, block: int = 8) -> np.ndarray:
    """`mask` where a whole `block`×`block` block of the picture is in it, False elsewhere."""
    height, width = mask.shape
    padded = np.ones((-(-height // block) * block, -(-width // block) * block), bool)
    padded[:height, :width] = mask
    blocks = padded.reshape(padded.shape[0] // block, block, padded.shape[1] // block, block).all(axis=(1, 3))
    return np.repeat(np.repeat(blocks, block, axis=0), block, axis=1)[:height, :width]


def _image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image
