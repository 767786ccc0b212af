"""Person grounding (issue 15, item 5): HOG pedestrians in the key frames and the share of the
Grad-CAM activation on each."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from auditor.explain.persons import (
    DetectedPerson,
    PersonGrounding,
    ground_persons,
    iou,
    link_boxes,
    upscale_factor,
)
from auditor.scan.window import select_window

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
KEYS = (0, 5, 10, 15)
MAP_SIZE = (144, 192)  # a quarter of vtest's 576×768: a person box spans several map cells


@pytest.fixture(scope="module")
def vtest() -> np.ndarray:
    return select_window(VTEST, 16, 100).frames


@pytest.fixture(scope="module")
def grounded(vtest) -> PersonGrounding:
    return ground_persons(vtest, np.ones((16, *MAP_SIZE), np.float32), KEYS)


def test_hog_finds_the_pedestrians_of_vtest_in_every_key_frame(vtest, grounded) -> None:
    assert vtest.shape == (16, 576, 768, 3)
    assert grounded.positions == KEYS and grounded.frames_without_person == ()
    assert grounded.upscale == pytest.approx(128 / (0.15 * 576))
    for position in KEYS:
        boxes = [person.boxes[position] for person in grounded.persons if position in person.boxes]
        assert len(boxes) >= 3, (position, boxes)
        assert all(0 <= x0 < x1 <= 768 and 0 <= y0 < y1 <= 576 for x0, y0, x1, y1 in boxes)
        assert all(iou(a, b) < 0.3 for i, a in enumerate(boxes) for b in boxes[i + 1 :])  # after NMS


def test_a_map_on_one_person_gives_that_person_the_whole_share(vtest, grounded) -> None:
    position, target = _isolated_person(grounded)
    x0, y0, x1, y1 = target.boxes[position]
    cam = np.zeros((16, *MAP_SIZE), np.float32)
    # one map cell (4 px) inside the box on every side: bilinear upsampling spreads a cell's edge by half a cell
    cam[position, y0 // 4 + 1 : y1 // 4 - 1, x0 // 4 + 1 : x1 // 4 - 1] = 1.0
    result = ground_persons(vtest, cam, KEYS)
    assert [p.boxes for p in result.persons] == [p.boxes for p in grounded.persons]
    by_id = {person.person_id: person for person in result.persons}
    assert by_id[target.person_id].frame_shares[position] > 0.97
    assert by_id[target.person_id].share > 0.97
    for person in result.persons:
        if person.person_id != target.person_id:
            assert all(share < 0.03 for share in person.frame_shares.values()), person


def test_person_ids_are_stable_across_nearby_frames(vtest) -> None:
    result = ground_persons(vtest, np.ones((16, 16, 16), np.float32), (0, 1, 2, 3))
    followed = [person for person in result.persons if len(person.boxes) >= 3]
    assert len(followed) >= 3
    for person in result.persons:
        positions = sorted(person.boxes)
        for a, b in itertools.pairwise(positions):
            assert iou(person.boxes[a], person.boxes[b]) >= 0.3
    firsts = [min(person.boxes) for person in result.persons]
    assert firsts == sorted(firsts) and [p.person_id for p in result.persons] == list(range(1, len(firsts) + 1))


def test_linking_is_greedy_by_overlap_with_ids_by_first_appearance_then_left_to_right() -> None:
    right, left = (200, 10, 250, 110), (10, 10, 60, 110)
    frames = [
        [right, left],
        [(14, 12, 64, 112), (100, 10, 150, 110)],  # left moved a little; a new person in the middle
        [(204, 10, 254, 110)],  # the right person again, near their last box two frames ago
    ]
    tracks = link_boxes(frames, 0.3)
    assert tracks == [
        {0: left, 1: (14, 12, 64, 112)},
        {0: right, 2: (204, 10, 254, 110)},
        {1: (100, 10, 150, 110)},
    ]
    assert link_boxes(frames, 0.3) == tracks


def test_a_blank_frame_reports_that_nobody_was_detected() -> None:
    blank = np.full((16, 64, 64, 3), 128, np.uint8)
    result = ground_persons(blank, np.ones((16, 16, 16), np.float32), (3, 9))
    assert result.persons == () and result.frames_without_person == (3, 9)
    assert result.upscale == pytest.approx(128 / 32)


def test_the_upscale_brings_a_small_person_to_the_window_height_within_the_size_bound() -> None:
    assert upscale_factor(576, 768) * 0.15 * 576 == pytest.approx(128)
    assert upscale_factor(64, 64) == pytest.approx(128 / 32)  # a 9.6-px person is not looked for
    assert upscale_factor(300, 4000) == pytest.approx(0.5)  # bounded: the longer side stays at 2000 px


def test_too_many_key_frames_or_mismatched_maps_are_refused(vtest) -> None:
    with pytest.raises(ValueError, match="at most 8"):
        ground_persons(vtest, np.zeros((16, 16, 16), np.float32), range(9))
    with pytest.raises(ValueError, match="gradcam"):
        ground_persons(vtest, np.zeros((8, 16, 16), np.float32), (0,))


def _isolated_person(grounding: PersonGrounding) -> tuple[int, DetectedPerson]:
    """A key frame and a person whose box there overlaps nobody else's (boxes a map cell apart)."""
    for position in grounding.positions:
        here = [p for p in grounding.persons if position in p.boxes]
        for person in here:
            x0, y0, x1, y1 = person.boxes[position]
            grown = (x0 - 4, y0 - 4, x1 + 4, y1 + 4)
            if all(iou(grown, other.boxes[position]) == 0 for other in here if other is not person):
                return position, person
    raise AssertionError("no isolated person in the key frames")
