"""What the report says beside its numbers (issue 24, item 8): scores read against the threshold
stay on their side of it, the model-randomisation check names its blocks in words, and a map
method that fails that check is shown only in the annex, marked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from fixtures.report_records import make_report_folder

from auditor.evidence import EvidenceRecord
from auditor.report import narrative
from auditor.report import narrative_trust as trust
from auditor.report.html import render_html
from auditor.report.layer_names import layers_in_words
from auditor.report.pdf import render_pdf


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> EvidenceRecord:
    return make_report_folder(tmp_path_factory.mktemp("text"), trust=True)


def _at_threshold(record: EvidenceRecord, threshold: float, probability: float) -> EvidenceRecord:
    """The record with its threshold changed and every frame edit and what-if edit giving
    "fight" at `probability`, with no alert."""
    ex = record.explanations
    rows = [m.model_copy(update={"edits": [e.model_copy(update={
        "predicted_class": "fight", "predicted_probability": probability, "flagged": False}) for e in m.edits]})
        if m.edits else m for m in ex.frame_importance]
    search = ex.counterfactuals
    assert search is not None
    found = [e.model_copy(update={"predicted_class": "fight", "predicted_probability": probability, "flagged": False})
             for e in search.found]
    explanations = ex.model_copy(update={"frame_importance": rows,
                                         "counterfactuals": search.model_copy(update={"found": found})})
    decision = record.decision.model_copy(update={"threshold": threshold})
    return record.model_copy(update={"explanations": explanations, "decision": decision})


@pytest.mark.parametrize(("value", "threshold", "shown"), [
    (0.8977, 0.9, "89.8%"),  # the field test's case: not '90%' beside an alert threshold of 90%
    (0.89999, 0.9, "89.999%"),
    (0.8999999, 0.9, "just under 90%"),
    (0.4951, 0.5, "49.5%"),
    (0.9, 0.9, "90%"),  # at the threshold: an alert, shown as reaching it
    (0.9004, 0.9, "90%"),
    (0.9049, 0.905, "90%"),  # below a threshold of 90.5%, which is shown as such
    (0.9051, 0.905, "91%"),
    (0.003, 0.5, "< 1%"),
    (0.93, 0.5, "93%"),
])
def test_a_score_is_never_shown_on_the_wrong_side_of_the_threshold(value: float, threshold: float, shown: str) -> None:
    assert narrative.score_percent(value, threshold) == shown


def test_thresholds_are_shown_with_the_decimals_they_have() -> None:
    assert [narrative.threshold_percent(t) for t in (0.5, 0.9, 0.905, 0.9049)] == ["50%", "90%", "90.5%", "90.49%"]


def test_sentences_read_against_the_threshold_keep_a_score_below_it_below(record: EvidenceRecord) -> None:
    near = _at_threshold(record, 0.9, 0.8977)
    edit = narrative.counterfactual(near)
    assert "would give \u201cfight\u201d (89.8%), with no alert" in edit and "(90%)" not in edit
    found = near.explanations.counterfactuals
    assert found is not None
    assert "changes the outcome to \u201cfight\u201d (89.8%), with no alert." in trust.counterfactual_edit(near, found.found[0])
    decided = near.model_copy(update={"decision": near.decision.model_copy(update={
        "predicted_class": "fight", "predicted_probability": 0.8977, "flagged": False})})
    assert "a score of 89.8%; an alert is raised from 90%." in narrative.how_sure(decided)


def test_a_range_of_scores_below_the_threshold_does_not_reach_it(record: EvidenceRecord) -> None:
    near = _at_threshold(record, 0.9, 0.8977)
    near = near.model_copy(update={"decision": near.decision.model_copy(update={
        "predicted_class": "fight", "predicted_probability": 0.86, "flagged": False})})
    scores = iter((0.85, 0.8977, 0.86, 0.87, 0.88, 0.89))
    rows = [m.model_copy(update={"edits": [e.model_copy(update={"predicted_probability": next(scores)})
                                           for e in m.edits]}) if m.edits else m
            for m in near.explanations.frame_importance]
    near = near.model_copy(update={"explanations": near.explanations.model_copy(update={"frame_importance": rows})})
    assert narrative.counterfactual(near).endswith("with a score between 85% and 89.8%.")


MOBILENET_TOP = [f"block_8_{p}" for p in ("project", "project_BN")] + [
    f"block_{b}_{p}" for b in range(9, 17)
    for p in ("expand", "expand_BN", "depthwise", "depthwise_BN", "project", "project_BN")] + ["Conv_1", "Conv_1_bn"]


@pytest.mark.parametrize(("layers", "words"), [
    (MOBILENET_TOP, "its last 9 blocks (block_8 to block_16, the lowest in part) and the 2 layers above them "
                    "(Conv_1 and Conv_1_bn)"),
    ([f"block{b}_conv{c}" for b in (4, 5) for c in (1, 2, 3, 4)], "its last 2 blocks (block4 and block5)"),
    (["conv2", "bn2", "last_conv"], "its top 3 layers with weights (conv2, bn2 and last_conv)"),
    (["conv2d_1"], "its top layer with weights (conv2d_1)"),
])
def test_the_randomised_layers_are_named_in_words(layers: list[str], words: str) -> None:
    assert layers_in_words(layers) == words


def _with_sanity(record: EvidenceRecord, layers: list[str] | None = None, failing: tuple[str, ...] = ()) -> EvidenceRecord:
    sanity = record.explanations.sanity
    assert sanity is not None
    methods = [m.model_copy(update={"verdict": "fails", "correlation": 0.95, "abs_correlation": 0.95})
               if m.method in failing else m for m in sanity.methods]
    changed = sanity.model_copy(update={"methods": methods, "randomised_layers": layers or sanity.randomised_layers})
    return record.model_copy(update={"explanations": record.explanations.model_copy(update={"sanity": changed})})


def _section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}"')[1].split("</section>")[0]


def test_the_sanity_section_names_blocks_and_the_annex_lists_every_layer(folder_record) -> None:  # type: ignore[no-untyped-def]
    folder, record = folder_record
    many = _with_sanity(record, MOBILENET_TOP)
    sentence = trust.sanity_sentence(many)
    assert sentence.startswith("The check resets the top of the model's per-frame image network to random values: "
                               "its last 9 blocks (block_8 to block_16, the lowest in part) and the 2 layers above "
                               "them (Conv_1 and Conv_1_bn), 52 layers in all, listed in the technical annex. After "
                               "the reset, the maps of Grad-CAM")
    assert "block_9_expand" not in sentence
    html = render_html(many, folder)
    assert "block_12_depthwise_BN" not in _section(html, "trust")
    annex = _section(html, "technical-annex")
    assert "<tr><td>block_12</td><td>block_12_expand, block_12_expand_BN, block_12_depthwise, " in annex
    assert all(name in annex for name in MOBILENET_TOP)


@pytest.fixture(scope="module")
def folder_record(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EvidenceRecord]:
    folder = tmp_path_factory.mktemp("folder")
    return folder, make_report_folder(folder, trust=True)


def test_a_map_that_fails_the_randomisation_check_is_shown_only_in_the_annex_marked(folder_record) -> None:  # type: ignore[no-untyped-def]
    folder, record = folder_record
    saliency = [i.path for i in record.explanations.images if i.kind == "saliency" and i.frame in record.explanations.key_frames]
    passing = render_html(record, folder)
    assert all(path in _section(passing, "key-frames") for path in saliency)  # both methods pass: both shown
    assert "failed the model-randomisation check: not evidence" not in passing
    html = render_html(_with_sanity(record, failing=("saliency",)), folder)
    keys, annex = _section(html, "key-frames"), _section(html, "technical-annex")
    assert not any(path in keys for path in saliency) and "Right: saliency" not in keys
    assert "Saliency is not shown here:" in keys and "images/gradcam_" in keys
    heading = "Saliency &mdash; failed the model-randomisation check: not evidence"
    assert heading in annex and all(path in annex.split(heading)[1] for path in saliency)
    summary, looked = _section(html, "summary"), _section(html, "what-the-model-looked-at")
    assert "saliency" not in looked.lower()
    assert "shows them only in its technical annex" in summary
    record_saliency = [i for i in record.explanations.images if i.kind == "saliency"]
    assert record_saliency  # the record keeps every picture: the template decides what is evidence


def test_a_failed_grad_cam_moves_its_pictures_and_words_to_the_annex(folder_record) -> None:  # type: ignore[no-untyped-def]
    folder, record = folder_record
    failed = _with_sanity(record, failing=("gradcam",))
    html = render_html(failed, folder)
    keys, frames, annex = (_section(html, name) for name in ("key-frames", "all-frames", "technical-annex"))
    grid, legend = (next(i.path for i in record.explanations.images if i.kind == kind) for kind in ("grid", "legend"))
    assert "images/gradcam_" not in keys and grid not in frames and legend not in keys
    assert grid in _section(passing := render_html(record, folder), "all-frames") and legend in _section(passing, "key-frames")
    heading = "Grad-CAM &mdash; failed the model-randomisation check: not evidence"
    assert heading in annex and grid in annex.split(heading)[1] and "images/gradcam_" in annex.split(heading)[1]
    assert narrative.attention_summary(failed).startswith("The Grad-CAM maps failed the model-randomisation check")
    assert narrative.saliency_agreement(failed) is None
    assert trust.person_sentences(record)[0].startswith("72% of the activation")
    assert trust.person_sentences(failed) == [
        "1 person was detected in the key frames. The Grad-CAM maps failed the model-randomisation check, so how much "
        "of their activation lies on each person is not evidence and is not stated here."]


def test_the_html_does_not_speak_of_pages_and_names_the_sealer_in_words(folder_record) -> None:  # type: ignore[no-untyped-def]
    folder, record = folder_record
    html = render_html(record, folder)
    assert "next page" not in html
    assert "in the section after this summary" in narrative.key_frames_pointer(record)
    sealed = record.model_copy(update={"seal": record.seal.model_copy(update={
        "signer": "O=Example Transit Ltd,CN=Evidence seal (THROWAWAY: not a real identity)"})})
    assert narrative.sealer(sealed) == "\u201cEvidence seal\u201d of Example Transit Ltd (THROWAWAY: not a real identity)"
    escaped = record.model_copy(update={"seal": record.seal.model_copy(update={"signer": "CN=A,O=B\\, C Ltd"})})
    assert narrative.sealer(escaped) == "\u201cA\u201d of B, C Ltd"
    assert narrative.sealer(record.model_copy(update={"seal": record.seal.model_copy(update={"signer": "C=FR"})})) == "C=FR"


def test_the_key_frames_follow_the_summary_and_the_checklist_stays_together(folder_record) -> None:  # type: ignore[no-untyped-def]
    folder, record = folder_record
    html = render_html(record, folder)
    assert '<section id="key-frames">' in html  # no forced page break: a summary that runs over shares its page
    css = (Path(__file__).parents[1] / "templates" / "report.css").read_text()
    assert "table.completeness { font-size: 8pt; break-inside: avoid; }" in css


def test_the_headline_stays_true_after_a_review(folder_record) -> None:  # type: ignore[no-untyped-def]
    """Page 1 shows the review's outcome in a form field filled after sealing; the headline, written
    before, must not read as pending beside "Overturned by …"."""
    _, record = folder_record
    assert narrative.headline(record) == (
        "Automated alert: possible \u201cfight\u201d \u2013 no decision until a person reviews it")


@pytest.mark.parametrize("extra_rows", [16, 24])
def test_the_checklist_is_never_split_across_pages(folder_record, extra_rows: int) -> None:  # type: ignore[no-untyped-def]
    """The field test's last page held one checklist row. The annex is lengthened so that the
    checklist starts low on a page (with these lengths the table used to break after row 21)."""
    folder, record = folder_record
    parameters = {**record.explanations.parameters, **{f"extra_{i:02d}": "x" for i in range(extra_rows)}}
    longer = record.model_copy(update={"explanations": record.explanations.model_copy(update={"parameters": parameters})})
    (folder / "layout.pdf").write_bytes(render_pdf(longer, folder))
    text = subprocess.run(["pdftotext", "-layout", str(folder / "layout.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = text.split("\f")
    first = [i for i, page in enumerate(pages) if re.search(r"^\s*1\s+Report identity", page, re.M)]
    last = [i for i, page in enumerate(pages) if re.search(r"^\s*25\s+Signature and PDF/A-3", page, re.M)]
    assert len(first) == 1 and first == last


def test_a_model_without_blocks_gets_a_compact_list_in_the_annex(folder_record) -> None:  # type: ignore[no-untyped-def]
    folder, record = folder_record
    annex = _section(render_html(_with_sanity(record, ["conv2", "bn2", "last_conv"]), folder), "technical-annex")
    assert "re-initialised for the check, bottom to top: conv2, bn2, last_conv.</p>" in annex
    assert 'class="grid layers"' not in annex
