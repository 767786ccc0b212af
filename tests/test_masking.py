"""Bystander masking (issue 15, item 6): faces found by OpenCV's Haar cascades are blurred, and
nothing else in the frame changes."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from fixtures.faces import clip_with_face

from auditor.report import shown_frames
from auditor.report.shown_frames import ShownFrames
from auditor.synthetic import make_clip
from auditor.video.masking import (
    FRONTAL,
    METHOD,
    PROFILE,
    FaceMasking,
    MaskSettings,
    detection_scale,
    find_faces,
    mask_faces,
)


@pytest.fixture(scope="module")
def face_clip():
    return clip_with_face()


@pytest.fixture(scope="module")
def found(face_clip):
    return find_faces(face_clip.frames)


def _contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _overlaps(a, b) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def test_the_drawn_face_is_found_in_every_frame(face_clip, found) -> None:
    assert len(found.boxes) == len(face_clip.frames) == 16
    for boxes, drawn in zip(found.boxes, face_clip.boxes, strict=True):
        assert any(_contains(box, drawn) for box in boxes), (boxes, drawn)
    assert found.count >= 16


def test_masking_hides_the_face_and_changes_nothing_else(face_clip, found) -> None:
    original = face_clip.frames.copy()
    masked = mask_faces(face_clip.frames, found)
    np.testing.assert_array_equal(face_clip.frames, original)  # pure: the input is untouched
    inside = np.zeros(masked.shape[:3], bool)
    for t, boxes in enumerate(found.boxes):
        for x0, y0, x1, y1 in boxes:
            inside[t, y0:y1, x0:x1] = True
    np.testing.assert_array_equal(masked[~inside], original[~inside])
    for t, (x0, y0, x1, y1) in enumerate(face_clip.boxes):
        difference = np.abs(masked[t, y0:y1, x0:x1].astype(int) - original[t, y0:y1, x0:x1].astype(int))
        assert difference.mean() > 20, (t, difference.mean())
    again = find_faces(masked)
    for boxes, drawn in zip(again.boxes, face_clip.boxes, strict=True):
        assert not any(_overlaps(box, drawn) for box in boxes), boxes


@pytest.mark.parametrize("label", ["normal", "fight", "fall"])
def test_face_free_synthetic_clips_get_no_boxes(label: str) -> None:
    for seed in range(3):
        frames = make_clip(label, seed).frames
        masking = find_faces(frames)
        assert masking.count == 0 and masking.boxes == ((),) * 16
        masked = mask_faces(frames, masking)
        assert masked is not frames
        np.testing.assert_array_equal(masked, frames)


def test_the_masking_states_what_it_did_and_is_deterministic(face_clip, found) -> None:
    assert found.cascades == (FRONTAL, PROFILE) and found.method == METHOD
    assert found.settings == MaskSettings() and found.detection_scale == 1.0
    assert found.count == sum(len(boxes) for boxes in found.boxes)
    assert find_faces(face_clip.frames) == found
    np.testing.assert_array_equal(mask_faces(face_clip.frames, found), mask_faces(face_clip.frames, found))


def test_small_frames_are_enlarged_for_detection_and_large_ones_reduced() -> None:
    assert detection_scale(64, 64) == pytest.approx(240 / 64)
    assert detection_scale(576, 768) == 1.0
    assert detection_scale(2160, 3840) == pytest.approx(2000 / 3840)


def test_malformed_input_is_refused(face_clip, found) -> None:
    with pytest.raises(ValueError, match="uint8"):
        find_faces(face_clip.frames.astype(np.float32))
    with pytest.raises(ValueError, match="frames"):
        mask_faces(face_clip.frames[:4], found)


def test_an_edit_that_brings_in_another_recorded_frame_is_masked_with_its_faces_found_once(
    face_clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = ShownFrames.of(face_clip.frames, mask=True)
    assert shown.masking is not None and shown.masked is not None
    looked_again = find_faces(face_clip.frames[9][np.newaxis]).boxes[0]
    assert looked_again == shown.masking.boxes[9] and looked_again
    boxes = tuple(dict.fromkeys(shown.masked.boxes[2] + looked_again))
    expected = mask_faces(face_clip.frames[9][np.newaxis], replace(shown.masked, boxes=(boxes,)))[0]
    calls: list[int] = []

    def counting(frames: np.ndarray, settings: MaskSettings) -> FaceMasking:
        calls.append(len(frames))
        return find_faces(frames, settings)

    monkeypatch.setattr(shown_frames, "find_faces", counting)
    np.testing.assert_array_equal(shown.edited(face_clip.frames[9].copy(), 2), expected)  # frame 9 in place of 2
    assert calls == []
    blurred = cv2.GaussianBlur(face_clip.frames[2], (0, 0), 3)  # a region edit: a frame never recorded
    edited = shown.edited(blurred, 2)
    assert calls == [1]
    face = face_clip.boxes[2]
    assert np.abs(edited[face[1]:face[3], face[0]:face[2]].astype(int) - blurred[face[1]:face[3], face[0]:face[2]]).mean() > 10
