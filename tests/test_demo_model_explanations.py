"""The shipped demo model, on the held-out clips its model card reports on: accuracy, and
explanations that point at the moving figures (Grad-CAM peak in the box, saliency mass)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.synthetic import CLASS_NAMES, make_clip

TEST_SEED_BASE, TEST_PER_CLASS = 1_000_000, 100  # the card's held-out set; training seeds are random 62-bit


@dataclass(frozen=True)
class Localisation:
    hits: int
    frames: int
    saliency_ratios: list[float]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(demo_model_path())


@pytest.fixture(scope="module")
def localisation(detector: Detector) -> dict[str, Localisation]:
    """Per anomaly class: Grad-CAM peaks in the box, and in-box / frame saliency, for the true class."""
    results = {}
    for label in ("fight", "fall"):
        hits = frames = 0
        ratios: list[float] = []
        for i in range(TEST_PER_CLASS):
            clip = make_clip(label, TEST_SEED_BASE + i)
            explanation = detector.explain(clip.frames, target=label)
            for cam, saliency, box in zip(explanation.gradcam, explanation.saliency, clip.boxes, strict=True):
                hits += _peak_in_box(cam, box, clip.frames.shape[1])
                frames += 1
                x0, y0, x1, y1 = box
                ratios.append(float(saliency[y0:y1, x0:x1].mean() / saliency.mean()))
        results[label] = Localisation(hits, frames, ratios)
    return results


def _peak_in_box(cam: np.ndarray, box: np.ndarray, frame_size: int) -> bool:
    """Whether the map's peak cell is one of the map cells the box touches (a zero map misses)."""
    if not cam.any():
        return False
    cell = frame_size / cam.shape[0]
    i, j = np.unravel_index(np.argmax(cam), cam.shape)
    x0, y0, x1, y1 = box
    return int(x0 // cell) <= j <= int((x1 - 1) // cell) and int(y0 // cell) <= i <= int((y1 - 1) // cell)


def test_held_out_set_is_the_one_the_card_reports(detector: Detector) -> None:
    assert detector.sidecar.provenance["test_seeds"] == f"{TEST_SEED_BASE} + i, i < {TEST_PER_CLASS}, per class"
    assert detector.class_names == CLASS_NAMES and detector.preprocessing == "unit"
    assert detector.layer_name == detector.sidecar.target_layer


@pytest.mark.parametrize("label", ["fight", "fall"])
def test_gradcam_peak_lies_on_the_moving_figure(localisation: dict[str, Localisation], detector: Detector, label: str) -> None:
    result = localisation[label]
    rate = result.hits / result.frames
    assert rate >= 0.9, f"Grad-CAM peak on the figure in {result.hits}/{result.frames} frames"
    assert rate == pytest.approx(detector.sidecar.provenance["gradcam_peak_in_box"][label], abs=5e-5)


@pytest.mark.parametrize("label", ["fight", "fall"])
def test_saliency_concentrates_on_the_figure(localisation: dict[str, Localisation], label: str) -> None:
    ratios = np.array(localisation[label].saliency_ratios)
    assert np.median(ratios) > 3.0, f"median in-box / frame saliency ratio {np.median(ratios):.2f}"
    assert np.mean(ratios > 1.0) > 0.95


def test_held_out_accuracy_matches_the_card(detector: Detector) -> None:
    clips = [make_clip(label, TEST_SEED_BASE + i) for label in CLASS_NAMES for i in range(TEST_PER_CLASS)]
    x = np.stack([detector.preprocess(c.frames) for c in clips])
    predicted = detector.model.predict(x, batch_size=32, verbose=0).argmax(axis=1)
    truth = np.array([CLASS_NAMES.index(c.label) for c in clips])
    accuracy = float(np.mean(predicted == truth))
    assert accuracy >= 0.9
    assert accuracy == pytest.approx(detector.sidecar.provenance["held_out_accuracy"], abs=5e-5)
