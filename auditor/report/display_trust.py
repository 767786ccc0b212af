"""Pictures of the trust checks for the report: for each key frame, its Grad-CAM held still beside
the part due to movement; for each what-if edit, the key frame as recorded beside it as edited.

Each picture is two panels side by side at the per-frame pictures' size (`display.FrameGeometry`),
without words: the report's caption says what the left and the right panel show
(`auditor.report.captions`). The frames given here are the ones the report may show (faces already
masked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from auditor.explain.checks import TrustChecks
from auditor.explain.contours import normalise
from auditor.explain.methods import primary_map
from auditor.explain.motion import motion_parts
from auditor.explain.persons import PersonGrounding
from auditor.report.display import (
    FrameGeometry,
    ImageArtifact,
    ImageKind,
    Picture,
    display_frame,
    join_images,
    overlay,
    resize_map,
    write_picture,
)
from auditor.report.picture_text import draw_text, text_size


@dataclass(frozen=True)
class TrustImages:
    """The trust checks' pictures: every file, the motion picture of each key frame, and one
    picture per reported what-if edit (in the edits' order)."""

    artifacts: tuple[ImageArtifact, ...] = ()
    motion: Mapping[int, str] = field(default_factory=dict)
    counterfactuals: tuple[str, ...] = ()
    persons: tuple[int, str] | None = None  # the key frame with the people's boxes, and its picture


def write_trust_images(
    checks: TrustChecks,
    gradcam: np.ndarray,
    shown: np.ndarray,
    edited_key_frames: Sequence[np.ndarray],
    geometry: FrameGeometry,
    out_dir: Path,
) -> TrustImages:
    """The pictures of `checks` over the frames the report may show (`shown`, faces masked), with
    the edited key frames of the reported edits (masked too) in the edits' order."""
    motion = []
    primary = primary_map().name
    if (checks.motion is not None and primary in checks.motion.spatial_maps
            and checks.motion.overall_shares[primary] is not None):
        still, moving = motion_parts(gradcam, checks.motion.spatial_maps[primary], checks.motion.kept)
        motion = write_motion_images(shown, still, moving, checks.key_frames, geometry, out_dir)
    found = checks.counterfactuals.found if checks.counterfactuals else ()
    edits = [
        write_counterfactual_image(shown[item.key_position], edited, item.key_position, number, geometry, out_dir)
        for number, (item, edited) in enumerate(zip(found, edited_key_frames, strict=True), start=1)
    ]
    people = [write_person_image(shown, gradcam, checks.persons, geometry, out_dir)] if (
        checks.persons is not None and checks.persons.persons) else []
    return TrustImages(
        artifacts=tuple(motion + edits + people),
        motion={int(a.frame): a.path for a in motion if a.frame is not None},
        counterfactuals=tuple(a.path for a in edits),
        persons=(int(people[0].frame), people[0].path) if people and people[0].frame is not None else None,
    )


def write_person_image(
    shown: np.ndarray, gradcam: np.ndarray, grounding: PersonGrounding, geometry: FrameGeometry, out_dir: Path
) -> ImageArtifact:
    """persons_TT: the key frame where most people were detected, with the clip-scaled Grad-CAM
    heat, each person's box and "N: share" (the person's number and share of the frame's
    activation; numbers only, the caption says what they are), in the picture."""
    position = max(grounding.positions, key=lambda t: (sum(t in p.boxes for p in grounding.persons), -t))
    size = (geometry.image_width, geometry.image_height)
    image = overlay(display_frame(shown[position], size), resize_map(normalise(gradcam)[position], size))
    scale = geometry.image_width / geometry.source_width
    thickness = max(2, round(geometry.image_width / 320))
    for person in grounding.persons:
        if position not in person.boxes:
            continue
        x0, y0, x1, y1 = (round(v * scale) for v in person.boxes[position])
        cv2.rectangle(image, (x0, y0), (x1, y1), (0, 255, 255), thickness, cv2.LINE_AA)
        label = person_mark(person.person_id, person.frame_shares[position])
        text_px = max(12, round(geometry.image_width / 45))
        label_height = text_size(label, text_px, bold=True)[1] + 4
        above = y0 - label_height >= 0  # above the box when there is room, else inside its top
        draw_text(image, label, (x0, y0 - label_height if above else y0 + thickness), text_px, (0, 0, 0), bold=True,
                  background=(0, 255, 255), pad=2)
    return _write(out_dir, f"persons_{position:02d}", "persons", position, image)


def write_motion_images(
    shown: np.ndarray,
    still: np.ndarray,
    moving: np.ndarray,
    positions: Sequence[int],
    geometry: FrameGeometry,
    out_dir: Path,
) -> list[ImageArtifact]:
    """motion_TT for each key position: the part of the frame's Grad-CAM the frame held still
    accounts for (left) and the part due to movement (right), `motion.motion_parts` (T, h, w), both
    on the frame's own scale (the larger of the two parts' peaks)."""
    size = (geometry.image_width, geometry.image_height)
    digits = max(2, len(str(len(shown) - 1)))
    written = []
    for t in positions:
        peak = max(float(still[t].max(initial=0.0)), float(moving[t].max(initial=0.0))) or 1.0
        base = display_frame(shown[t], size)
        panels = [overlay(base, resize_map((still[t] / peak).astype(np.float32), size)),
                  overlay(base, resize_map((moving[t] / peak).astype(np.float32), size))]
        written.append(_write(out_dir, f"motion_{t:0{digits}d}", "motion", t, join_images(panels, axis=1)))
    return written


def write_counterfactual_image(
    original: np.ndarray, edited: np.ndarray, position: int, number: int, geometry: FrameGeometry, out_dir: Path
) -> ImageArtifact:
    """counterfactual_N: one frame as recorded (left) and as edited (right)."""
    size = (geometry.image_width, geometry.image_height)
    panels = [display_frame(original, size), display_frame(edited, size)]
    return _write(out_dir, f"counterfactual_{number}", "counterfactual", position, join_images(panels, axis=1))


def person_mark(person_id: int, share: float) -> str:
    """The mark by a person's box: their number and share of the frame's activation, '6: 40 %' (the
    same in every language: the picture's SHA-256 is in the record)."""
    return f"{person_id}: {share:.0%}".replace("%", " %")


def _write(out_dir: Path, stem: str, kind: ImageKind, frame: int, rgb: np.ndarray) -> ImageArtifact:
    return write_picture(out_dir, Picture(stem, kind, frame, rgb))
