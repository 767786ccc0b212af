"""Model-randomisation sanity check (Adebayo et al. 2018): the demo's maps change when its top
layers are re-initialised, a map that ignores the weights is flagged, the checked detector is never
touched, and the result is cached by model hash under a key and never trusted when the cache file
is wrong or written under another key (issue 21, item 18: tests/test_sanity_cache.py)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures.models import CASES

from auditor._tensorflow import keras
from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.explain import METHODS, DetectorPass, Method, sanity
from auditor.explain.sanity import SanitySettings, model_randomisation_check, randomised_layers, spearman
from auditor.synthetic import make_clip


def sobel_edges(detector_pass: DetectorPass) -> np.ndarray:
    """A "map" of the input's edge strength: it never looks at the model's weights."""
    grey = detector_pass.inputs.mean(axis=-1)
    return np.stack([np.hypot(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1)) for f in grey])


EDGES = Method(name="edges", compute=sobel_edges, needs_input_grads=False)
WITH_EDGES = {**METHODS, "edges": EDGES}
KEY = b"k" * 32  # the cache key (the CLI derives it from the seal)


@pytest.fixture(scope="module")
def demo() -> Detector:
    return load_detector(demo_model_path())


@pytest.fixture(scope="module")
def demo_check(demo: Detector, tmp_path_factory: pytest.TempPathFactory) -> sanity.SanityCheck:
    return model_randomisation_check(demo, WITH_EDGES, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def cached(demo: Detector, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sanity.SanityCheck]:
    """A cache folder holding the demo's check with the default methods, and that check."""
    folder = tmp_path_factory.mktemp("cached")
    return folder, model_randomisation_check(demo, cache_dir=folder, cache_key=KEY)


@pytest.fixture
def cache(cached: tuple[Path, sanity.SanityCheck], tmp_path: Path) -> Path:
    """A private copy of the cache folder of `cached`."""
    return shutil.copytree(cached[0], tmp_path / "cache")


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The model files the check loads (its randomised copies), in order."""
    calls: list[Path] = []
    fresh_copy = Detector.fresh_copy

    def counting(detector: Detector) -> Detector:
        calls.append(detector.model_path)
        return fresh_copy(detector)

    monkeypatch.setattr(Detector, "fresh_copy", counting)
    return calls


def test_demo_maps_change_when_the_top_layers_are_reinitialised(demo_check: sanity.SanityCheck) -> None:
    assert demo_check.randomised_layers == ("conv2", "bn2", "last_conv")
    assert demo_check.layer == "last_conv" and not demo_check.from_cache
    for name in ("gradcam", "saliency"):
        result = demo_check.methods[name]
        print(f"demo {name}: rho {result.correlation:.3f}, |rho| {result.abs_correlation:.3f}")
        assert result.verdict == "passes" and result.abs_correlation < 0.5
    assert demo_check.methods["gradcam"].abs_correlation < 0.2


def test_a_map_that_ignores_the_weights_is_flagged(demo_check: sanity.SanityCheck) -> None:
    edges = demo_check.methods["edges"]
    print(f"demo edges: rho {edges.correlation:.3f}")
    assert edges.verdict == "fails" and edges.correlation > 0.999


def test_the_checked_detector_is_untouched(demo: Detector, tmp_path: Path) -> None:
    weights = [np.array(w) for w in demo.model.get_weights()]
    frames = make_clip("fight", 5).frames
    before = demo.predict(frames)
    model_randomisation_check(demo, cache_dir=tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(weights, demo.model.get_weights(), strict=True))
    assert np.array_equal(before, demo.predict(frames))


def test_second_call_comes_from_the_cache_without_loading_the_model(
    demo: Detector, cached: tuple[Path, sanity.SanityCheck], cache: Path, loads: list[Path]
) -> None:
    first = cached[1]
    assert not first.from_cache
    second = model_randomisation_check(demo, cache_dir=cache, cache_key=KEY)
    assert loads == [] and second.from_cache and second.cache_file == next(cache.glob("sanity-*.json"))
    assert second.methods == first.methods and second.computed_at == first.computed_at
    assert second.randomised_layers == first.randomised_layers and second.model_sha256 == demo.model_sha256


def test_another_model_hash_or_other_settings_miss_the_cache(
    demo: Detector, cache: Path, loads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    other_settings = model_randomisation_check(demo, cache_dir=cache, settings=SanitySettings(seed=1), cache_key=KEY)
    monkeypatch.setattr(demo, "model_sha256", "f" * 64)
    other_model = model_randomisation_check(demo, cache_dir=cache, cache_key=KEY)
    assert loads == [demo.model_path] * 2 and not other_settings.from_cache and not other_model.from_cache
    assert other_model.model_sha256 == "f" * 64 and len(list(cache.glob("sanity-*.json"))) == 3


def _tamper(kind: str, text: str) -> str:
    record = json.loads(text)
    if kind == "garbage":
        return "not json {"
    if kind == "extra field":
        record["note"] = "trust me"
    elif kind == "other model hash":
        record["model_sha256"] = "0" * 64
    elif kind == "correlation out of range":
        record["methods"]["gradcam"]["correlation"] = 7.0
    elif kind == "method missing":
        del record["methods"]["saliency"]
    elif kind == "oversized":
        record["computed_at"] = record["computed_at"] + " " * 100_000
    elif kind == "other figures":
        record["methods"]["gradcam"]["abs_correlation"] = 0.01
    return json.dumps(record)


@pytest.mark.parametrize(
    "kind",
    ["garbage", "extra field", "other model hash", "correlation out of range", "method missing", "oversized",
     "other figures"],
)
def test_a_tampered_cache_file_is_ignored_and_recomputed(
    demo: Detector,
    cached: tuple[Path, sanity.SanityCheck],
    cache: Path,
    loads: list[Path],
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (path,) = cache.glob("sanity-*.json")
    path.write_text(_tamper(kind, path.read_text()))
    with caplog.at_level(logging.WARNING, logger=sanity.__name__):
        again = model_randomisation_check(demo, cache_dir=cache, cache_key=KEY)
    assert loads == [demo.model_path] and not again.from_cache
    assert again.methods == cached[1].methods and "sanity-check cache file" in caplog.text
    assert model_randomisation_check(demo, cache_dir=cache, cache_key=KEY).from_cache  # the file was written afresh


def test_an_entry_under_another_key_or_without_a_key_is_not_read(
    demo: Detector, cache: Path, loads: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=sanity.__name__):
        other = model_randomisation_check(demo, cache_dir=cache, cache_key=b"another seal's key")
    assert not other.from_cache and caplog.text == ""  # another seal has its own entry: nothing to warn of
    assert not model_randomisation_check(demo, cache_dir=cache).from_cache  # no key: computed afresh
    assert loads == [demo.model_path] * 2
    assert model_randomisation_check(demo, cache_dir=cache, cache_key=KEY).from_cache  # this seal's entry is intact


def test_an_unwritable_cache_only_warns(demo: Detector, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger=sanity.__name__):
        check = model_randomisation_check(demo, cache_dir=blocker / "cache", cache_key=KEY)
    assert not check.from_cache and check.methods["gradcam"].verdict == "passes"
    assert "could not cache the sanity check" in caplog.text


def test_same_seed_same_figures_other_seed_other_figures(
    demo: Detector, cached: tuple[Path, sanity.SanityCheck], tmp_path: Path
) -> None:
    again = model_randomisation_check(demo, cache_dir=tmp_path / "a")
    other = model_randomisation_check(demo, cache_dir=tmp_path / "b", settings=SanitySettings(seed=1))
    assert again.methods == cached[1].methods and not again.from_cache
    assert other.methods["gradcam"].correlation != again.methods["gradcam"].correlation


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AUDITOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sanity.default_cache_dir() == tmp_path / "xdg" / "auditor"
    monkeypatch.setenv("AUDITOR_CACHE_DIR", str(tmp_path / "own"))
    assert sanity.default_cache_dir() == tmp_path / "own"


def test_small_non_demo_model(tmp_path: Path) -> None:
    """A 3-frame 32×32 GRU detector with random weights: its top conv layer is re-initialised."""
    keras.utils.set_random_seed(11)
    path = tmp_path / "model.keras"
    CASES["functional_nested_gru"].build().save(path)
    detector = load_detector(path)
    check = model_randomisation_check(detector, WITH_EDGES, tmp_path / "cache")
    assert check.randomised_layers == ("conv_b",) and check.layer == "conv_b"
    assert check.reference_clips == {"labels": "fight, fall", "seeds": "1501, 1502", "frames": 3, "size": 64,
                                      "width": 32, "height": 32}
    assert check.methods["edges"].verdict == "fails" and check.methods["edges"].correlation > 0.999
    assert all(-1 <= m.correlation <= 1 and 0 <= m.abs_correlation <= 1 for m in check.methods.values())


def test_the_target_layer_is_always_reinitialised(tmp_path: Path) -> None:
    """Grad-CAM on the first conv layer c1 of a TimeDistributed(Conv2D) stack: the top half alone
    would be c2; the check extends it down to c1."""
    path = tmp_path / "stack.keras"
    CASES["td_conv_stack"].build().save(path)
    assert [layer.name for layer in randomised_layers(load_detector(path))] == ["c2"]
    assert [layer.name for layer in randomised_layers(load_detector(path, layer="c1"))] == ["c1", "c2"]


def test_spearman_ranks_ties_by_their_average() -> None:
    a = np.array([[1.0, 2.0], [2.0, 3.0]])
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    # ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): Pearson of the ranks = 4.5 / sqrt(4.5 * 5)
    assert spearman(a, np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(4.5 / np.sqrt(4.5 * 5))
    assert spearman(np.zeros(4), np.zeros(4)) == 1.0 and spearman(np.zeros(4), a) == 0.0
