"""Faithfulness of one decision's explanation (DESIGN §2): deletion and insertion curves.

Definitions. Work on `explanation.frames` (T, H, W, 3) uint8, the frames the model saw. The score
s(clip) is the probability of the explained class `explanation.target_index`.

- Removal: a pixel (all three channels) is replaced by the same pixel of the *removed* copy of its
  frame: "blur" = the frame blurred by a Gaussian of sigma = `blur_share` × max(H, W) pixels
  (0.05: 3.2 px at 64×64, 11.2 px at 224×224; reflected borders); "mean" = the frame's mean colour.
- Orderings: pixels — every map of `explanation.maps` ("gradcam" (T, h, w) upsampled bilinearly to
  (T, H, W), "saliency" (T, H, W)), all T·H·W positions ranked together, highest value first, ties
  by position (stable sort; NaN counts as lowest); frames — every `explanation.frame_importance`
  method's values (T,), ranked the same way. Random orderings: one permutation per seed and unit
  kind (`numpy.random.default_rng(seed).permutation`).
- For a fraction f the top k = round(f·N) units are chosen (N = T·H·W pixels or T frames). Deletion
  scores the clip with those k removed; insertion the fully removed clip with those k restored.
  `Curve.fractions` holds the shares actually edited, k/N; AUC = trapezoid of the scores over them.
  Every curve starts at f = 0 and ends at f = 1, whose clips (the clip, the fully removed clip) are
  the same for every ordering and scored once.
- Random curves: the mean over seeds of the scores; their AUC is the trapezoid of that mean (equal to
  the mean of the per-seed AUCs, also kept). Random insertion uses each seed's permutation reversed
  (an equally random order): revealing its first k units removes the same units as deleting the
  permutation's first N − k, so with fractions symmetric about 1/2 (the default) every random clip
  serves both curves and is scored once.

A faithful ordering gives a deletion AUC below the random one and an insertion AUC above it.

Cost. Pixel-curve clips go through `detector.clip_probabilities` in chunks of `chunk` clips. Frame
curves need no CNN rerun: the CNN sees each frame alone, so the per-frame features of the clip and
of the removed frames are computed once (`detector.frame_features`) and every frame-curve clip is a
window of mixed features scored by the layers above the CNN in one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from auditor.errors import ReportError
from auditor.explain.base import ClipExplanation

MAX_FRACTIONS = 64
MAX_SEEDS = 32
REMOVALS = ("blur", "mean")


class ScoringDetector(Protocol):
    """What faithfulness needs of a detector (`auditor.detector.Detector` has it)."""

    def clip_probabilities(self, clips: np.ndarray) -> np.ndarray: ...
    def frame_features(self, frames: np.ndarray) -> np.ndarray: ...
    def window_logits(self, features: np.ndarray) -> np.ndarray: ...
    def probabilities(self, logits: np.ndarray) -> np.ndarray: ...


def _settings_problem(settings: FaithfulnessSettings) -> str | None:
    fractions = np.asarray(settings.fractions, dtype=np.float64)
    if settings.removal not in REMOVALS:
        return f"removal must be one of {list(REMOVALS)}, not {settings.removal!r}"
    if not 2 <= len(fractions) <= MAX_FRACTIONS or fractions[0] != 0 or fractions[-1] != 1:
        return f"fractions must run from 0 to 1 with at most {MAX_FRACTIONS} values"
    if np.any(np.diff(fractions) <= 0) or 0.1 not in settings.fractions:
        return "fractions must be increasing and include 0.1 (the report quotes the effect of 10 %)"
    if not 1 <= len(settings.seeds) <= MAX_SEEDS:
        return f"give 1 to {MAX_SEEDS} random seeds"
    if not 0 < settings.blur_share <= 1 or not 1 <= settings.chunk <= 1024:
        return "blur_share must be in (0, 1] and chunk in 1..1024"
    return None


@dataclass(frozen=True)
class FaithfulnessSettings:
    """What to remove, how, at which fractions, against which random seeds."""

    fractions: tuple[float, ...] = (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)  # symmetric: see above
    removal: str = "blur"
    blur_share: float = 0.05  # Gaussian sigma as a share of the longer frame side
    seeds: tuple[int, ...] = (0, 1, 2)
    chunk: int = 64  # at most this many clips per batched call

    def __post_init__(self) -> None:
        problem = _settings_problem(self)
        if problem:
            raise ReportError(f"faithfulness settings: {problem}")


@dataclass(frozen=True)
class Curve:
    """Scores of the explained class against the share of units edited."""

    fractions: np.ndarray  # float64 (F,), k/N, increasing from 0 to 1
    scores: np.ndarray  # float64 (F,)
    auc: float


@dataclass(frozen=True)
class FaithfulnessCurves:
    """Deletion and insertion curves of one ordering, with the random curves of its unit kind."""

    ordering: str
    unit: str  # "pixels" | "frames"
    units: int  # N: T·H·W pixels or T frames
    deletion: Curve
    insertion: Curve
    random_deletion: Curve  # mean over seeds
    random_insertion: Curve
    random_deletion_aucs: tuple[float, ...]  # per seed
    random_insertion_aucs: tuple[float, ...]


@dataclass(frozen=True)
class Faithfulness:
    """The curves of every ordering of one explanation, and what computing them cost.

    `clips_scored` counts distinct edited clips (pixel clips and frame windows, each once);
    `batched_calls` counts calls of `clip_probabilities`, `frame_features` and `window_logits`.
    """

    curves: tuple[FaithfulnessCurves, ...]
    fractions: tuple[float, ...]  # as requested; curve fractions are the shares actually edited
    removal: str
    blur_sigma: float | None  # pixels; None for "mean"
    seeds: tuple[int, ...]
    original_score: float
    target_index: int
    clips_scored: int
    batched_calls: int

    def curve(self, ordering: str) -> FaithfulnessCurves:
        for curves in self.curves:
            if curves.ordering == ordering:
                return curves
        raise KeyError(f"no faithfulness curves for {ordering!r}; have {[c.ordering for c in self.curves]}")


def faithfulness(
    detector: ScoringDetector, explanation: ClipExplanation, settings: FaithfulnessSettings = FaithfulnessSettings()
) -> Faithfulness:
    """Deletion and insertion curves of every map and frame-importance method of `explanation`."""
    frames = np.asarray(explanation.frames)
    pixel_orders = {name: order(_pixel_map(values, frames.shape[:3])) for name, values in explanation.maps.items()}
    frame_orders = {name: order(fi.values) for name, fi in explanation.frame_importance.items()}
    if not pixel_orders and not frame_orders:
        raise ReportError("faithfulness needs a map or a frame-importance method in the explanation; compute one")
    sigma = settings.blur_share * max(frames.shape[1:3]) if settings.removal == "blur" else None
    removed = removed_frames(frames, settings.removal, sigma)
    scorers = [
        _Scorer("pixels", frames.shape[:3], pixel_orders, _pixel_scoring(detector, frames, removed, settings.chunk)),
        _Scorer("frames", frames.shape[:1], frame_orders, _frame_scoring(detector, explanation, removed)),
    ]
    target = explanation.target_index
    curves = [c for scorer in scorers if scorer.orders for c in scorer.curves(settings, target)]
    used = [scorer for scorer in scorers if scorer.orders]
    return Faithfulness(
        curves=tuple(curves),
        fractions=tuple(float(f) for f in settings.fractions),
        removal=settings.removal,
        blur_sigma=sigma,
        seeds=tuple(settings.seeds),
        original_score=used[0].original_score,
        target_index=target,
        clips_scored=sum(scorer.clips_scored for scorer in used),
        batched_calls=sum(scorer.calls for scorer in used),
    )


def removed_frames(frames: np.ndarray, removal: str, sigma: float | None) -> np.ndarray:
    """Each frame's removed copy, uint8 (T, H, W, 3): Gaussian-blurred (sigma pixels, reflected
    borders) or filled with the frame's mean colour (rounded)."""
    if removal == "mean":
        means = frames.reshape(len(frames), -1, frames.shape[-1]).mean(axis=1)
        return np.ascontiguousarray(np.broadcast_to(np.rint(means)[:, None, None, :], frames.shape).astype(np.uint8))
    if sigma is None:
        raise ValueError("blur removal needs a sigma")
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT) for f in frames])


def order(values: np.ndarray) -> np.ndarray:
    """Flat positions of `values`, highest first, ties by position; NaN counts as lowest."""
    flat = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel(), nan=-np.inf)
    return np.argsort(-flat, kind="stable")


def counts(fractions: Sequence[float], total: int) -> np.ndarray:
    """Units edited at each fraction: round(f·total)."""
    return np.rint(np.asarray(fractions, dtype=np.float64) * total).astype(np.int64)


class _Scorer:
    """The curves of one unit kind. Every clip is identified by its set of removed units, so a
    clip shared by several curves (f = 0, f = 1) is scored once."""

    def __init__(self, unit: str, shape: tuple, orders: dict[str, np.ndarray], score_masks: _Counted):
        self.unit, self.shape, self.orders, self.score_masks = unit, shape, orders, score_masks
        self.original_score = float("nan")
        self.clips_scored = 0

    @property
    def calls(self) -> int:
        return self.score_masks.calls

    def curves(self, settings: FaithfulnessSettings, target: int) -> list[FaithfulnessCurves]:
        total = int(np.prod(self.shape))
        named = [_rank(o) for o in self.orders.values()]
        randoms = [_rank(np.random.default_rng(seed).permutation(total)) for seed in settings.seeds]
        ks = counts(settings.fractions, total)
        keys: dict[bytes, int] = {}
        rows = {False: named + randoms, True: named + [total - 1 - rank for rank in randoms]}
        index = np.array(
            [[[self._key(rank >= k if ins else rank < k, keys) for k in ks] for rank in rows[ins]] for ins in (False, True)]
        )
        masks = _Masks(list(keys), self.shape)
        scores = np.asarray(self.score_masks(masks), dtype=np.float64)[:, target][index]
        self.clips_scored = len(keys)
        self.original_score = float(scores[0, 0, 0])
        return self._build(scores, ks / total, settings)

    @staticmethod
    def _key(mask: np.ndarray, keys: dict[bytes, int]) -> int:
        return keys.setdefault(np.packbits(mask).tobytes(), len(keys))

    def _build(self, scores: np.ndarray, shares: np.ndarray, settings: FaithfulnessSettings) -> list:
        named = len(self.orders)
        deletion, insertion = scores[0], scores[1]
        rand_del, rand_ins = deletion[named:], insertion[named:]
        random_deletion, random_insertion = _curve(shares, rand_del.mean(axis=0)), _curve(shares, rand_ins.mean(axis=0))
        return [
            FaithfulnessCurves(
                ordering=name,
                unit=self.unit,
                units=int(np.prod(self.shape)),
                deletion=_curve(shares, deletion[row]),
                insertion=_curve(shares, insertion[row]),
                random_deletion=random_deletion,
                random_insertion=random_insertion,
                random_deletion_aucs=tuple(_auc(shares, s) for s in rand_del),
                random_insertion_aucs=tuple(_auc(shares, s) for s in rand_ins),
            )
            for row, name in enumerate(self.orders)
        ]


class _Masks:
    """Boolean masks of removed units kept bit-packed, unpacked one at a time (bounded memory)."""

    def __init__(self, packed: list[bytes], shape: tuple):
        self.packed, self.shape = packed, shape

    def __len__(self) -> int:
        return len(self.packed)

    def __getitem__(self, index: int) -> np.ndarray:
        bits = np.unpackbits(np.frombuffer(self.packed[index], np.uint8), count=int(np.prod(self.shape)))
        return bits.astype(bool).reshape(self.shape)


class _Counted:
    """A mask-scoring function that counts its batched calls."""

    def __init__(self, score: Callable[[_Masks], tuple[np.ndarray, int]]):
        self._score, self.calls = score, 0

    def __call__(self, masks: _Masks) -> np.ndarray:
        probabilities, calls = self._score(masks)
        self.calls += calls
        return probabilities


def _pixel_scoring(detector: ScoringDetector, frames: np.ndarray, removed: np.ndarray, chunk: int) -> _Counted:
    """Clips with the masked pixels (T, H, W) removed, scored by `clip_probabilities` in chunks."""

    def score(masks: _Masks) -> tuple[np.ndarray, int]:
        parts = [
            detector.clip_probabilities(
                np.stack([np.where(masks[j][..., None], removed, frames) for j in range(i, min(i + chunk, len(masks)))])
            )
            for i in range(0, len(masks), chunk)
        ]
        return np.concatenate(parts), len(parts)

    return _Counted(score)


def _frame_scoring(detector: ScoringDetector, explanation: ClipExplanation, removed: np.ndarray) -> _Counted:
    """Clips with the masked frames (T,) removed, scored from per-frame features: the clip's from
    the explanation's own pass (computed only when it has none), the removed frames' in one
    `frame_features` call, then one `window_logits` call."""

    def score(masks: _Masks) -> tuple[np.ndarray, int]:
        kept = explanation.frame_features
        kept = detector.frame_features(explanation.frames) if kept is None else kept
        gone = detector.frame_features(removed)
        extra = (1,) * (kept.ndim - 1)
        windows = np.stack([np.where(masks[i].reshape(-1, *extra), gone, kept) for i in range(len(masks))])
        return np.asarray(detector.probabilities(detector.window_logits(windows))), 2

    return _Counted(score)


def _pixel_map(values: np.ndarray, shape: tuple) -> np.ndarray:
    """A map (T, h, w) at the frames' size (T, H, W), bilinear (cv2.INTER_LINEAR) when smaller."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 3 or values.shape[0] != shape[0]:
        raise ValueError(f"a map must be (T, h, w) with T = {shape[0]}; got {values.shape}")
    if values.shape == shape:
        return values
    return np.stack([cv2.resize(v, (shape[2], shape[1]), interpolation=cv2.INTER_LINEAR) for v in values])


def _rank(positions: np.ndarray) -> np.ndarray:
    """rank[p] = place of position p in the ordering (0 = first)."""
    rank = np.empty(len(positions), dtype=np.int64)
    rank[positions] = np.arange(len(positions))
    return rank


def _auc(shares: np.ndarray, scores: np.ndarray) -> float:
    return float(np.trapezoid(scores, shares))


def _curve(shares: np.ndarray, scores: np.ndarray) -> Curve:
    return Curve(fractions=shares.copy(), scores=np.asarray(scores, dtype=np.float64), auc=_auc(shares, scores))
