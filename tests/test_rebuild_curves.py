"""Issue 23 item 1: points of a report's deletion and insertion curves are recomputed from the report
folder alone, without auditor's faithfulness code: `evidence.json` states the ranking rule, the
blur, the unit counts and the frames edited (`explanations.faithfulness`), `arrays.npz` holds the
ranked maps, the window is decoded from the video with OpenCV, and every edited clip is scored by
the model file loaded with `keras.saving.load_model`."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from fixtures.rebuild import decode_window, demo_report, load_demo_model, model_input, preprocessed

from auditor.demo import demo_model_path
from auditor.evidence import EvidenceRecord, Note
from auditor.evidence.trust import FaithfulnessCurves, FaithfulnessRecord
from auditor.files import sha256_file
from auditor.report.spec_words import spec_text

CLIP = ("fight", 3)
SIZE = 96  # recorded frames larger than the model's 64 x 64: resized before the edits
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EvidenceRecord, np.lib.npyio.NpzFile]:
    """A demo report of CLIP with the curves as its only check."""
    video, folder, record = demo_report(tmp_path_factory.mktemp("curves"), CLIP, SIZE, "faithfulness")
    return video, record, np.load(folder / record.explanations.arrays.path)


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return load_demo_model()


def test_each_curve_names_the_array_it_ranks_and_the_rule(report: tuple) -> None:
    _, record, arrays = report
    faith = _faithfulness(record)
    assert sha256_file(demo_model_path()) == record.model.sha256  # the model file the tests below load
    ranking, model_input_rule = spec_text(faith.ranking), spec_text(faith.model_input)
    assert "INTER_LINEAR" in ranking and "default_rng" in ranking and "INTER_AREA" in model_input_rule
    assert faith.border == "BORDER_REFLECT" and faith.blur_sigma == pytest.approx(0.05 * 64)
    assert faith.removal == Note(code="spec.removal.gaussian", params={"sigma": faith.blur_sigma})
    for curve in faith.curves:
        path, key = (curve.values or "").split("#")
        assert path == record.explanations.arrays.path and key in arrays.files and key in record.explanations.arrays.keys
        assert curve.units and curve.counts and curve.seeds
        assert curve.deletion.fractions == pytest.approx([k / curve.units for k in curve.counts], abs=1e-6)
        assert len(curve.random_deletion_aucs or ()) == len(curve.random_insertion_aucs or ()) == len(curve.seeds)
        assert curve.random_deletion.auc == pytest.approx(np.mean(curve.random_deletion_aucs), abs=1e-5)


def test_gradcam_points_recomputed_with_keras(report: tuple, model: keras.Model) -> None:
    video, record, arrays = report
    frames = model_input(decode_window(video, record), record)
    curve = _curve(record, "gradcam")
    order = _order(_at_frame_size(arrays[_key(curve)], frames.shape[1:3]))
    removed = _removed(frames, _faithfulness(record))
    point = curve.counts.index(next(k for k in curve.counts if k > 0))  # the first point after 0: 10 %
    chosen = _chosen(order, curve.counts[point], frames.shape[:3])
    deleted, inserted = _scores(model, [np.where(chosen[..., None], removed, frames),
                                        np.where(chosen[..., None], frames, removed)], record)
    assert deleted == pytest.approx(curve.deletion.scores[point], abs=TOLERANCE)
    assert inserted == pytest.approx(curve.insertion.scores[point], abs=TOLERANCE)
    assert _scores(model, [frames], record)[0] == pytest.approx(_faithfulness(record).original_score, abs=TOLERANCE)


def test_random_points_and_a_seeds_auc_recomputed_with_keras(report: tuple, model: keras.Model) -> None:
    """Every random deletion point of seed 0 (its AUC is recorded), and the mean over seeds at 10 %."""
    video, record, _ = report
    frames = model_input(decode_window(video, record), record)
    curve = _curve(record, "gradcam")
    removed = _removed(frames, _faithfulness(record))
    assert curve.seeds and curve.units == frames.shape[0] * frames.shape[1] * frames.shape[2]
    permutations = [np.random.default_rng(seed).permutation(curve.units) for seed in curve.seeds]
    seed0 = [np.where(_chosen(permutations[0], k, frames.shape[:3])[..., None], removed, frames) for k in curve.counts]
    scores = _scores(model, seed0, record)
    assert float(np.trapezoid(scores, curve.deletion.fractions)) == pytest.approx(
        (curve.random_deletion_aucs or [])[0], abs=TOLERANCE)
    point = 1
    at_point = [np.where(_chosen(p, curve.counts[point], frames.shape[:3])[..., None], removed, frames)
                for p in permutations]
    assert float(np.mean(_scores(model, at_point, record))) == pytest.approx(
        curve.random_deletion.scores[point], abs=TOLERANCE)
    revealed = [np.where(_chosen(p[::-1], curve.counts[point], frames.shape[:3])[..., None], frames, removed)
                for p in permutations]  # random insertion: each permutation reversed
    assert float(np.mean(_scores(model, revealed, record))) == pytest.approx(
        curve.random_insertion.scores[point], abs=TOLERANCE)


def test_a_frame_curve_point_recomputed_with_keras(report: tuple, model: keras.Model) -> None:
    video, record, arrays = report
    frames = model_input(decode_window(video, record), record)
    curve = _curve(record, "occlusion")
    assert curve.unit == "frames" and curve.units == len(frames)
    order = _order(arrays[_key(curve)])
    removed = _removed(frames, _faithfulness(record))
    point = curve.counts.index(next(k for k in curve.counts if k >= 2))
    gone = np.isin(np.arange(len(frames)), order[: curve.counts[point]])
    (deleted,) = _scores(model, [np.where(gone[:, None, None, None], removed, frames)], record)
    assert deleted == pytest.approx(curve.deletion.scores[point], abs=TOLERANCE)


def _faithfulness(record: EvidenceRecord) -> FaithfulnessRecord:
    faith = record.explanations.faithfulness
    assert faith is not None
    return faith


def _curve(record: EvidenceRecord, ordering: str) -> FaithfulnessCurves:
    return next(c for c in _faithfulness(record).curves if c.ordering == ordering)


def _key(curve: FaithfulnessCurves) -> str:
    assert curve.values is not None
    return curve.values.split("#")[1]


def _removed(frames: np.ndarray, faith: FaithfulnessRecord) -> np.ndarray:
    assert faith.blur_sigma is not None and faith.border == "BORDER_REFLECT"
    return np.stack([cv2.GaussianBlur(f, (0, 0), faith.blur_sigma, borderType=cv2.BORDER_REFLECT) for f in frames])


def _at_frame_size(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    values = values.astype(np.float32)
    if values.shape[1:] == size:
        return values
    return np.stack([cv2.resize(v, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for v in values])


def _order(values: np.ndarray) -> np.ndarray:
    """Positions in C order, highest value first, ties by position, NaN lowest."""
    flat = np.nan_to_num(values.astype(np.float64).ravel(), nan=-np.inf)
    return np.argsort(-flat, kind="stable")


def _chosen(order: np.ndarray, k: int, shape: tuple[int, ...]) -> np.ndarray:
    chosen = np.zeros(order.size, bool)
    chosen[order[:k]] = True
    return chosen.reshape(shape)


def _scores(model: keras.Model, clips: list[np.ndarray], record: EvidenceRecord) -> np.ndarray:
    """The model file's probability of the explained class for each model-input clip (uint8)."""
    target = [c.name for c in record.decision.classes].index(record.decision.explained_class)
    return np.asarray(model(preprocessed(np.stack(clips), record), training=False))[:, target]
