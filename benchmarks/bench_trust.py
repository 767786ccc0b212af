"""Cost of the trust checks of one decision (issue 15), each as a multiple of one forward pass.

For two detectors — the shipped demo detector on the demo's fight clip, and TimeDistributed(VGG19)
→ GRU → Dense (weights=None, T=16, 224×224) on a window of vtest.avi when installed (else a
generated clip) — prints the median wall time of:
  forward          Detector.predict (the per-frame CNN, then the layers above it)
  explain          Detector.explain with the default maps and frame-importance methods
  motion           spatial vs motion relevance (T static clips in one pass)
  counterfactuals  the what-if search (frames from features; regions in batched CNN passes)
  faithfulness     deletion and insertion curves (Grad-CAM, saliency, frame methods, 3 random seeds)
  sanity           model-randomisation check, uncached (once per model; cached after)
  persons          HOG people detector on the key frames and the activation share per person
  faces            Haar face finding on the window's frames (for masking the report's images)
then the total of the checks and of the whole set (explain + checks), each ÷ forward.

    python benchmarks/bench_trust.py [--model demo|vgg19|both] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_explain import build_model, median_seconds

from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.explain.counterfactual import search_counterfactuals
from auditor.explain.faithfulness import faithfulness
from auditor.explain.key_frames import key_frames
from auditor.explain.motion import motion_relevance
from auditor.explain.persons import ground_persons
from auditor.explain.sanity import model_randomisation_check
from auditor.masking import find_faces
from auditor.synthetic import make_clip
from auditor.window import select_window

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(name: str, detector: Detector, recorded: np.ndarray, repeats: int) -> None:
    rule = detector.sidecar.decision_rule
    explanation = detector.explain(recorded)
    keys = key_frames(explanation)
    costs = {
        "forward": median_seconds(lambda: detector.predict(recorded), repeats),
        "explain": median_seconds(lambda: detector.explain(recorded), repeats),
        "motion": median_seconds(lambda: motion_relevance(detector, explanation), repeats),
        "counterfactuals": median_seconds(lambda: search_counterfactuals(detector, recorded, explanation, rule), repeats),
        "faithfulness": median_seconds(lambda: faithfulness(detector, explanation), repeats),
        "persons": median_seconds(lambda: ground_persons(recorded, explanation.gradcam, keys), repeats),
        "faces": median_seconds(lambda: find_faces(recorded), repeats),
    }
    with tempfile.TemporaryDirectory() as cache:  # a cache entry counts under a key (the CLI derives it from the seal)
        costs["sanity"] = once(lambda: model_randomisation_check(detector, cache_dir=Path(cache), cache_key=b"bench"))
        cached = once(lambda: model_randomisation_check(detector, cache_dir=Path(cache), cache_key=b"bench"))
    forward = costs["forward"]
    print(f"\n{name}: frames {recorded.shape}, model input {detector.input_shape}")
    for key, seconds in costs.items():
        print(f"  {key:16s} {seconds:8.3f} s  {seconds / forward:8.1f} × forward")
    checks = sum(v for k, v in costs.items() if k not in ("forward", "explain"))
    print(f"  sanity (cached)  {cached:8.3f} s")
    print(f"  checks, total    {checks:8.3f} s  {checks / forward:8.1f} × forward")
    print(f"  explain + checks {checks + costs['explain']:8.3f} s  {(checks + costs['explain']) / forward:8.1f} × forward")
    print(f"  same, sanity cached {checks - costs['sanity'] + cached + costs['explain']:8.3f} s  "
          f"{(checks - costs['sanity'] + cached + costs['explain']) / forward:8.1f} × forward")


def vgg19_case(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vgg19_td_gru.keras"
        build_model(16, 224).save(path)
        detector = load_detector(path, class_names=["normal", "fight", "fall"])
        recorded = select_window(VTEST, 16, 100).frames if VTEST.exists() else make_clip("fight", 2026, size=224).frames
        measure("TD(VGG19)->GRU, T=16, 224x224", detector, recorded, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("demo", "vgg19", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.model in ("demo", "both"):
        detector = load_detector(demo_model_path())
        measure("demo detector, one demo detection (fight, seed 2026)", detector, make_clip("fight", 2026).frames,
                args.repeats)
    if args.model in ("vgg19", "both"):
        vgg19_case(1 if args.model == "both" else args.repeats)


if __name__ == "__main__":
    main()
