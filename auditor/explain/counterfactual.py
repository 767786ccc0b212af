"""What-if counterfactuals (DESIGN §2, "Counterfactuals"): small edits of the recorded clip that
change the alert decision, each re-applied on its own and re-scored before it is reported.

A flip: `rule.raises_alert(top class, its probability)` of the edited clip differs from the
original's (an alert that disappears, or, for an unflagged clip, one that would be raised).

Edits, always applied to the recorded frames (the model sees `detector.resize(edited)`):

- **frames**: a set S of positions, each replaced by the nearest frame outside S (the earlier
  one on a tie). Candidates, smallest k first, k = 1 … `max_frames` (default T // 4, at least 1,
  at most T − 1): the k frames ranked highest by frame occlusion (else by Grad-CAM share), then
  every contiguous run of k frames from the start. The CNN sees each frame alone, so they are
  scored exactly from the per-frame features, computed once, in one batched head call.
- **region**: the Grad-CAM, normalised per frame (each frame by its own peak), thresholded at
  each contour level (0.9, 0.75, 0.5, 0.25); each 3-D connected component of that volume (26-connectivity over
  T × h × w, so a moving figure is one tube) is stretched to the recorded frames (bilinear resize
  of the mask, kept where ≥ 0.5), dilated by half a map cell (at least 1 pixel, square kernel)
  and, in each frame, replaced there by the frame blurred with a Gaussian of sigma
  `BLUR_SIGMA_SHARE` × max(H, W) of the recorded frame. Smallest edited share first; only
  regions covering at most `max_area` of the clip's pixels, at most `max_candidates` of them,
  scored with `detector.clip_probabilities` in a few memory-bounded batched calls. Per frame, not
  per clip: with the clip's peak the thresholded volume holds the figure in only one or two
  frames (the Grad-CAM peaks in a few frames), and blurring it there changes no decision; per
  frame, a component is the figure's tube through the frames where it is the strongest evidence.

Diversity: up to `max_reported` flips whose frame sets (frames) or edited pixels (regions) are
pairwise disjoint; first the smallest verified flip of each kind, then the rest by edited share.
Each is rebuilt from the recorded clip (`apply_edit`) and scored by the loaded Keras model
itself; only edits whose independent score flips are reported, with that score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import cv2
import numpy as np
from scipy import ndimage

from auditor.explain.base import ClipExplanation, DetectorLike
from auditor.explain.contours import DEFAULT_LEVELS, Scale, normalise
from auditor.explain.occlusion import replacements
from auditor.sidecar import DecisionRule

BLUR_SIGMA_SHARE = 0.05  # Gaussian sigma of a region blur, as a share of the frame's longer side
DILATION_CELLS = 0.5  # region masks grow by this many Grad-CAM cells (at least 1 pixel)
MAX_BATCH_BYTES = 256 * 2**20  # edited clips built for one clip_probabilities call
REGION_SCALE: Scale = "frame"  # Grad-CAM normalised per frame before thresholding (module doc)

Kind = Literal["frames", "region"]


@dataclass(frozen=True)
class CounterfactualBudget:
    """How far the search goes. `max_frames` None means T // 4 (at least 1); `max_area` is a share
    of the clip's pixels; `max_candidates` bounds each kind's candidates."""

    max_frames: int | None = None
    max_area: float = 0.25
    max_candidates: int = 64
    max_reported: int = 3
    max_rescored: int = 6  # independent re-scores (one Keras model call each) at most

    def resolved(self, frames: int) -> CounterfactualBudget:
        """This budget with `max_frames` fixed for a clip of `frames` frames."""
        wanted = max(1, frames // 4) if self.max_frames is None else self.max_frames
        return replace(self, max_frames=max(0, min(wanted, frames - 1)))


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class Edit:
    """One edit of a clip: frames `positions` replaced by `replaced_by`, or a Grad-CAM component
    (`mask`, (T, h, w) bool at map resolution, found at contour `level`) blurred."""

    kind: Kind
    positions: tuple[int, ...] = ()
    replaced_by: tuple[int, ...] = ()
    level: float | None = None
    mask: np.ndarray | None = None


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class Counterfactual:
    """One reported edit, re-applied on its own and re-scored by the loaded model."""

    edit: Edit
    edited_share: float  # frames: k / T; region: share of the clip's recorded pixels
    probabilities: np.ndarray  # (n_classes,) float32, from the independent re-score
    predicted_index: int
    flagged: bool
    key_position: int  # region: the frame with most edited pixels; frames: the first replaced
    key_frame: np.ndarray  # (H, W, 3) uint8, the edited key frame at recorded size

    @property
    def kind(self) -> Kind:
        return self.edit.kind


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class CounterfactualSearch:
    """The outcome: `found` is empty when no edit within `budget` flips the decision."""

    original_flagged: bool
    found: tuple[Counterfactual, ...]
    candidates_tried: int
    frame_candidates: int
    region_candidates: int
    budget: CounterfactualBudget  # resolved: max_frames is an int
    blur_sigma: float  # pixels, at recorded size


def search_counterfactuals(
    detector: DetectorLike,
    recorded: np.ndarray,
    explanation: ClipExplanation,
    rule: DecisionRule,
    budget: CounterfactualBudget = CounterfactualBudget(),
) -> CounterfactualSearch:
    """Search small edits of `recorded` (T, H, W, 3) uint8 that flip `rule`'s decision (module doc)."""
    count, height, width = recorded.shape[:3]
    budget = budget.resolved(count)
    names = explanation.class_names
    original = _flagged(rule, names, explanation.probabilities)
    frame_edits = frame_candidates(count, _frame_ranking(explanation), budget)
    features = explanation.frame_features
    features = detector.frame_features(recorded) if features is None else features  # reused from the explanation
    frame_probs = frame_edit_probabilities(detector, features, frame_edits)
    region_edits = region_candidates(explanation.maps["gradcam"], (height, width), budget)
    region_probs = _region_probabilities(detector, recorded, region_edits)
    flips = [
        (edit, _share(edit, recorded.shape))
        for edit, probs in zip(frame_edits + region_edits, [*frame_probs, *region_probs], strict=True)
        if _flagged(rule, names, probs) != original
    ]
    found = choose_diverse(flips, recorded.shape, partial(_verified, detector, recorded, rule, names, original), budget)
    return CounterfactualSearch(
        original_flagged=original,
        found=found,
        candidates_tried=len(frame_edits) + len(region_edits),
        frame_candidates=len(frame_edits),
        region_candidates=len(region_edits),
        budget=budget,
        blur_sigma=blur_sigma(height, width),
    )


def apply_edit(recorded: np.ndarray, edit: Edit) -> np.ndarray:
    """The recorded clip (T, H, W, 3) uint8 with `edit` applied; a new array."""
    edited = recorded.copy()
    if edit.kind == "frames":
        edited[list(edit.positions)] = recorded[list(edit.replaced_by)]
        return edited
    pixels = region_pixels(edit.mask, recorded.shape[1:3])
    blurred = blurred_clip(recorded)
    edited[pixels] = blurred[pixels]
    return edited


def frame_candidates(count: int, ranking: np.ndarray | None, budget: CounterfactualBudget) -> list[Edit]:
    """Frame edits, smallest first: for each k, the top-k ranked frames, then the runs of k frames
    from the start; a set once; at most `max_candidates`; `budget` resolved for `count` frames."""
    largest = budget.resolved(count).max_frames or 0
    sets: list[tuple[int, ...]] = []
    for k in range(1, largest + 1):
        if ranking is not None:
            sets.append(tuple(sorted(int(t) for t in np.argsort(-ranking, kind="stable")[:k])))
        sets.extend(tuple(range(start, start + k)) for start in range(count - k + 1))
    unique = list(dict.fromkeys(sets))[: budget.max_candidates]
    return [Edit("frames", positions, replacements(positions, count)) for positions in unique]


def frame_edit_probabilities(detector: DetectorLike, features: np.ndarray, edits: Sequence[Edit]) -> np.ndarray:
    """Class probabilities (N, n) of frame edits from the clip's per-frame features (T, *F), in
    one batched call of the layers above the CNN; exact, since the CNN sees each frame alone."""
    if not edits:
        return np.zeros((0, 0), np.float32)
    index = np.tile(np.arange(len(features)), (len(edits), 1))
    for row, edit in enumerate(edits):
        index[row, list(edit.positions)] = edit.replaced_by
    return np.asarray(detector.probabilities(detector.window_logits(features[index])), np.float32)


def region_candidates(gradcam: np.ndarray, size: tuple[int, int], budget: CounterfactualBudget) -> list[Edit]:
    """Grad-CAM components at every contour level, smallest edited share first (ties: higher level,
    then the order found), identical masks once, within `max_area` and `max_candidates`."""
    display = normalise(gradcam, REGION_SCALE)
    found: dict[bytes, tuple[float, float, int, Edit]] = {}
    for level in sorted(DEFAULT_LEVELS, reverse=True):
        labels = components_3d(display >= level)
        for label in range(1, int(labels.max(initial=0)) + 1):
            mask = labels == label
            share = float(region_pixels(mask, size).mean())
            if share <= budget.max_area and mask.tobytes() not in found:
                found[mask.tobytes()] = (share, -level, len(found), Edit("region", level=float(level), mask=mask))
    ordered = sorted(found.values(), key=lambda item: item[:3])
    return [item[3] for item in ordered[: budget.max_candidates]]


def components_3d(volume: np.ndarray) -> np.ndarray:
    """Labels (T, h, w) int of the 26-connected components of a bool volume; 0 = background,
    1 … n numbered by first cell in (t, y, x) order."""
    labels, _ = ndimage.label(volume, structure=np.ones((3, 3, 3), bool))
    return np.asarray(labels, dtype=np.int64)


def region_pixels(mask: np.ndarray | None, size: tuple[int, ...]) -> np.ndarray:
    """A map-resolution mask (T, h, w) bool stretched to recorded frames (T, H, W) bool: bilinear
    resize kept where ≥ 0.5, then dilated by a square of `DILATION_CELLS` map cells on each side
    (at least 1 pixel)."""
    if mask is None:
        raise ValueError("a region edit needs its component mask (T, h, w)")
    height, width = size[:2]
    cell = max(height / mask.shape[1], width / mask.shape[2])
    radius = max(1, round(DILATION_CELLS * cell))
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    pixels = np.zeros((len(mask), height, width), bool)
    for t in np.flatnonzero(mask.any(axis=(1, 2))):
        stretched = cv2.resize(mask[t].astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5
        pixels[t] = cv2.dilate(stretched.astype(np.uint8), kernel) > 0
    return pixels


def blur_sigma(height: int, width: int) -> float:
    """The Gaussian sigma (pixels) of region blurs on frames of this size."""
    return BLUR_SIGMA_SHARE * max(height, width)


def blurred_clip(recorded: np.ndarray) -> np.ndarray:
    """Every frame blurred with a Gaussian of `blur_sigma` (reflected borders). A large sigma is
    applied at 1/f of the size, f = max(1, floor(sigma / 4)): area-downscaled, blurred with
    sigma / f, bilinearly upscaled (the same low-pass, in milliseconds instead of seconds)."""
    height, width = recorded.shape[1:3]
    sigma = blur_sigma(height, width)
    factor = max(1, int(sigma // 4))
    small = (max(1, round(width / factor)), max(1, round(height / factor)))
    frames = []
    for frame in recorded:
        reduced = cv2.resize(frame, small, interpolation=cv2.INTER_AREA) if factor > 1 else frame
        blurred = cv2.GaussianBlur(reduced, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT_101)
        frames.append(cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR) if factor > 1 else blurred)
    return np.stack(frames)


def _frame_ranking(explanation: ClipExplanation) -> np.ndarray | None:
    for name in ("occlusion", "gradcam_share"):
        if name in explanation.frame_importance:
            return np.asarray(explanation.frame_importance[name].values, np.float64)
    return None


def _region_probabilities(detector: DetectorLike, recorded: np.ndarray, edits: Sequence[Edit]) -> list[np.ndarray]:
    """Scores of the region edits, in batched `clip_probabilities` calls of bounded memory."""
    if not edits:
        return []
    blurred = blurred_clip(recorded)
    per_call = max(1, MAX_BATCH_BYTES // recorded.nbytes)
    scores: list[np.ndarray] = []
    for start in range(0, len(edits), per_call):
        chunk = edits[start : start + per_call]
        clips = np.repeat(recorded[np.newaxis], len(chunk), axis=0)
        for clip, edit in zip(clips, chunk, strict=True):
            pixels = region_pixels(edit.mask, recorded.shape[1:3])
            clip[pixels] = blurred[pixels]
        scores.extend(np.asarray(detector.clip_probabilities(clips), np.float32))
    return scores


def _flagged(rule: DecisionRule, names: Sequence[str], probabilities: np.ndarray) -> bool:
    top = int(np.argmax(probabilities))
    return rule.raises_alert(names[top], float(probabilities[top]))


def _share(edit: Edit, shape: tuple[int, ...]) -> float:
    if edit.kind == "frames":
        return len(edit.positions) / shape[0]
    return float(region_pixels(edit.mask, shape[1:3]).mean())


def _footprint(edit: Edit, shape: tuple[int, ...]) -> np.ndarray:
    """What an edit touches: its frame positions, or its edited pixels, as a flat bool array."""
    if edit.kind == "frames":
        touched = np.zeros(shape[0], bool)
        touched[list(edit.positions)] = True
        return touched
    return region_pixels(edit.mask, shape[1:3]).ravel()


def choose_diverse(
    flips: Sequence[tuple[Edit, float]],
    shape: tuple[int, ...],
    verify: Callable[[Edit, float], Counterfactual | None],
    budget: CounterfactualBudget,
) -> tuple[Counterfactual, ...]:
    """Up to `max_reported` verified flips (edit, edited share) whose frame sets or edited pixels
    are pairwise disjoint within each kind: first the smallest verified flip of each kind (the kind
    with the smaller one first; frames on a tie), then the rest by edited share, then input order.
    `verify` runs at most `max_rescored` times; an edit it rejects (None) is passed over."""
    ranked = sorted(range(len(flips)), key=lambda i: (flips[i][1], flips[i][0].kind != "frames", i))
    kinds = list(dict.fromkeys(flips[i][0].kind for i in ranked))
    accepted: list[tuple[Counterfactual, np.ndarray]] = []
    tried: set[int] = set()
    for phase in [*kinds, None]:
        for i in ranked:
            edit, share = flips[i]
            if len(accepted) >= budget.max_reported or len(tried) >= budget.max_rescored:
                break
            if i in tried or (phase is not None and (edit.kind != phase or any(c.kind == phase for c, _ in accepted))):
                continue
            footprint = _footprint(edit, shape)
            if any(c.kind == edit.kind and np.any(f & footprint) for c, f in accepted):
                continue
            tried.add(i)
            verified = verify(edit, share)
            if verified is not None:
                accepted.append((verified, footprint))
    return tuple(c for c, _ in accepted)


def _verified(
    detector: DetectorLike,
    recorded: np.ndarray,
    rule: DecisionRule,
    names: Sequence[str],
    original: bool,
    edit: Edit,
    share: float,
) -> Counterfactual | None:
    """The edit rebuilt from the recorded clip and scored by the loaded Keras model; None unless it flips."""
    edited = apply_edit(recorded, edit)
    probabilities = model_probabilities(detector, edited)
    flagged = _flagged(rule, names, probabilities)
    if flagged == original:
        return None
    if edit.kind == "frames":
        key = edit.positions[0]
    else:
        key = int(np.argmax(region_pixels(edit.mask, recorded.shape[1:3]).sum(axis=(1, 2))))
    return Counterfactual(
        edit=edit,
        edited_share=share,
        probabilities=probabilities,
        predicted_index=int(np.argmax(probabilities)),
        flagged=flagged,
        key_position=int(key),
        key_frame=edited[key],
    )


def model_probabilities(detector: DetectorLike, frames: np.ndarray) -> np.ndarray:
    """Class probabilities of one clip from the loaded Keras model itself (not the detector's split):
    a one-unit sigmoid p gives [1 − p, p]; a linear head gets the detector's output activation."""
    output = np.asarray(detector.model(detector.preprocess(frames)[np.newaxis], training=False), np.float32)[0]
    if detector.binary:
        return np.array([1.0 - output[0], output[0]], np.float32)
    if detector.output_activation == "linear":
        return np.asarray(detector.probabilities(output), np.float32)
    return output
