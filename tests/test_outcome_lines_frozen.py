"""The page-1 outcome lines are frozen once shipped.

`auditor verify` words a signed review's page-1 line again from the catalog it ships with and
compares it with what the PDF says. A changed translation of one of these lines would turn every
review signed before the change INVALID. So the lines, as each shipped language words them, are
pinned here: a new language adds its lines (`UPDATE_GOLDEN=1` writes the missing ones only); an
existing line never changes. To reword one, add a new msgid and keep verifying the old wording.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from auditor.i18n import available, speaking
from auditor.review.model import DECISIONS, SLOTS, outcome_text

PINNED = Path(__file__).parent / "golden" / "outcome-lines.json"
WHEN = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)
WHO = ("Åsa Łukasiewicz", "Station supervisor")


def _lines(code: str) -> dict[str, str]:
    with speaking(code):
        return {f"{slot}.{decision}": outcome_text(slot, decision, *WHO, WHEN)
                for slot in range(1, SLOTS + 1) for decision in DECISIONS}


def test_every_shipped_language_words_the_outcome_lines_as_pinned() -> None:
    pinned: dict[str, dict[str, str]] = json.loads(PINNED.read_text(encoding="utf-8")) if PINNED.exists() else {}
    now = {code: _lines(code) for code in available()}
    if os.environ.get("UPDATE_GOLDEN"):
        merged = {**now, **pinned}  # existing languages keep their pinned lines
        PINNED.write_text(json.dumps(merged, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        pinned = merged
    assert set(now) == set(pinned), f"languages without pinned outcome lines: {sorted(set(now) - set(pinned))}"
    changed = [(code, key) for code in now for key in now[code] if now[code][key] != pinned[code].get(key)]
    assert not changed, f"page-1 outcome lines changed (reviews signed before would no longer verify): {changed}"


def test_the_languages_word_the_lines_differently() -> None:
    english = _lines("en")
    for code in set(available()) - {"en"}:
        translated = _lines(code)
        assert all(translated[key] != english[key] for key in english), code
