"""Faithfulness of one decision's explanation (DESIGN §2): deletion and insertion curves.

Definitions. Work on `explanation.frames` (T, H, W, 3) uint8, the frames the model saw (the
recorded window's frames resized to the model's input by cv2.INTER_AREA, see `Detector.resize`).
The score s(clip) is the probability of the explained class `explanation.target_index`.

- Removal: a pixel (all three channels) is replaced by the same pixel of the *removed* copy of its
  frame: "blur" = the frame blurred by cv2.GaussianBlur, sigma = `blur_share` × max(H, W) pixels
  (0.05: 3.2 px at 64×64, 11.2 px at 224×224), kernel size from sigma (ksize (0, 0)),
  cv2.BORDER_REFLECT; "mean" = the frame's mean colour (rounded).
- Orderings: pixels — every map of `explanation.maps` (`arrays.npz` `map_<name>`: "gradcam"
  (T, h, w) resized to (H, W) by cv2.resize with cv2.INTER_LINEAR, "saliency" (T, H, W) as is), all
  T·H·W positions ranked together in C order, highest value first, ties by position (stable sort;
  NaN counts as lowest); frames — every `explanation.frame_importance` method's values (T,)
  (`frame_<name>`), ranked the same way. Random orderings: `numpy.random.default_rng(seed)
  .permutation(N)` per seed and unit kind, its first element removed first.
- For a requested fraction f the first k = round(f·N) units of the ordering are chosen (N = T·H·W
  pixels or T frames; numpy's rint, halves to even). Deletion scores the clip with those k removed;
  insertion the fully removed clip with those k restored. `Curve.fractions` holds the shares
  actually edited, k/N; AUC = trapezoid of the scores over them. Every curve starts at f = 0 and
  ends at f = 1, whose clips (the clip, the fully removed clip) are the same for every ordering.
- Random curves: the mean over seeds of the scores; their AUC is the trapezoid of that mean (equal to
  the mean of the per-seed AUCs, also kept: their spread is the precision of a comparison with
  chance). Random insertion uses each seed's permutation reversed (an equally random order):
  revealing its first k units removes the same units as deleting the permutation's first N − k, so
  with fractions symmetric about 1/2 (the defaults) every random clip serves both curves.
- Pixel and frame curves have their own fractions and seeds (`FaithfulnessSettings`): a pixel point
  costs CNN passes, a frame point none, so pixel curves have the points 0, 0.1 (the effect the
  report quotes), 0.9 and 1, and two random seeds; frame curves nine points and three seeds.

A faithful ordering gives a deletion AUC below the random one and an insertion AUC above it.

Cost. Every clip is scored from per-frame features (`MixedClips`): the CNN sees each frame alone, so
a frame an edit leaves untouched has the clip's own features (from the explanation's pass), a frame
removed entirely those of its removed copy (computed once); only frames removed in part go through
the CNN, once per distinct mask. Frame curves thus need no CNN pass beyond the removed frames.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from auditor.errors import ReportError
from auditor.explain.base import ClipExplanation
from auditor.explain.mixed_clips import MixedClips

MAX_FRACTIONS = 64
MAX_SEEDS = 32
REMOVALS = ("blur", "mean")
BORDER = "BORDER_REFLECT"


class ScoringDetector(Protocol):
    """What faithfulness needs of a detector (`auditor.detector.Detector` has it)."""

    def frame_features(self, frames: np.ndarray) -> np.ndarray: ...
    def window_logits(self, features: np.ndarray) -> np.ndarray: ...
    def probabilities(self, logits: np.ndarray) -> np.ndarray: ...


def _points_problem(fractions: tuple[float, ...], seeds: tuple[int, ...], kind: str) -> str | None:
    values = np.asarray(fractions, dtype=np.float64)
    if not 2 <= len(values) <= MAX_FRACTIONS or values[0] != 0 or values[-1] != 1:
        return f"{kind} fractions must run from 0 to 1 with at most {MAX_FRACTIONS} values"
    if np.any(np.diff(values) <= 0) or 0.1 not in fractions:
        return f"{kind} fractions must be increasing and include 0.1 (the report quotes the effect of 10 %)"
    if not 1 <= len(seeds) <= MAX_SEEDS:
        return f"give 1 to {MAX_SEEDS} random seeds for the {kind} curves"
    return None


def _settings_problem(settings: FaithfulnessSettings) -> str | None:
    if settings.removal not in REMOVALS:
        return f"removal must be one of {list(REMOVALS)}, not {settings.removal!r}"
    if not 0 < settings.blur_share <= 1 or not 1 <= settings.chunk <= 1024:
        return "blur_share must be in (0, 1] and chunk in 1..1024"
    return (_points_problem(settings.fractions, settings.seeds, "pixel")
            or _points_problem(settings.frame_fractions, settings.frame_seeds, "frame"))


@dataclass(frozen=True)
class FaithfulnessSettings:
    """What to remove, how, at which fractions, against which random seeds: pixel curves (each
    point a CNN pass over the frames it edits in part) and frame curves (no CNN pass) apart."""

    fractions: tuple[float, ...] = (0.0, 0.1, 0.9, 1.0)  # pixel curves; symmetric: see above
    seeds: tuple[int, ...] = (0, 1)  # pixel curves' random orderings
    frame_fractions: tuple[float, ...] = (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)
    frame_seeds: tuple[int, ...] = (0, 1, 2)
    removal: str = "blur"
    blur_share: float = 0.05  # Gaussian sigma as a share of the longer frame side
    chunk: int = 64  # at most this many frames (or windows) per batched call

    def __post_init__(self) -> None:
        problem = _settings_problem(self)
        if problem:
            raise ReportError(f"faithfulness settings: {problem}")

    def points(self, unit: str) -> tuple[tuple[float, ...], tuple[int, ...]]:
        """The fractions and random seeds of one unit kind's curves."""
        return (self.fractions, self.seeds) if unit == "pixels" else (self.frame_fractions, self.frame_seeds)


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
    counts: tuple[int, ...]  # k = round(f·N) units edited at each requested fraction f
    seeds: tuple[int, ...]  # of the random orderings
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
    `batched_calls` counts calls of `frame_features` and `window_logits`; `frames_through_cnn` the
    frames given to `frame_features` (the clip's own only when the explanation has no features).
    """

    curves: tuple[FaithfulnessCurves, ...]
    settings: FaithfulnessSettings  # fractions as requested; curve fractions are the shares actually edited
    blur_sigma: float | None  # pixels; None for "mean"
    original_score: float
    target_index: int
    clips_scored: int
    batched_calls: int
    frames_through_cnn: int

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
    mixed = MixedClips(detector, frames, removed_frames(frames, settings.removal, sigma),
                       explanation.frame_features, settings.chunk)
    scorers = [_Scorer("pixels", frames.shape[:3], pixel_orders), _Scorer("frames", frames.shape[:1], frame_orders)]
    target = explanation.target_index
    used = [scorer for scorer in scorers if scorer.orders]
    curves = [c for scorer in used for c in scorer.curves(settings, target, mixed)]
    return Faithfulness(
        curves=tuple(curves),
        settings=settings,
        blur_sigma=sigma,
        original_score=used[0].original_score,
        target_index=target,
        clips_scored=sum(scorer.clips_scored for scorer in used),
        batched_calls=mixed.calls,
        frames_through_cnn=mixed.frames_through_cnn,
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

    def __init__(self, unit: str, shape: tuple, orders: dict[str, np.ndarray]):
        self.unit, self.shape, self.orders = unit, shape, orders
        self.original_score = float("nan")
        self.clips_scored = 0

    def curves(self, settings: FaithfulnessSettings, target: int, mixed: MixedClips) -> list[FaithfulnessCurves]:
        total = int(np.prod(self.shape))
        named = [_rank(o) for o in self.orders.values()]
        fractions, seeds = settings.points(self.unit)
        randoms = [_rank(np.random.default_rng(seed).permutation(total)) for seed in seeds]
        ks = counts(fractions, total)
        keys: dict[bytes, int] = {}
        rows = {False: named + randoms, True: named + [total - 1 - rank for rank in randoms]}
        index = np.array(
            [[[self._key(rank >= k if ins else rank < k, keys) for k in ks] for rank in rows[ins]] for ins in (False, True)]
        )
        masks = _Masks(list(keys), self.shape)
        scores = np.asarray(mixed.probabilities(masks), dtype=np.float64)[:, target][index]
        self.clips_scored = len(keys)
        self.original_score = float(scores[0, 0, 0])
        return self._build(scores, ks, seeds)

    @staticmethod
    def _key(mask: np.ndarray, keys: dict[bytes, int]) -> int:
        return keys.setdefault(np.packbits(mask).tobytes(), len(keys))

    def _build(self, scores: np.ndarray, ks: np.ndarray, seeds: tuple[int, ...]) -> list:
        named, total = len(self.orders), int(np.prod(self.shape))
        shares = ks / total
        deletion, insertion = scores[0], scores[1]
        rand_del, rand_ins = deletion[named:], insertion[named:]
        random_deletion, random_insertion = _curve(shares, rand_del.mean(axis=0)), _curve(shares, rand_ins.mean(axis=0))
        return [
            FaithfulnessCurves(
                ordering=name,
                unit=self.unit,
                units=total,
                counts=tuple(int(k) for k in ks),
                seeds=tuple(seeds),
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

    def __iter__(self) -> Iterator[np.ndarray]:
        for packed in self.packed:
            bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=int(np.prod(self.shape)))
            yield bits.astype(bool).reshape(self.shape)


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
