"""The example deployment profile says what a report made with it does (issue 24 item 8): its
data-minimisation sentence and its comments on mask_faces, picture size, the clip and audio are
checked against a report `auditor report` writes with it, from a recording wider than the
pictures may be (800×600)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import av
import cv2
import numpy as np
from fixtures.cli import run_cli
from fixtures.report_records import EXAMPLE_PROFILE

from auditor.demo import demo_model_path
from auditor.profile import load_profile
from auditor.report.clip import MAX_WIDTH as MAX_CLIP_WIDTH
from auditor.report.display import MAX_IMAGE_WIDTH, MIN_IMAGE_WIDTH
from auditor.synthetic import make_clip
from auditor.video import write_video

DEMO_PROFILE = Path(__file__).parents[1] / "auditor" / "data" / "demo_profile.toml"
NO_CHECKS = [option for name in ("motion", "counterfactuals", "faithfulness", "sanity", "persons")
             for option in ("--skip-check", name)]


def test_the_example_profile_says_what_a_report_made_with_it_does(tmp_path: Path) -> None:
    frames = np.stack([cv2.resize(f, (800, 600), interpolation=cv2.INTER_NEAREST) for f in make_clip("fight", 101).frames])
    video = write_video(tmp_path / "platform.avi", frames, 10.0)
    out = tmp_path / "report"
    run = run_cli("report", str(video), "--model", str(demo_model_path()), "--profile", str(EXAMPLE_PROFILE),
                  "--out", str(out), "--no-sign", *NO_CHECKS)
    assert run.returncode == 0, run.stderr
    record = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    profile = load_profile(EXAMPLE_PROFILE)
    said = (profile.data_minimisation or "").lower()
    assert record["deployment"]["data_minimisation"] == profile.data_minimisation  # the sentence the report prints

    assert profile.mask_faces and record["masking"]["enabled"] and record["clip"]["faces_masked"]
    assert "faces are blurred in every picture and in the clip" in said and "not masked" not in said

    geometry = record["explanations"]["geometry"]
    assert (geometry["source_width"], geometry["source_height"], geometry["model_width"]) == (800, 600, 64)
    assert f"wider than {MAX_IMAGE_WIDTH} pixels is reduced to {MAX_IMAGE_WIDTH}" in said
    assert f"at least {MIN_IMAGE_WIDTH} pixels wide" in said and "downscaled" not in said
    assert (geometry["image_width"], geometry["image_height"]) == (MAX_IMAGE_WIDTH, 480)  # the aspect ratio kept
    picture = cv2.imread(str(out / "images" / "gradcam_00.jpg"))
    assert picture.shape[:2] == (480, MAX_IMAGE_WIDTH)  # the recorded frame, not the model's 64 × 64

    assert f"the clip keeps the recording's size up to {MAX_CLIP_WIDTH} pixels wide" in said
    assert (record["clip"]["width"], record["clip"]["height"]) == (800, 600)
    assert "the report holds no audio" in said
    with av.open(str(out / "clip.webm")) as clip, av.open(str(out / "clip-heatmap.webm")) as heatmap:
        assert [len(f.streams.audio) for f in (clip, heatmap)] == [0, 0]
        assert [len(f.streams.video) for f in (clip, heatmap)] == [1, 1]


def test_the_demo_profile_makes_the_same_statements() -> None:
    """The demo's own profile (auditor/data) carried the same untrue sentence: both say one thing."""
    example, demo = (tomllib.loads(path.read_text(encoding="utf-8")) for path in (EXAMPLE_PROFILE, DEMO_PROFILE))
    assert demo["data_minimisation"] == example["data_minimisation"]
    assert demo["mask_faces"] is example["mask_faces"] is True
