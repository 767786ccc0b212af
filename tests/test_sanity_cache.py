"""Issue 21, item 18: a planted sanity-check cache entry must not reach a sealed report.

Through the command line, as an operator runs it: a report fills the cache; someone who can write
the cache folder plants other figures (and, where the format had room for it, a sentence of their
own); the next report must not carry them, and every report states when and where its figures were
computed, or which cache file they were read from.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities

from auditor.demo import demo_model_path
from auditor.synthetic import make_clip
from auditor.video import write_video

PLANTED = 0.0123
CLAIM = "certified by the Example Forensic Institute"
HASH_OR_TIME = re.compile(r"^([0-9a-f]{64}|\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d))$")
NAME = re.compile(r"^[a-z0-9_]{1,32}$")  # a field or method name


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "clip.avi", make_clip("fight", 2101).frames, 10.0)


def _report(clip: Path, identities: Identities, cache: Path, out: Path) -> dict[str, Any]:
    """`auditor report` with only the sanity check; the sealed record's sanity section."""
    skipped = [arg for name in ("motion", "counterfactuals", "faithfulness", "persons") for arg in ("--skip-check", name)]
    env = {**os.environ, "AUDITOR_CACHE_DIR": str(cache), "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}
    run = run_cli("report", str(clip), "--model", str(demo_model_path()), "--out", str(out), "--keys",
                  str(identities.seal_dir), *skipped, env=env)
    assert run.returncode == 0, run.stderr
    return dict(json.loads((out / "evidence.json").read_text())["explanations"]["sanity"])


def _plant(path: Path) -> None:
    """Other figures for every method, and the claim wherever the entry holds free text."""
    entry = json.loads(path.read_text())
    for figures in entry["methods"].values():
        figures.update(correlation=PLANTED, abs_correlation=PLANTED)
    if isinstance(entry.get("reference_clips"), str):  # the free text of the first cache format
        entry["reference_clips"] += f", {CLAIM}"
    path.write_text(json.dumps(entry))


def _free_text(value: object) -> list[str]:
    """Strings in a JSON value that are neither hashes nor times (values) nor names (keys)."""
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in ([] if NAME.match(key) else [key]) + _free_text(item)]
    if isinstance(value, list):
        return [s for item in value for s in _free_text(item)]
    return [value] if isinstance(value, str) and not HASH_OR_TIME.match(value) else []


def test_item18_a_planted_cache_entry_is_not_used_and_reports_say_where_figures_come_from(
    clip: Path, identities: Identities, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = _report(clip, identities, cache, tmp_path / "first")
    (entry,) = cache.glob("sanity-*.json")
    _plant(entry)

    planted = _report(clip, identities, cache, tmp_path / "planted")
    assert CLAIM not in json.dumps(planted) and planted["methods"] == first["methods"]
    assert _free_text(json.loads(entry.read_text())) == []  # written afresh: figures and codes only
    assert planted["host"] == socket.gethostname() and planted["cache_file"] is None  # computed again
    html = (tmp_path / "planted" / "report.html").read_text()
    assert f"on host {socket.gethostname()}" in html and "cache file" not in html

    cached = _report(clip, identities, cache, tmp_path / "cached")  # the entry written afresh, under this seal
    assert cached["methods"] == first["methods"] and cached["cache_file"] == str(entry)
    assert cached["computed_at"] == planted["computed_at"]
    html = " ".join((tmp_path / "cached" / "report.html").read_text().split())
    assert f"read on host {socket.gethostname()} from the cache file {entry}" in html
