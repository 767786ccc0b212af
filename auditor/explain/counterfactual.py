"""What-if counterfactuals (DESIGN §2, "Counterfactuals"): small edits of the recorded clip that
change the alert decision, each re-applied on its own and re-scored before it is reported.

A flip: `rule.raises_alert(top class, its probability)` of the edited clip differs from the
original's (an alert that disappears, or, for an unflagged clip, one that would be raised).

Edits apply to the recorded frames (the window as decoded, RGB, at recorded size); the model
sees each edited frame resized to its input (`Detector.resize`: cv2.INTER_AREA, no crop) and
preprocessed per the sidecar, the clip scored as one input (1, T, H, W, 3).

- **frames**: a set S of positions, each replaced by the nearest frame outside S (the earlier
  one on a tie). Candidates, smallest k first, k = 1 … `max_frames` (default T // 4, at least 1,
  at most T − 1): the k frames ranked highest by frame occlusion (else by Grad-CAM share), then
  every contiguous run of k frames from the start. The CNN sees each frame alone, so they are
  scored exactly from the per-frame features, computed once, in one batched head call.
- **region**: a (T, H, W) bool mask of recorded pixels, each replaced by the same pixel of its
  frame blurred (`blur_rule`: a Gaussian of sigma `BLUR_SIGMA_SHARE` × max(H, W), reflected
  borders; a large sigma applied at 1/f of the size). The mask comes from the Grad-CAM,
  normalised per frame (each frame by its own peak) and thresholded at each contour level (0.25,
  0.5, 0.75, 0.9): each 3-D connected component (26-connectivity over T × h × w, so a moving
  figure is one tube) is stretched to the recorded frames (bilinear resize kept where ≥ 0.5) and
  dilated by half a map cell (at least 1 pixel, square kernel). The reported mask is the exact
  pixel set (`Edit.pixels`, kept in `arrays.npz`), so nothing of this derivation is needed to
  rebuild an edit. Search: the components within `max_area` form a tree (a component at a higher
  level lies inside one at each lower level); the largest is scored first, and while the last
  one scored flips, the largest component inside it at the next level is scored. Only the
  largest, lowest-level tubes flipped the decision on the test clips (the small ones never did),
  so this finds the same smallest flip in a few candidates. Each is scored from the per-frame
  features: only the frames with edited pixels go through the CNN.

Diversity: up to `max_reported` flips whose frame sets (frames) or edited pixels (regions) are
pairwise disjoint; first the smallest verified flip of each kind, then the rest by edited share.
Each is rebuilt from the recorded clip (`apply_edit`) and re-scored by the loaded Keras model as
one compiled call (`model.predict_on_batch`), independent of the split CNN/head path that found
it; only edits whose independent score flips are reported, with that score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import numpy as np

from auditor.explain.base import ClipExplanation, DecisionRule, DetectorLike
from auditor.explain.mixed_clips import MixedClips
from auditor.explain.occlusion import replacements
from auditor.explain.regions import BlurRule, blur_rule, blurred_clip, components, region_pixels

Kind = Literal["frames", "region"]


def pixels_key(number: int) -> str:
    """The `arrays.npz` key of the `number`-th reported edit's pixels (1-based, in reported order)."""
    return f"counterfactual_{number}_pixels"


@dataclass(frozen=True)
class CounterfactualBudget:
    """How far the search goes. `max_frames` None means T // 4 (at least 1); `max_area` is a share
    of the clip's pixels; `max_candidates` bounds the frame candidates (regions: one per level)."""

    max_frames: int | None = None
    max_area: float = 0.25
    max_candidates: int = 64
    max_reported: int = 3
    max_rescored: int = 6  # independent re-scores (one compiled model call each) at most

    def resolved(self, frames: int) -> CounterfactualBudget:
        """This budget with `max_frames` fixed for a clip of `frames` frames."""
        wanted = max(1, frames // 4) if self.max_frames is None else self.max_frames
        return replace(self, max_frames=max(0, min(wanted, frames - 1)))


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class Edit:
    """One edit of a clip: frames `positions` replaced by `replaced_by`, or the recorded `pixels`
    ((T, H, W) bool, exactly the pixels replaced by their blurred values) of a Grad-CAM component
    found at contour `level`."""

    kind: Kind
    positions: tuple[int, ...] = ()
    replaced_by: tuple[int, ...] = ()
    level: float | None = None
    pixels: np.ndarray | None = None

    def footprint(self, shape: tuple[int, ...]) -> np.ndarray:
        """What the edit touches in a clip of `shape`: its frame positions, or its pixels, flat bool."""
        if self.kind == "frames":
            return np.isin(np.arange(shape[0]), self.positions)
        return _pixels(self).ravel()

    def share(self, shape: tuple[int, ...]) -> float:
        """Share of the clip's frames (frames) or recorded pixels (region) the edit replaces."""
        return float(len(self.positions) / shape[0]) if self.kind == "frames" else float(_pixels(self).mean())

    def edited_positions(self) -> tuple[int, ...]:
        """The frames with replaced pixels."""
        if self.kind == "frames":
            return self.positions
        return tuple(int(t) for t in np.flatnonzero(_pixels(self).any(axis=(1, 2))))


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class Counterfactual:
    """One reported edit, re-applied on its own and re-scored by the loaded model."""

    edit: Edit
    edited_share: float  # frames: k / T; region: the mean of `edit.pixels`
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
    """The outcome: `found` is empty when no edit within `budget` flips the decision. `cnn_frames`
    counts the frames the search sent through the per-frame CNN, `rescored` the clips re-scored
    by the whole model (each T frames)."""

    original_flagged: bool
    found: tuple[Counterfactual, ...]
    candidates_tried: int
    frame_candidates: int
    region_candidates: int
    budget: CounterfactualBudget  # resolved: max_frames is an int
    blur: BlurRule
    cnn_frames: int = 0
    rescored: int = 0

    @property
    def blur_sigma(self) -> float:
        return self.blur.sigma


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

    def flips(probabilities: np.ndarray) -> bool:
        return _flagged(rule, names, probabilities) != original

    features = explanation.frame_features  # reused from the explanation
    computed = 0 if features is not None else count
    features = detector.frame_features(recorded) if features is None else features
    frame_edits = frame_candidates(count, _frame_ranking(explanation), budget)
    frame_probs = frame_edit_probabilities(detector, features, frame_edits)
    blurred = blurred_clip(recorded)
    region = RegionScorer(detector, recorded, blurred, features)
    region_edits = region_search(explanation.maps["gradcam"], (height, width), budget, region, flips)
    scored = [*zip(frame_edits, frame_probs, strict=True), *region.scored]
    flipped = [(edit, edit.share(recorded.shape)) for edit, probs in scored if flips(probs)]
    verify = _Verifier(detector, recorded, blurred, rule, names, original)
    found = choose_diverse(flipped, recorded.shape, verify, budget)
    return CounterfactualSearch(
        original_flagged=original,
        found=found,
        candidates_tried=len(frame_edits) + len(region_edits),
        frame_candidates=len(frame_edits),
        region_candidates=len(region_edits),
        budget=budget,
        blur=blur_rule(height, width),
        cnn_frames=computed + region.cnn_frames,
        rescored=verify.calls,
    )


def apply_edit(recorded: np.ndarray, edit: Edit, blurred: np.ndarray | None = None) -> np.ndarray:
    """The recorded clip (T, H, W, 3) uint8 with `edit` applied; a new array. `blurred`: the
    clip's `blurred_clip`, if already computed."""
    edited = recorded.copy()
    if edit.kind == "frames":
        edited[list(edit.positions)] = recorded[list(edit.replaced_by)]
        return edited
    pixels = _pixels(edit)
    blurred = blurred_clip(recorded) if blurred is None else blurred
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


class RegionScorer:
    """Scores region edits from the clip's per-frame features (`MixedClips`: only frames with edited
    pixels go through the CNN, each once per distinct edited frame). Keeps what it scored, in
    order, and counts the frames it sent through the CNN."""

    def __init__(self, detector: DetectorLike, recorded: np.ndarray, blurred: np.ndarray, features: np.ndarray):
        self.mixed = MixedClips(detector, recorded, blurred, features)
        self.scored: list[tuple[Edit, np.ndarray]] = []

    @property
    def cnn_frames(self) -> int:
        return self.mixed.frames_through_cnn

    def __call__(self, edit: Edit) -> np.ndarray:
        """Class probabilities (n,) of the clip with `edit` (a region) applied."""
        probabilities = np.asarray(self.mixed.probabilities([_pixels(edit)])[0], np.float32)
        self.scored.append((edit, probabilities))
        return probabilities


def region_search(
    gradcam: np.ndarray,
    size: tuple[int, int],
    budget: CounterfactualBudget,
    score: Callable[[Edit], np.ndarray],
    flips: Callable[[np.ndarray], bool],
) -> list[Edit]:
    """The region edits scored, in order: the largest Grad-CAM component within `max_area` (ties:
    the lower level), then, while the last one flips, the largest component inside it at the next
    higher level that has one (module doc)."""
    tree = components(gradcam, size, budget.max_area)
    current = max(tree, key=lambda c: (c.share, -c.level), default=None)
    scored: list[Edit] = []
    while current is not None:
        edit = Edit("region", level=current.level, pixels=region_pixels(current.cells, size))
        scored.append(edit)
        if not flips(score(edit)):
            break
        inside = [c for c in tree if c.level > current.level and np.any(c.cells & current.cells)]
        deeper = [c for c in inside if c.level == min((c.level for c in inside), default=None)]
        current = max(deeper, key=lambda c: c.share, default=None)
    return scored


def _pixels(edit: Edit) -> np.ndarray:
    if edit.pixels is None:
        raise ValueError("a region edit needs its pixels (T, H, W) bool")
    return edit.pixels


def _frame_ranking(explanation: ClipExplanation) -> np.ndarray | None:
    for name in ("occlusion", "gradcam_share"):
        if name in explanation.frame_importance:
            return np.asarray(explanation.frame_importance[name].values, np.float64)
    return None


def _flagged(rule: DecisionRule, names: Sequence[str], probabilities: np.ndarray) -> bool:
    top = int(np.argmax(probabilities))
    return rule.raises_alert(names[top], float(probabilities[top]))


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
            footprint = edit.footprint(shape)
            if any(c.kind == edit.kind and np.any(f & footprint) for c, f in accepted):
                continue
            tried.add(i)
            verified = verify(edit, share)
            if verified is not None:
                accepted.append((verified, footprint))
    return tuple(c for c, _ in accepted)


class _Verifier:
    """Rebuilds an edit from the recorded clip and re-scores it with the loaded model itself
    (`model_probabilities`); None unless it flips. Counts its calls."""

    def __init__(self, detector: DetectorLike, recorded: np.ndarray, blurred: np.ndarray, rule: DecisionRule,
                 names: Sequence[str], original: bool):
        self.detector, self.recorded, self.blurred = detector, recorded, blurred
        self.flagged = partial(_flagged, rule, names)
        self.original = original
        self.calls = 0

    def __call__(self, edit: Edit, share: float) -> Counterfactual | None:
        edited = apply_edit(self.recorded, edit, self.blurred)
        self.calls += 1
        probabilities = model_probabilities(self.detector, edited)
        flagged = self.flagged(probabilities)
        if flagged == self.original:
            return None
        key = edit.positions[0] if edit.kind == "frames" else int(np.argmax(_pixels(edit).sum(axis=(1, 2))))
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
    """Class probabilities of one clip from the loaded Keras model itself (not the detector's split),
    one compiled call (`predict_on_batch`, traced once per model): a one-unit sigmoid p gives
    [1 − p, p]; a linear head gets the detector's output activation."""
    batch = detector.preprocess(frames)[np.newaxis]
    output = np.asarray(detector.model.predict_on_batch(batch), np.float32)[0]
    if detector.binary:
        return np.array([1.0 - output[0], output[0]], np.float32)
    if detector.output_activation == "linear":
        return np.asarray(detector.probabilities(output), np.float32)
    return output
