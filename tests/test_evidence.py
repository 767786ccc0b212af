"""Evidence record: schema drift, round trip, determinism, decision and summaries, artifacts.

Regenerate the committed schema after a deliberate model change with
`UPDATE_GOLDEN=1 pytest tests/test_evidence.py`, and bump the schema version if the change
is not backward compatible.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fixtures.report_records import (
    CLASSES,
    FakeDrawn,
    FakeGeometry,
    full_profile,
    make_clip,
    make_explanation,
    make_report_folder,
)
from pydantic import ValidationError

import auditor.evidence as auditor_evidence
from auditor.errors import ReportError
from auditor.evidence import (
    SCHEMA_RESOURCE,
    EvidenceRecord,
    ImageRef,
    LogPointer,
    Note,
    Review,
    SealInfo,
    build_record,
    committed_schema,
    completeness_of,
    load_record,
    record_json,
    refresh_completeness,
    region_name,
    schema_json,
    verify_artifacts,
    write_record,
)
from auditor.explain import FRAME_IMPORTANCE
from auditor.explain.base import DecisionRule
from auditor.report.html import render_html

OLD_RECORD = Path(__file__).parent / "fixtures" / "record-1.1.json"
SCHEMA_PATH = Path(__file__).parents[1] / "auditor" / "schema" / SCHEMA_RESOURCE


def test_committed_schema_matches_the_models() -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        SCHEMA_PATH.write_text(schema_json(), encoding="utf-8")
    assert committed_schema() == schema_json(), "models and schema drifted: see this file's docstring"


def test_schema_is_versioned_and_requires_the_sections() -> None:
    schema = json.loads(committed_schema())
    assert schema["$id"].endswith("evidence-record-v2.json")
    assert schema["properties"]["schema_version"]["enum"] == ["1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"]
    assert schema["properties"]["schema_version"]["default"] == "2.7"
    for section in ("report", "deployment", "model", "input", "decision", "explanations", "artifacts", "completeness"):
        assert section in schema["required"]


def test_record_round_trips_exactly(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path, profile=full_profile())
    path = write_record(tmp_path, record)
    assert load_record(path) == record
    assert load_record(path.read_bytes()) == record
    assert record_json(load_record(path)) == path.read_text(encoding="utf-8")


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    first = make_report_folder(tmp_path / "a", profile=full_profile())
    second = make_report_folder(tmp_path / "b", profile=full_profile())
    assert record_json(first) == record_json(second)
    assert (tmp_path / "a" / "arrays.npz").read_bytes() == (tmp_path / "b" / "arrays.npz").read_bytes()


@pytest.mark.parametrize("version", ["3.0", "1.3"])
def test_unknown_schema_version_fails_clearly(tmp_path: Path, version: str) -> None:
    data = json.loads(record_json(make_report_folder(tmp_path)))
    data["schema_version"] = version
    with pytest.raises(ReportError, match=f"schema_version '{version}'.*reads 1.0, 1.1, 1.2, 2.0, 2.1, 2.2, 2.3, 2.4"):
        load_record(json.dumps(data).encode())


def test_records_of_schema_1_still_load(tmp_path: Path) -> None:
    """A record written by auditor 0.1 (schema 1.1, tests/fixtures/record-1.1.json) is read and
    converted: Grad-CAM mass, occlusion and gradient × input become rows of frame_importance."""
    old = json.loads(OLD_RECORD.read_text(encoding="utf-8"))
    record = load_record(OLD_RECORD)
    assert record.schema_version == "1.1"
    rows = {m.method: m for m in record.explanations.frame_importance}
    assert rows["gradcam_share"].values == old["explanations"]["frame_importance"]["values"]
    assert rows["gradient_x_input"].values == old["explanations"]["gradient_x_input"]["values"]
    occluded = old["explanations"]["occlusion"]["frames"]
    assert rows["occlusion"].values == [f["score_drop"] for f in occluded]
    assert [e.model_dump() for e in rows["occlusion"].edits or []] == [
        {k: f[k] for k in ("position", "replaced_by", "predicted_class", "predicted_probability", "flagged")}
        for f in occluded
    ]
    fresh = make_report_folder(tmp_path, profile=full_profile()).completeness
    assert [(i.number, i.status, i.missing) for i in record.completeness.items] == [
        (i.number, i.status, i.missing) for i in fresh.items
    ]
    assert record.explanations.motion is None and record.masking is None  # 2.3 sections: absent, not invented
    data = json.loads(record_json(record))
    data["schema_version"], data["deployment"]["templates_dir"] = "1.0", "/srv/templates"  # 1.0/1.1 wrote it
    assert "templates_dir" not in load_record(json.dumps(data).encode()).deployment.model_dump()


def test_records_of_schema_2_0_still_load(tmp_path: Path) -> None:
    """2.0 records had no geometry and did not say whether a map is localised: both read as unknown."""
    data = json.loads(record_json(make_report_folder(tmp_path)))
    data["schema_version"] = "2.0"
    del data["explanations"]["geometry"], data["explanations"]["parameters"]["localised_max_area_above_half"]
    for frame in data["explanations"]["frames"]:
        for summary in frame["maps"].values():
            del summary["localised"]
    record = load_record(json.dumps(data).encode())
    assert record.schema_version == "2.0" and record.explanations.geometry is None
    assert {s.localised for f in record.explanations.frames for s in f.maps.values()} == {None}
    html = render_html(record, tmp_path)  # the report does not claim what a 2.0 record does not say
    assert "The frames as the model saw them." in html and "shown as recorded" not in html
    assert "no localisation" not in html and "peak centre" in html


def test_records_of_schema_2_3_still_load(tmp_path: Path) -> None:
    """2.3 records did not say where the model-randomisation figures were computed: read as unknown,
    and the report says so instead of claiming either."""
    data = json.loads(record_json(make_report_folder(tmp_path, trust=True)))
    data["schema_version"] = "2.3"
    del data["explanations"]["sanity"]["host"], data["explanations"]["sanity"]["cache_file"]
    record = load_record(json.dumps(data).encode())
    assert record.schema_version == "2.3" and record.explanations.sanity is not None
    assert record.explanations.sanity.host is None and record.explanations.sanity.cache_file is None
    html = " ".join(render_html(record, tmp_path).split())
    assert "Computed once for this model on 14 March 2025 (seed 0); where is not recorded." in html
    assert "on host" not in html and "cache file" not in html


def test_the_record_holds_the_geometry_of_the_pictures(tmp_path: Path) -> None:
    explanation = make_explanation()
    geometry = FakeGeometry(source_width=640, source_height=272, image_width=640, image_height=272)
    record = build_record(
        explanation, make_clip(explanation), model=make_report_folder(tmp_path).model,
        rule=DecisionRule(0.5, "normal"), drawn=FakeDrawn(geometry=geometry), arrays=(tmp_path / "arrays.npz", "0" * 64),
    )
    assert record.explanations.geometry is not None
    assert record.explanations.geometry.model_dump() == geometry.__dict__
    assert load_record(record_json(record).encode()).explanations.geometry == record.explanations.geometry


def test_not_a_record_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no schema_version"):
        load_record(b'{"hello": 1}')
    with pytest.raises(ReportError, match="not valid JSON"):
        load_record(b"<html>")
    with pytest.raises(ReportError, match="does not exist"):
        load_record(tmp_path / "missing.json")
    data = json.loads(record_json(make_report_folder(tmp_path)))
    del data["decision"]["threshold"]
    with pytest.raises(ReportError, match="decision.threshold"):
        load_record(json.dumps(data).encode())


def test_decision_fields(tmp_path: Path) -> None:
    decision = make_report_folder(tmp_path).decision
    probabilities = {c.name: c.probability for c in decision.classes}
    assert list(probabilities) == list(CLASSES)
    assert decision.predicted_class == "fight" and decision.flagged
    assert decision.runner_up_class == "normal"
    assert decision.margin == pytest.approx(probabilities["fight"] - probabilities["normal"], abs=2e-6)
    assert decision.score_name == "logit" and decision.score_value == pytest.approx(3.2)
    assert decision.threshold == 0.5


def test_normal_class_or_low_score_is_not_flagged(tmp_path: Path) -> None:
    explanation = make_explanation()
    quiet = type(explanation)(**{**explanation.__dict__, "probabilities": np.array([0.7, 0.2, 0.1], np.float32)})
    record = _build(tmp_path, quiet, threshold=0.5)
    assert record.decision.predicted_class == "normal" and not record.decision.flagged
    assert not _build(tmp_path, explanation, threshold=0.99).decision.flagged


def _build(tmp_path: Path, explanation, threshold: float):  # type: ignore[no-untyped-def]
    return build_record(
        explanation, make_clip(explanation), model=make_report_folder(tmp_path).model,
        rule=DecisionRule(threshold, "normal"), drawn=FakeDrawn(), arrays=(tmp_path / "arrays.npz", "0" * 64),
    )


def test_frame_summaries_follow_the_maps(tmp_path: Path) -> None:
    explanation = make_explanation()
    ex = make_report_folder(tmp_path, explanation=explanation).explanations
    masses = explanation.gradcam.sum(axis=(1, 2))
    assert [f.frame_index for f in ex.frames] == list(range(120, 126))
    share = ex.frame_importance[0]
    assert (share.method, share.label, share.description) == ("gradcam_share", None, None)  # 2.7: the report words it
    assert share.values == pytest.approx((masses / masses.sum()).tolist(), abs=1e-6)
    assert sum(f.maps["gradcam"].mass_share for f in ex.frames) == pytest.approx(1.0, abs=1e-5)
    assert ex.frames[0].maps["gradcam"].region == "upper-left"
    peaks = explanation.gradcam.max(axis=(1, 2)) / explanation.gradcam.max()
    assert [f.maps["gradcam"].peak_relative for f in ex.frames] == pytest.approx(peaks.tolist(), abs=1e-6)
    assert ex.key_frames == sorted(np.argsort(-masses)[:4].tolist())
    assert ex.contour_levels == [0.25, 0.5, 0.75, 0.9]


def test_map_summaries_say_whether_each_map_is_localised(tmp_path: Path) -> None:
    """Flat, nearly flat and empty maps single out no region: region "none", localised false."""
    explanation = make_explanation()
    cams = explanation.gradcam.copy()
    cams[0] = 0.5  # flat
    cams[1] = 0.5 + 0.1 * np.random.default_rng(0).random((4, 4))  # nearly flat
    cams[2] = 0.0  # empty
    explanation = replace(explanation, maps={**explanation.maps, "gradcam": cams})
    record = make_report_folder(tmp_path, explanation=explanation)
    summaries = [f.maps["gradcam"] for f in record.explanations.frames]
    assert [s.localised for s in summaries] == [False, False, False, True, True, True]
    assert [s.region for s in summaries[:3]] == ["none"] * 3 and "none" not in {s.region for s in summaries[3:]}
    assert all(f.maps["saliency"].localised for f in record.explanations.frames)
    assert record.explanations.parameters["localised_max_area_above_half"] == 0.5


def test_frame_importance_and_occlusion_outcomes_are_recorded(tmp_path: Path) -> None:
    explanation = make_explanation()
    record = make_report_folder(tmp_path, explanation=explanation)
    rows = {m.method: m for m in record.explanations.frame_importance}
    assert list(rows) == ["gradcam_share", "occlusion", "gradient_x_input"]
    for name, row in rows.items():
        assert row.values == pytest.approx(explanation.frame_importance[name].values.tolist(), abs=1e-6)
        assert (row.label, row.description, row.signed) == (None, None, FRAME_IMPORTANCE[name].signed)
    edits = rows["occlusion"].edits
    assert edits is not None and rows["gradient_x_input"].edits is None
    assert [e.position for e in edits] == list(range(6))
    assert [e.replaced_by for e in edits] == [1, 0, 1, 2, 3, 4]
    edited = explanation.frame_importance["occlusion"].edited_probabilities
    for e, row in zip(edits, edited, strict=True):
        top = int(np.argmax(row))
        assert e.predicted_class == CLASSES[top] and e.predicted_probability == pytest.approx(row[top], abs=1e-6)
    assert [e.flagged for e in edits] == [True] * 5 + [False]  # without the last frame: "normal", no alert
    assert edits[-1].predicted_class == "normal"
    assert _status(record, 11).status == "provided"


def test_without_edited_frames_item_11_is_not_provided(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path, explanation=make_explanation(occlusion_and_gradient=False))
    assert [m.method for m in record.explanations.frame_importance] == ["gradcam_share"]
    assert record.explanations.edits() is None
    item = _status(record, 11)
    assert item.status == "not provided" and item.missing == ["explanations.counterfactuals"]


def test_item_11_is_provided_by_the_what_if_search_even_when_nothing_flipped(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path / "a", explanation=make_explanation(occlusion_and_gradient=False), trust=True)
    assert _status(record, 11).status == "provided" and _status(record, 11).note is None
    search = record.explanations.counterfactuals
    assert search is not None
    empty = record.model_copy(update={"explanations": record.explanations.model_copy(
        update={"counterfactuals": search.model_copy(update={"found": []})})})
    item = completeness_of(empty).items[10]
    assert item.status == "provided" and item.note == Note(code="checklist.no_outcome_change")
    with_edits = make_report_folder(tmp_path / "b")
    assert _status(with_edits, 11).note == Note(code="checklist.single_frames_only")


@pytest.mark.parametrize(
    ("row", "col", "name"),
    [(0.1, 0.1, "upper-left"), (0.5, 0.5, "centre"), (0.5, 0.9, "middle-right"), (1.0, 0.4, "lower-centre")],
)
def test_region_names(row: float, col: float, name: str) -> None:
    assert region_name(row, col) == name


def test_arrays_hold_the_raw_maps(tmp_path: Path) -> None:
    explanation = make_explanation()
    record = make_report_folder(tmp_path, explanation=explanation)
    with np.load(tmp_path / record.explanations.arrays.path) as arrays:
        assert sorted(arrays.files) == record.explanations.arrays.keys
        np.testing.assert_array_equal(arrays["map_gradcam"], explanation.gradcam)
        np.testing.assert_array_equal(arrays["map_saliency"], explanation.saliency)
        np.testing.assert_array_equal(arrays["logits"], explanation.logits)
        occlusion = explanation.frame_importance["occlusion"]
        np.testing.assert_array_equal(arrays["frame_occlusion"], occlusion.values)
        np.testing.assert_array_equal(arrays["frame_occlusion_edited_probabilities"], occlusion.edited_probabilities)
        np.testing.assert_array_equal(
            arrays["frame_gradient_x_input"], explanation.frame_importance["gradient_x_input"].values)


def test_artifacts_list_every_file_and_detect_changes(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    listed = {a.path for a in record.artifacts}
    on_disk = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert listed == on_disk
    assert verify_artifacts(record, tmp_path) == []
    (tmp_path / "images" / "gradcam_02.png").write_bytes(b"changed")
    (tmp_path / "images" / "legend.png").unlink()
    problems = verify_artifacts(record, tmp_path)
    assert problems == ["images/gradcam_02.png: SHA-256 differs from the record (file altered)", "images/legend.png: missing"]


@pytest.mark.parametrize("path", ["../outside.png", "/etc/passwd", "images/../../x.png", ".hidden"])
def test_artifact_paths_must_stay_inside_the_folder(path: str) -> None:
    with pytest.raises(ValidationError):
        ImageRef(path=path, kind="gradcam", frame=0, sha256="0" * 64)


def test_window_must_match_the_explained_frames(tmp_path: Path) -> None:
    explanation = make_explanation()
    two_frames = replace(make_clip(explanation), frame_indices=np.array([1, 2]), timestamps=np.array([0.1, 0.2]))
    with pytest.raises(ReportError, match="6 frames but the window holds 2"):
        build_record(
            explanation, two_frames, model=make_report_folder(tmp_path).model, rule=DecisionRule(0.5, "normal"),
            drawn=FakeDrawn(), arrays=(tmp_path / "arrays.npz", "0" * 64),
        )


def _status(record, number: int):  # type: ignore[no-untyped-def]
    return next(i for i in record.completeness.items if i.number == number)


def test_completeness_without_profile_lists_every_missing_field(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    assert [i.number for i in record.completeness.items] == list(range(1, 26))
    controller = _status(record, 2)
    assert controller.status == "not provided"
    assert controller.missing == ["deployment.controller", "deployment.dpo_contact", "deployment.record_of_processing"]
    missing = {m for item in record.completeness.items for m in item.missing}
    for name in ("purpose", "legal_basis", "art22_position", "ai_act_classification", "dpia_reference",
                 "data_minimisation", "significance", "withheld", "recipients", "access_control",
                 "second_verifier_required", "retention.clip", "retention.report", "retention.logs",
                 "redress.contact", "redress.channel", "redress.time_limit"):
        assert f"deployment.{name}" in missing
    assert _status(record, 15).status == "pending review"
    assert _status(record, 25).status == "not provided"


def test_completeness_with_full_profile_review_seal_and_log(tmp_path: Path) -> None:
    seal = SealInfo(signed=True, signer="demo", throwaway_identity=True)
    record = make_report_folder(tmp_path, profile=full_profile(), seal=seal)
    assert {i.number for i in record.completeness.items if i.status == "not provided"} == {22}
    assert _status(record, 17).status == "not applicable"
    assert _status(record, 25).note == Note(code="checklist.throwaway_identity")
    review = Review(reviewer="A. Person", role="operator", authority="may cancel alerts", decision="overturn",
                    reasons="people were dancing", data_considered="clip", minutes_spent=4,
                    automation_bias_acknowledged=True)
    log = LogPointer(ledger="ledger.jsonl", entry="17", sha256="e" * 64)
    updated = refresh_completeness(record.model_copy(update={"review": review, "system_log": log}))
    assert _status(updated, 15).status == "provided" and _status(updated, 16).status == "provided"
    assert not [i.number for i in updated.completeness.items if i.status == "not provided"]


def test_evidence_and_report_do_not_import_tensorflow() -> None:
    code = "import sys, auditor.evidence, auditor.report.document, auditor.cli.render; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_trust_section_may_point_only_to_arrays_the_record_holds(tmp_path: Path) -> None:
    """A curve's ranked values (or a region edit's pixels) named "arrays.npz#key" must be a key of
    `explanations.arrays`: a record pointing elsewhere was not written by auditor."""
    data = make_report_folder(tmp_path, trust=True).model_dump(mode="json")
    EvidenceRecord.model_validate(data)
    data["explanations"]["faithfulness"]["curves"][0]["values"] = "arrays.npz#map_forged"
    with pytest.raises(ValidationError, match="arrays.npz#map_forged: a trust section names an array"):
        EvidenceRecord.model_validate(data)


def test_the_sections_and_the_checks_do_not_import_the_record() -> None:
    """model.py holds the record and calls the cross-field checks from its one validator; the checks
    (consistency), the sections and the 1.x migration import nothing back from it."""
    package = Path(auditor_evidence.__file__).parent
    for name in ("consistency", "sections", "migrate"):
        tree = ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "auditor.evidence.model" not in imported and "auditor.evidence" not in imported, name


def test_an_inconsistent_record_is_refused_through_the_model(tmp_path: Path) -> None:
    data = json.loads(record_json(make_report_folder(tmp_path)))
    data["explanations"]["key_frames"] = [99]
    with pytest.raises(ReportError, match="key_frames names a frame outside the window"):
        load_record(json.dumps(data).encode())
