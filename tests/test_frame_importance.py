"""Frame importance (DESIGN §2): gradient × input and frame occlusion against independent references.

The references use only the ORIGINAL Keras model as loaded from disk: the target logit is its
final Dense layer's input times that layer's kernel plus bias, computed here. Occlusion edits the
clip in pixel space (frame t really replaced by its neighbour) and runs the whole model once per
edited clip; gradient × input comes from one eager GradientTape through the whole model. Neither
uses the detector's split, its compiled functions or its preprocessing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fixtures.models import CASES, SIZE, T

from auditor._tensorflow import keras, tf
from auditor.detector import Detector, load_detector
from auditor.errors import ModelError, VideoError
from auditor.evidence.limitations import method_limitation
from auditor.explain import (
    DEFAULT_FRAME_IMPORTANCE,
    FRAME_IMPORTANCE,
    ClipExplanation,
    DetectorPass,
    FrameImportance,
    FrameImportanceMethod,
)
from auditor.explain.occlusion import neighbours
from auditor.pipeline import ReportOptions, report_video
from auditor.report.record_words import note_text
from auditor.video import read_video, write_video

TOLERANCE = 1e-4
REFERENCE_CASES = [
    "functional_nested_gru",
    "td_conv_stack",
    "td_conv_stack_inner_c1",
    "lstm",
    "bidirectional_gru",
    "legacy_h5",
]

Logits = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Setup:
    detector: Detector
    logits: Logits  # the original model's pre-activation scores, (N, T, H, W, 3) -> (N, classes)
    frames: np.ndarray  # (T, SIZE, SIZE, 3) uint8, already at the model's input size
    explanation: ClipExplanation


def logits_of(model: keras.Model) -> Logits:
    """The original model's logits: a keras.Model up to the final Dense layer's input, then kernel and bias."""
    final = model.layers[-1]
    assert isinstance(final, keras.layers.Dense) and final.activation.__name__ == "softmax"
    features = keras.Model(model.inputs[0], final.input)
    return lambda x: tf.matmul(features(x, training=False), final.kernel) + final.bias


def unit_input(frames: np.ndarray) -> np.ndarray:
    """The "unit" preprocessing of the sidecar-less models here, written out: RGB / 255."""
    return frames.astype(np.float32) / np.float32(255.0)


def reference_occlusion(logits: Logits, frames: np.ndarray, target: int) -> np.ndarray:
    """y(x) − y(x with frame t replaced in pixel space by frame t−1, or frame 1 for t = 0), one run per clip."""

    def score(clip: np.ndarray) -> float:
        return float(np.asarray(logits(unit_input(clip)[np.newaxis]))[0, target])

    drops = []
    for t in range(len(frames)):
        edited = frames.copy()
        edited[t] = frames[t - 1 if t > 0 else 1]
        drops.append(score(frames) - score(edited))
    return np.array(drops)


def reference_gradient_x_input(logits: Logits, frames: np.ndarray, target: int) -> np.ndarray:
    """Σ_{i,j,c} x·∂y/∂x per frame, from one eager tape through the original model."""
    x = tf.constant(unit_input(frames)[np.newaxis])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = logits(x)[0, target]
    products = tape.gradient(score, x).numpy()[0].astype(np.float64) * x.numpy()[0]
    return products.sum(axis=(1, 2, 3))


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def distinct_frames(count: int, seed: int) -> np.ndarray:
    """Random frames of clearly different brightness, so that frames matter to a random model."""
    rng = np.random.default_rng(seed)
    low = 50 * (np.arange(count) % 4)
    return np.stack([rng.integers(lo, lo + 100, (SIZE, SIZE, 3), dtype=np.uint8) for lo in low])


def save_and_load(model: keras.Model, path: Path, layer: str | None = None) -> tuple[Detector, keras.Model]:
    model.save(path)
    return load_detector(path, layer=layer), keras.saving.load_model(path, compile=False)


@pytest.fixture(scope="module", params=REFERENCE_CASES)
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    case = CASES[request.param]
    keras.utils.set_random_seed(11)
    path = tmp_path_factory.mktemp(request.param) / f"model{case.suffix}"
    detector, original = save_and_load(case.build(), path, case.layer_arg)
    assert detector.layer_name == case.target_layer and detector.preprocessing == "unit"
    frames = distinct_frames(T, seed=3)
    return Setup(detector, logits_of(original), frames, detector.explain(frames))


def test_occlusion_matches_the_original_model_on_edited_clips(setup: Setup) -> None:
    target = setup.explanation.target_index
    expected = reference_occlusion(setup.logits, setup.frames, target)
    actual = setup.explanation.frame_importance["occlusion"].values
    assert actual.dtype == np.float32 and actual.shape == (T,)
    assert target == int(np.argmax(setup.logits(unit_input(setup.frames)[np.newaxis])))
    assert np.abs(expected).max() > 1e-4, "a near-zero reference would make the comparison vacuous"
    assert relative_error(actual, expected) < TOLERANCE


def test_gradient_x_input_matches_an_eager_tape_through_the_original_model(setup: Setup) -> None:
    expected = reference_gradient_x_input(setup.logits, setup.frames, setup.explanation.target_index)
    actual = setup.explanation.frame_importance["gradient_x_input"].values
    assert actual.dtype == np.float32 and actual.shape == (T,)
    assert np.abs(expected).max() > 1e-4, "a near-zero reference would make the comparison vacuous"
    assert relative_error(actual, expected) < TOLERANCE


def test_occluded_probabilities_are_the_original_models_output_on_edited_clips(setup: Setup) -> None:
    edited = []
    for t in range(T):
        clip = setup.frames.copy()
        clip[t] = setup.frames[t - 1 if t > 0 else 1]
        edited.append(unit_input(clip))
    expected = tf.nn.softmax(setup.logits(np.stack(edited))).numpy()
    actual = setup.explanation.frame_importance["occlusion"].edited_probabilities
    assert actual is not None and actual.shape == (T, len(setup.detector.class_names))
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_scores_follow_the_requested_target_class(setup: Setup) -> None:
    other = (setup.explanation.target_index + 1) % len(setup.detector.class_names)
    scores = setup.detector.explain(setup.frames, target=other).frame_importance
    assert relative_error(scores["occlusion"].values, reference_occlusion(setup.logits, setup.frames, other)) < TOLERANCE
    expected = reference_gradient_x_input(setup.logits, setup.frames, other)
    assert relative_error(scores["gradient_x_input"].values, expected) < TOLERANCE


@pytest.mark.parametrize(("pattern", "unchanged"), [("aab", [True, True, False]), ("abb", [False, False, True])])
def test_occlusion_is_exactly_zero_where_the_neighbour_is_identical(
    pattern: str, unchanged: list[bool], tmp_path: Path
) -> None:
    """Frame t is replaced by frame t−1 (frame 0 by frame 1): an identical neighbour changes nothing."""
    keras.utils.set_random_seed(5)
    detector, _ = save_and_load(CASES["functional_nested_gru"].build(), tmp_path / "m.keras")
    a, b = distinct_frames(2, seed=9)
    occlusion = detector.explain(np.stack([{"a": a, "b": b}[c] for c in pattern])).frame_importance["occlusion"].values
    np.testing.assert_array_equal(occlusion[unchanged], 0.0)
    assert np.all(np.abs(occlusion[~np.array(unchanged)]) > 1e-5)


def _last_frame_linear_model() -> keras.Model:
    """A linear model that sees only the last frame: y = Σ w·x[T−1] + b."""
    inputs = keras.Input((T, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same", name="conv"))(inputs)
    x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x)
    x = keras.layers.Flatten()(keras.layers.Cropping1D((T - 1, 0))(x))
    return keras.Model(inputs, keras.layers.Dense(2, name="scores")(x))


def test_known_answers_on_a_linear_model_that_sees_only_the_last_frame(tmp_path: Path) -> None:
    """Frames the model never sees score exactly 0. For a linear y the first-order estimate is exact:
    gradient × input of the last frame is y(x) − y(x with that frame set to the all-zero input)."""
    keras.utils.set_random_seed(2)
    detector, original = save_and_load(_last_frame_linear_model(), tmp_path / "m.keras")
    frames = distinct_frames(T, seed=4)
    scores = {name: result.values for name, result in detector.explain(frames, target=0).frame_importance.items()}
    np.testing.assert_array_equal(scores["gradient_x_input"][:-1], 0.0)
    np.testing.assert_array_equal(scores["occlusion"][:-1], 0.0)

    def y(x: np.ndarray) -> float:
        return float(original(x[np.newaxis], training=False).numpy()[0, 0])  # linear output: y itself

    x = unit_input(frames)
    blanked, replaced = x.copy(), x.copy()
    blanked[-1], replaced[-1] = 0.0, x[-2]
    drop_to_zero, drop_to_previous = y(x) - y(blanked), y(x) - y(replaced)
    assert min(abs(drop_to_zero), abs(drop_to_previous)) > 1e-3
    assert abs(scores["gradient_x_input"][-1] - drop_to_zero) < TOLERANCE * abs(drop_to_zero)
    assert abs(scores["occlusion"][-1] - drop_to_previous) < TOLERANCE * abs(drop_to_previous)


def _any_length_model() -> keras.Model:
    inputs = keras.Input((None, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, activation="relu", name="conv"))(inputs)
    x = keras.layers.GRU(4)(keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


@pytest.fixture(scope="module")
def any_length(tmp_path_factory: pytest.TempPathFactory) -> tuple[Detector, Logits]:
    keras.utils.set_random_seed(6)
    detector, original = save_and_load(_any_length_model(), tmp_path_factory.mktemp("any") / "m.keras")
    return detector, logits_of(original)


def test_a_single_frame_clip_cannot_be_occluded(any_length: tuple[Detector, Logits]) -> None:
    detector, _ = any_length
    frame = distinct_frames(1, seed=1)
    with pytest.raises(VideoError, match=r"at least 2 frames; this clip has 1.*leave 'occlusion' out"):
        detector.explain(frame)
    with pytest.raises(VideoError, match="at least 2 frames"):
        neighbours(1)
    only = detector.explain(frame, frame_importance=("gradient_x_input",)).frame_importance
    assert only["gradient_x_input"].values.shape == (1,)


def test_clips_of_different_lengths_are_each_explained_in_full(any_length: tuple[Detector, Logits]) -> None:
    """A model of unfixed T sees every frame of every clip, whatever lengths came before (here 1, then 2, 5, 3)."""
    detector, logits = any_length
    detector.explain(distinct_frames(1, seed=1), frame_importance=())
    for count in (2, 5, 3):
        frames = distinct_frames(count, seed=count)
        explanation = detector.explain(frames)
        assert explanation.gradcam.shape[0] == count
        expected = reference_occlusion(logits, frames, explanation.target_index)
        assert relative_error(explanation.frame_importance["occlusion"].values, expected) < TOLERANCE


def test_a_fixed_length_model_is_traced_once(setup: Setup) -> None:
    """Several clips, and a head batch of another size, reuse the functions traced for the first clip."""
    gradients = setup.detector.gradients(distinct_frames(T, seed=12), target=1)
    setup.detector.explain(distinct_frames(T, seed=13))
    batch = np.stack([gradients.frame_features] * 2)
    np.testing.assert_allclose(gradients.logits_from_features(batch), [gradients.logits] * 2, rtol=1e-5, atol=1e-6)
    passes = setup.detector._passes(setup.detector.layer_name)
    traced = (passes.maps_with_input_gradient, passes.logits_of_features)
    assert [f.experimental_get_tracing_count() for f in traced] == [1, 1]


def test_frame_importance_methods_are_chosen_by_name(any_length: tuple[Detector, Logits]) -> None:
    detector, _ = any_length
    frames = distinct_frames(3, seed=8)
    assert tuple(detector.explain(frames).frame_importance) == DEFAULT_FRAME_IMPORTANCE == tuple(FRAME_IMPORTANCE)
    assert detector.explain(frames, frame_importance=()).frame_importance == {}
    with pytest.raises(ModelError, match=r"unknown frame-importance method 'shapley'; choose from .*'occlusion'"):
        detector.explain(frames, frame_importance=("occlusion", "shapley"))
    with pytest.raises(ModelError, match="unknown explanation method 'occlusion'"):
        detector.explain(frames, methods=("occlusion",))


def with_clip_length(detector: Detector, frames: int) -> Detector:
    """The detector with a sidecar stating its clip length: a model of any clip length is never
    run on a whole video, its reports explain `frames_per_clip` frames."""
    chosen = copy.copy(detector)
    chosen.sidecar = detector.sidecar.model_copy(update={"frames_per_clip": frames})
    return chosen


def test_a_single_frame_video_is_reported_without_occlusion(any_length: tuple[Detector, Logits], tmp_path: Path) -> None:
    detector = with_clip_length(any_length[0], 1)
    video = write_video(tmp_path / "one.avi", distinct_frames(1, seed=4), 10.0)
    record = report_video(video, detector, tmp_path / "report", progress=lambda _: None).record
    assert [m.method for m in record.explanations.frame_importance] == ["gradcam_share", "gradient_x_input"]
    search = record.explanations.counterfactuals  # no frame to replace: only regions are searched
    assert search is not None and search.budget["max_frames"] == 0 and all(e.kind == "region" for e in search.found)
    assert next(i for i in record.completeness.items if i.number == 11).status == "provided"
    assert record.explanations.motion is not None and record.explanations.motion.overall_share["gradcam"] < 1e-6
    assert record.model.input_shape == [None, SIZE, SIZE, 3]
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert f"Input shape (T, H, W, C)</th><td>any, {SIZE}, {SIZE}, 3</td>" in html


def test_the_edited_clips_are_scored_in_one_batch() -> None:
    """Occlusion's drops and the edited clips' probabilities come from one batch of the layers above the CNN."""
    batches = []

    def score(features: np.ndarray) -> np.ndarray:
        batches.append(features.shape[0])
        return features.sum(axis=(1, 2))[:, np.newaxis] * np.array([1.0, -1.0])

    def softmax(logits: np.ndarray) -> np.ndarray:
        return np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)

    features = np.arange(8, dtype=np.float32).reshape(4, 2)
    zeros = np.zeros((4, 1, 1, 1), np.float32)
    detector_pass = DetectorPass(zeros, zeros, zeros, None, np.zeros(2, np.float32), 0, features, score, softmax)
    result = FRAME_IMPORTANCE["occlusion"].compute(detector_pass)
    np.testing.assert_allclose(result.values, [-4.0, 4.0, 4.0, 4.0])  # the score is the sum of all features
    edited_sums = [32.0, 24.0, 24.0, 24.0]  # feature sums of the clips with frame t replaced by its neighbour
    np.testing.assert_allclose(result.edited_probabilities, softmax(np.outer(edited_sums, [1.0, -1.0])), rtol=1e-6)
    assert list(result.replaced_by) == [1, 0, 1, 2] and batches == [5]


def _brightness(detector_pass: DetectorPass) -> FrameImportance:
    """A toy method: each frame's mean model input."""
    return FrameImportance(detector_pass.inputs.mean(axis=(1, 2, 3)).astype(np.float32))


TOY = FrameImportanceMethod(
    name="brightness", compute=_brightness, label="Toy brightness", description="the mean input of the frame (a toy).",
    limitation="Toy brightness says nothing about the decision.", signed=False,
)


def test_a_new_method_is_one_module_and_one_registry_line(
    any_length: tuple[Detector, Logits], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The toy method above stands for a new module; registering it is the only other change, and it
    reaches the arrays, the record, the chart, the list of methods and the limitations."""
    monkeypatch.setitem(FRAME_IMPORTANCE, TOY.name, TOY)
    detector = with_clip_length(any_length[0], 3)
    frames = distinct_frames(3, seed=11)
    video = write_video(tmp_path / "clip.avi", frames, 10.0)
    options = ReportOptions(frame_importance=(*DEFAULT_FRAME_IMPORTANCE, TOY.name))
    record = report_video(video, detector, tmp_path / "report", options, progress=lambda _: None).record
    row = record.explanations.frame_importance[-1]
    assert (row.method, row.label, row.signed, row.edits) == ("brightness", None, False, None)  # the report names it
    decoded = read_video(video).frames
    assert row.values == pytest.approx(detector.preprocess(decoded).mean(axis=(1, 2, 3)).tolist(), abs=1e-5)
    assert method_limitation(TOY.name) in record.limitations.methods and TOY.limitation in map(note_text, record.limitations.methods)
    with np.load(tmp_path / "report" / "arrays.npz") as arrays:
        np.testing.assert_allclose(arrays["frame_brightness"], row.values, atol=1e-6)
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<strong>Toy brightness</strong>: the mean input of the frame (a toy).</li>" in html
    assert html.count('text-anchor="end" font-size="9">') == 4  # four chart rows, the toy's last
