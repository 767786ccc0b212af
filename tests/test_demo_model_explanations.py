"""The shipped demo model's explanations point at the moving figures on held-out clips."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.synthetic import CLASS_NAMES, make_clip

HELD_OUT_SEEDS = range(2_000_000, 2_000_006)  # disjoint from training (random 62-bit) and the card's test seeds


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(demo_model_path())


def _peak_in_box(cam: np.ndarray, box: np.ndarray, frame_size: int) -> bool:
    i, j = np.unravel_index(np.argmax(cam), cam.shape)
    scale = frame_size / cam.shape[0]
    y, x = (i + 0.5) * scale, (j + 0.5) * scale
    x0, y0, x1, y1 = box
    return bool(x0 - scale / 2 <= x <= x1 + scale / 2 and y0 - scale / 2 <= y <= y1 + scale / 2)


@pytest.mark.parametrize("label", ["fight", "fall"])
def test_gradcam_peak_lies_on_the_moving_figure(detector: Detector, label: str) -> None:
    hits = total = 0
    for seed in HELD_OUT_SEEDS:
        clip = make_clip(label, seed)
        explanation = detector.explain(clip.frames, target=label)
        for cam, box in zip(explanation.gradcam, clip.boxes):
            if cam.max() > 0:
                hits += _peak_in_box(cam, box, clip.frames.shape[1])
            total += 1
    assert hits / total >= 0.9, f"Grad-CAM peak on the figure in {hits}/{total} frames"


@pytest.mark.parametrize("label", ["fight", "fall"])
def test_saliency_concentrates_on_the_figure(detector: Detector, label: str) -> None:
    ratios = []
    for seed in HELD_OUT_SEEDS:
        clip = make_clip(label, seed)
        saliency = detector.explain(clip.frames, target=label).saliency
        for frame_map, (x0, y0, x1, y1) in zip(saliency, clip.boxes):
            inside = frame_map[y0:y1, x0:x1].mean()
            ratios.append(inside / frame_map.mean())
    assert np.median(ratios) > 2.0, f"median in-box / frame saliency ratio {np.median(ratios):.2f}"


def test_demo_model_matches_its_sidecar_and_classifies_held_out_clips(detector: Detector) -> None:
    assert detector.class_names == CLASS_NAMES and detector.preprocessing == "unit"
    assert detector.layer_name == detector.sidecar.target_layer
    correct = total = 0
    for label in ("normal", "fight", "fall"):
        for seed in HELD_OUT_SEEDS:
            probabilities = detector.predict(make_clip(label, seed).frames)
            correct += detector.class_names[int(np.argmax(probabilities))] == label
            total += 1
    assert correct / total >= 0.9, f"{correct}/{total} held-out clips classified correctly"
