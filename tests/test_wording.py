"""The report's words fit the case: a clip that raised no alert, numbers that show their
differences, one time window said the same way everywhere (issue 12, items 4 to 6)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fixtures.report_records import make_explanation, make_report_folder

from auditor import i18n
from auditor.evidence import EvidenceRecord
from auditor.report import narrative, quantities
from auditor.report.html import render_html


def _quiet(tmp_path: Path) -> EvidenceRecord:
    """A report on a clip the detector classed as normal: no alert."""
    explanation = replace(make_explanation(), probabilities=np.array([0.7, 0.2, 0.1], np.float32))
    return make_report_folder(tmp_path, explanation=explanation)


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_report_without_an_alert_speaks_of_a_classification(tmp_path: Path) -> None:
    record = _quiet(tmp_path)
    assert not record.decision.flagged
    text = _text(render_html(record, tmp_path))
    for wrong in ("What was flagged", "The alert has no effect on anyone", "the alert stands", "the alert is wrong",
                  "awaiting human review", "This is not a final decision"):
        assert wrong not in text, wrong
    for right in ("What was analysed, when and where", "No alert was raised.", "no alert raised; no review required",
                  "No review is required: no alert was raised", "confirm (no alert is right)",
                  "overturn (an alert should have been raised)"):
        assert right in text, right
    statuses = {i.number: i.status for i in record.completeness.items}
    assert statuses[15] == statuses[16] == "not applicable"


def test_a_report_with_an_alert_keeps_the_review_wording(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    text = _text(render_html(record, tmp_path))
    assert record.decision.flagged and "confirm (the alert stands)" in text and "awaiting human review" in text
    assert {i.number: i.status for i in record.completeness.items}[15] == "pending review"


@pytest.mark.parametrize(("low", "high", "shown"), [
    (0.84, 0.93, ("84%", "93%")),
    (0.341, 0.344, ("34.1%", "34.4%")),
    (0.3401, 0.3402, None),  # the sentence then says "a score of 34% in every case"
])
def test_score_ranges_show_their_difference_or_say_there_is_none(
    low: float, high: float, shown: tuple[str, str] | None
) -> None:
    assert quantities.percent_pair(low, high) == shown


@pytest.mark.parametrize(("margin", "words"), [(0.76, "76 points"), (0.01, "1 point"), (0.004, "less than 1 point")])
def test_margins_are_counted_in_points_with_the_right_number(margin: float, words: str) -> None:
    assert narrative.points(margin) == words


def test_two_close_scores_get_enough_decimals() -> None:
    assert narrative.number_pair(2.99, 2.77) == ("2.99", "2.77")
    assert narrative.number_pair(0.0412, 0.0438) == ("0.041", "0.044")


def test_the_time_window_ends_when_its_last_frame_ends_everywhere(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)  # frames 120-125 at 10 fps
    assert (record.input.start_seconds, record.input.end_seconds) == (12.0, 12.6)
    text = _text(render_html(record, tmp_path))
    window = "12.00 s to 12.60 s"
    assert text.count(window) >= 3  # summary table, the sentence under it, the annex
    assert "12.00 s to 12.50 s" not in text


def test_the_summary_points_to_the_key_frames_only_when_they_show_a_place(tmp_path: Path) -> None:
    flagged = make_report_folder(tmp_path / "a")
    assert "The key frames, in the section after this summary, show where" in narrative.key_frames_pointer(flagged)
    flat = make_explanation()
    flat = replace(flat, maps={**flat.maps, "gradcam": np.ones_like(flat.gradcam)})
    blind = make_report_folder(tmp_path / "b", explanation=flat)
    text = _text(render_html(blind, tmp_path / "b"))
    assert "in the section after this summary, show where" not in text and "next page" not in text
    assert "No key frame shows a clear place where the model's attention lay" in text


def test_numbers_and_sentences_follow_the_language(tmp_path: Path) -> None:
    """Inside `speaking`, numbers take the locale's decimal sign and percent format, and the
    sentences come from the catalog; outside it, English (en_GB formats)."""
    record = make_report_folder(tmp_path)
    assert (quantities.seconds(75.5), quantities.score_percent(0.8977, 0.9)) == ("1 min 15.50 s", "89.8%")
    english = (narrative.headline(record), narrative.how_sure(record))
    with i18n.speaking("de"):
        assert quantities.seconds(4.1) == "4,10 s" and quantities.threshold_percent(0.905) == "90,5\u00a0%"
        assert quantities.score_percent(0.8977, 0.9) == "89,8\u00a0%"
        assert quantities.percent(0.003).endswith("1\u00a0%")
        german = (narrative.headline(record), narrative.how_sure(record))
    with i18n.speaking("fr"):
        assert quantities.number_pair(2.99, 2.77) == ("2,99", "2,77")
    assert all(g != e for g, e in zip(german, english, strict=True))
    assert "\u201cfight\u201d" in english[0] and "fight" in german[0]
