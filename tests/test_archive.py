"""The archive of a batch run: the hash-chained ledger, the index, and `auditor verify OUT`."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from fixtures import sealed_batch
from fixtures.cli import run_cli
from fixtures.identities import Identities

from auditor.archive.chain import GENESIS, LEDGER_NAME, MAX_LEDGER_BYTES, MAX_LINE_BYTES, LedgerEntry
from auditor.archive.check import LedgerCheck, check_ledger
from auditor.archive.checkpoint import write_checkpoint
from auditor.archive.index import IndexRow, write_index
from auditor.archive.ledger import Ledger
from auditor.errors import ArchiveError
from auditor.files import sha256_bytes, sha256_file


def _scan(out: Path, key: str, text: str = '{"score": 0.9}\n') -> Path:
    (out / "scans").mkdir(parents=True, exist_ok=True)
    path = out / "scans" / f"{key}.jsonl"
    path.write_text(text)
    return path


def _report(out: Path, name: str) -> Path:
    folder = out / "reports" / name
    (folder / "images").mkdir(parents=True)
    (folder / "report.pdf").write_bytes(b"%PDF " + name.encode())
    (folder / "images" / "frame.png").write_bytes(b"png " + name.encode())
    return folder


def _filled(out: Path, reports: int = 4) -> Ledger:
    """A ledger with one scan (entry 1) and `reports` report folders (entries 2, 3, ...)."""
    ledger = Ledger(out)
    ledger.append("scan", "aa", _scan(out, "aa"), {"video": "cam1.avi"})
    for i in range(reports):
        ledger.append("report", f"b{i}", _report(out, f"r{i}"), {"detection": i, "score": 0.5 + i / 10})
    return ledger


def _lines(out: Path) -> list[bytes]:
    return (out / LEDGER_NAME).read_bytes().splitlines()


def _write_lines(out: Path, lines: list[bytes]) -> None:
    (out / LEDGER_NAME).write_bytes(b"".join(line + b"\n" for line in lines))


def test_append_and_read_round_trip(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    scan = ledger.append("scan", "aa", _scan(tmp_path, "aa"), {"video": "cam1.avi", "frames": 700})
    report = ledger.append("report", "bb", Path("reports") / _report(tmp_path, "r0").name, {"score": 0.75})
    assert Ledger(tmp_path).entries() == [scan, report]
    lines = _lines(tmp_path)
    assert [LedgerEntry.model_validate_json(line) for line in lines] == [scan, report]
    assert (scan.sequence, scan.previous) == (1, GENESIS)
    assert (report.sequence, report.previous) == (2, sha256_bytes(lines[0]))
    assert scan.files == {"aa.jsonl": sha256_file(tmp_path / "scans" / "aa.jsonl")}
    assert report.path == "reports/r0" and report.kind == "report" and report.facts == {"score": 0.75}
    assert report.files == {
        "images/frame.png": sha256_file(tmp_path / "reports/r0/images/frame.png"),
        "report.pdf": sha256_file(tmp_path / "reports/r0/report.pdf"),
    }
    assert report.recorded_at.endswith("+00:00")
    assert ledger.keys("scan") == {"aa"} and ledger.keys("report") == {"bb"}
    check = check_ledger(tmp_path)
    assert (check.entries, check.first_broken, check.problem) == (2, None, None)


def test_ledger_objects_appending_in_turn_keep_one_chain(tmp_path: Path) -> None:
    first = _filled(tmp_path, reports=1)
    second = Ledger(tmp_path)
    entry = second.append("report", "cc", _report(tmp_path, "late"), {})
    assert entry.sequence == 3 and entry.previous == sha256_bytes(_lines(tmp_path)[1])
    assert first.append("report", "dd", _report(tmp_path, "later"), {}).sequence == 4  # sees the other's append
    with pytest.raises(ArchiveError, match="ledger entry 3 registers reports/late"):
        first.append("report", "cc", _report(tmp_path, "again"), {})
    assert check_ledger(tmp_path) == LedgerCheck(4, None, None)


@pytest.mark.parametrize(
    ("kind", "key", "make", "expected"),
    [
        ("report", "b0", lambda out: _report(out, "other"), "with this key already"),
        ("report", "new", lambda out: out / "reports" / "r0", "with this path already"),
        ("scan", "new", lambda out: _report(out, "folder"), "not a regular file"),
        ("report", "new", lambda out: out / "reports" / "absent", "the folder is missing"),
        ("report", "new", lambda out: _scan(out, "x"), "is not a folder"),
        ("report", "NOT-HEX", lambda out: _report(out, "nothex"), "key"),
        ("report", "new", lambda out: out.parent, "not inside"),
    ],
)
def test_append_refuses(tmp_path: Path, kind: str, key: str, make, expected: str) -> None:
    out = tmp_path / "out"
    ledger = _filled(out, reports=1)
    before = (out / LEDGER_NAME).read_bytes()
    with pytest.raises(ArchiveError, match=expected):
        ledger.append(kind, key, make(out), {})
    assert (out / LEDGER_NAME).read_bytes() == before


def test_append_refuses_links_and_facts_that_are_no_json(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    folder = _report(tmp_path, "linked")
    (folder / "outside").symlink_to("/etc/hostname")
    with pytest.raises(ArchiveError, match="outside: a symbolic link"):
        ledger.append("report", "aa", folder, {})
    with pytest.raises(ArchiveError, match="cannot be recorded as JSON"):
        ledger.append("scan", "bb", _scan(tmp_path, "bb"), {"score": float("nan")})
    assert _lines(tmp_path) == []


def _edit_facts(lines: list[bytes], index: int) -> list[bytes]:
    entry = json.loads(lines[index])
    entry["facts"]["score"] = 0.01
    return [*lines[:index], json.dumps(entry, sort_keys=True, separators=(",", ":")).encode(), *lines[index + 1 :]]


@pytest.mark.parametrize(
    ("tamper", "broken", "expected"),
    [
        (lambda lines: _edit_facts(lines, 2), 3, "ledger entry 3 (reports/r1): altered after it was recorded"),
        (lambda lines: [*lines[:2], *lines[3:]], 3, "ledger entry 3 (reports/r2): numbered 4 at line 3"),
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], 2, "ledger entry 2 (reports/r1): numbered 3"),
        (lambda lines: lines[1:], 1, "ledger entry 1 (reports/r0): numbered 2"),
        (lambda lines: [*lines[:3], b"{not json", *lines[4:]], 4, "ledger entry 4: not a ledger entry"),
        (lambda lines: [*lines[:3], lines[2], *lines[3:]], 4, "ledger entry 4 (reports/r1): numbered 3"),
    ],
    ids=["edit-middle-facts", "delete", "reorder", "delete-first", "garbage-line", "duplicate"],
)
def test_a_tampered_chain_names_the_first_broken_entry(tmp_path: Path, tamper, broken: int, expected: str) -> None:
    _filled(tmp_path)
    _write_lines(tmp_path, tamper(_lines(tmp_path)))
    check = check_ledger(tmp_path)
    assert check.first_broken == broken and check.problem.startswith(expected), check
    with pytest.raises(ArchiveError, match="ledger entry"):
        Ledger(tmp_path).entries()
    with pytest.raises(ArchiveError, match="ledger entry"):
        Ledger(tmp_path).append("report", "ff", _report(tmp_path, "after"), {})


def test_an_entry_registering_an_old_key_again_is_named(tmp_path: Path) -> None:
    ledger = _filled(tmp_path, reports=1)
    lines = _lines(tmp_path)
    again = json.loads(lines[1])
    again.update(sequence=3, previous=sha256_bytes(lines[1]), path="reports/copy")
    _write_lines(tmp_path, [*lines, json.dumps(again).encode()])
    shutil.copytree(tmp_path / "reports/r0", tmp_path / "reports/copy")
    assert check_ledger(tmp_path).problem == "ledger entry 3 (reports/copy): registers the key of ledger entry 2 again"
    with pytest.raises(ArchiveError, match="entry 3"):
        ledger.keys("report")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda out: (out / "reports/r1/images/frame.png").write_bytes(b"other"), "images/frame.png: altered"),
        (lambda out: (out / "reports/r1/report.pdf").unlink(), "report.pdf: missing"),
        (lambda out: (out / "reports/r1/extra.txt").write_text("x"), "extra.txt: not registered"),
        (lambda out: shutil.rmtree(out / "reports/r1"), "the folder is missing"),
        (lambda out: (out / "reports/r1/images/frame.png").unlink() or os.symlink("/etc/hostname", out / "reports/r1/images/frame.png"), "images/frame.png: a symbolic link"),
    ],
    ids=["altered", "missing", "added", "folder-gone", "link"],
)
def test_a_registered_file_that_changed_is_named(tmp_path: Path, change, expected: str) -> None:
    _filled(tmp_path)
    change(tmp_path)
    check = check_ledger(tmp_path)
    assert check.first_broken == 3 and check.problem.startswith(f"ledger entry 3 (reports/r1): {expected}"), check
    assert len(Ledger(tmp_path).entries()) == 5  # the chain itself is intact


def test_an_altered_scan_file_is_named(tmp_path: Path) -> None:
    _filled(tmp_path, reports=1)
    _scan(tmp_path, "aa", '{"score": 0.1}\n')
    assert check_ledger(tmp_path).problem == "ledger entry 1 (scans/aa.jsonl): aa.jsonl: altered (its SHA-256 is not the one registered)"


def test_a_torn_tail_is_dropped_and_appends_continue_the_chain(tmp_path: Path) -> None:
    ledger = _filled(tmp_path, reports=2)
    whole = (tmp_path / LEDGER_NAME).read_bytes()
    half = _report(tmp_path, "half")
    entry = ledger.append("report", "cc", half, {})
    torn = (tmp_path / LEDGER_NAME).read_bytes()[: len(whole) + len(entry.model_dump_json()) // 2]
    (tmp_path / LEDGER_NAME).write_bytes(torn)  # as if killed in the middle of the write
    fresh = Ledger(tmp_path)
    assert check_ledger(tmp_path).problem.startswith("ledger entry 4: incomplete")
    with pytest.raises(ArchiveError, match="incomplete"):
        fresh.append("report", "dd", _report(tmp_path, "next"), {})
    assert fresh.drop_torn_tail() is True
    assert (tmp_path / LEDGER_NAME).read_bytes() == whole
    assert fresh.drop_torn_tail() is False
    redone = fresh.append("report", "cc", half, {})
    later = fresh.append("report", "dd", tmp_path / "reports/next", {})
    assert (redone.sequence, later.sequence) == (4, 5)
    assert check_ledger(tmp_path) == LedgerCheck(5, None, None)
    assert Ledger(tmp_path).keys("report") == {"b0", "b1", "cc", "dd"}


def test_drop_torn_tail_on_no_ledger_or_an_intact_one(tmp_path: Path) -> None:
    assert Ledger(tmp_path).drop_torn_tail() is False and Ledger(tmp_path).entries() == []
    assert check_ledger(tmp_path).problem == f"{tmp_path} holds no {LEDGER_NAME}"
    _filled(tmp_path, reports=1)
    assert Ledger(tmp_path).drop_torn_tail() is False and len(_lines(tmp_path)) == 2


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: os.truncate(p, MAX_LEDGER_BYTES + 1), "larger than the 64 MiB allowed: refused unread"),
        (lambda p: p.write_bytes(b"x" * (MAX_LINE_BYTES + 1) + b"\n"), "ledger entry 1: longer than"),
        (lambda p: p.write_bytes(b"[" * 100_000 + b"\n"), "ledger entry 1: not a ledger entry"),
        (lambda p: p.write_bytes(b"\xff\xfe\n"), "ledger entry 1: not a ledger entry"),
        (lambda p: (p.unlink(), p.symlink_to("/etc/hostname")), "cannot be read"),
        (lambda p: (p.unlink(), os.mkfifo(p)), "not a regular file"),
    ],
    ids=["too-large", "long-line", "deep-json", "not-utf8", "link", "fifo"],
)
def test_a_hostile_ledger_is_refused_quickly(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / LEDGER_NAME
    path.write_bytes(b"")
    make(path)
    check = check_ledger(tmp_path)
    assert expected in check.problem, check
    with pytest.raises(ArchiveError, match=expected.split(":")[0]):
        Ledger(tmp_path).entries()


# The index

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>.avi'


def _row(**changes: object) -> IndexRow:
    row = {
        "detection_id": "d" * 64, "source": "cam1", "video": "cam1.avi", "video_sha256": "a" * 64,
        "first_frame": 10, "last_frame": 25, "start_seconds": 65.5, "end_seconds": 67.0,
        "class_name": "Fighting", "score": 0.91234, "threshold": 0.5, "status": "reported",
        "report": "reports/cam1-0065", **changes,
    }
    return IndexRow.model_validate(row)


def _rows() -> list[IndexRow]:
    return [
        _row(video="cam2.avi", source="cam2", detection_id="e" * 64, report="reports/cam2-0001"),
        _row(start_seconds=3725.25, end_seconds=3727.0, first_frame=93000, last_frame=93040, report="reports/cam1-3725"),
        _row(video=HOSTILE, source="=cmd|' /C calc'!A0", status="failed", report=None,
             reason='the video stopped decoding at frame 12 <b>bold</b>', detection_id="f" * 64),
        _row(status="pending", report=None, start_seconds=1.0, end_seconds=2.5, first_frame=25, last_frame=62),
        _row(),
    ]


def test_index_csv_lists_every_row_sorted_and_defused(tmp_path: Path) -> None:
    csv_path, _ = write_index(tmp_path, _rows())
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert list(rows[0]) == list(IndexRow.model_fields)
    assert [(r["video"], r["start_seconds"]) for r in rows] == [
        (HOSTILE, "65.5"), ("cam1.avi", "1.0"), ("cam1.avi", "65.5"), ("cam1.avi", "3725.25"), ("cam2.avi", "65.5"),
    ]
    hostile = rows[0]
    assert hostile["source"] == "'=cmd|' /C calc'!A0"  # a spreadsheet reads it as text, not a formula
    assert (hostile["status"], hostile["reason"], hostile["report"]) == ("failed", "the video stopped decoding at frame 12 <b>bold</b>", "")
    assert rows[2]["report"] == "reports/cam1-0065" and rows[2]["score"] == "0.91234"


def test_index_html_shows_counts_links_times_and_escapes_everything(tmp_path: Path) -> None:
    _, html_path = write_index(tmp_path, _rows())
    html = html_path.read_text(encoding="utf-8")
    assert "<title>Batch index: 5 detections</title>" in html
    assert "3 reported</li>" in html and "1 failed</li>" in html and "1 pending</li>" in html
    assert '<a href="reports/cam1-3725/report.pdf">PDF</a>' in html
    assert '<a href="reports/cam1-3725/report.html">HTML</a>' in html
    assert "1:02:05.25 – 1:02:07" in html and "1:05.5 – 1:07" in html and "0.912" in html
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;.avi" in html
    failed = html[html.index('<tr class="failed">') :]
    failed = failed[: failed.index("</tr>")]
    assert "the video stopped decoding at frame 12 &lt;b&gt;bold&lt;/b&gt;" in failed
    assert "http" not in html.replace("http-equiv", "") and "src=" not in html.replace("src=x", "")
    assert html.index("cam1-0065") < html.index("cam1-3725") < html.index("cam2-0001")


@pytest.mark.parametrize("report", ["javascript:alert(1)", "../elsewhere", "reports/../x", "/etc", "reports/a/b"])
def test_an_index_row_links_only_to_a_report_folder_of_out(report: str) -> None:
    with pytest.raises(ValueError, match="report"):
        _row(report=report)


def test_an_alert_row_without_ids_shows_none(tmp_path: Path) -> None:
    _, html_path = write_index(tmp_path, [_row(detection_id="", video_sha256="", status="pending", report=None)])
    html = html_path.read_text()
    assert "SHA-256" not in html and "<code" not in html and '<span class="empty">none</span>' in html


def test_an_empty_index(tmp_path: Path) -> None:
    csv_path, html_path = write_index(tmp_path, [])
    assert csv_path.read_text().strip() == ",".join(IndexRow.model_fields)
    assert "No detections." in html_path.read_text() and "0 failed" in html_path.read_text()


# `auditor verify OUT`


@pytest.fixture
def batch_out(tmp_path: Path, sealed_report: Path, identities: Identities) -> Path:
    """A batch output folder: a scan and two real sealed report folders, registered."""
    out = tmp_path / "out"
    ledger = Ledger(out)
    ledger.append("scan", "aa", _scan(out, "aa"), {"video": "cam1.avi"})
    for i, name in enumerate(("cam1-0001", "cam1-0002")):
        folder = shutil.copytree(sealed_report, out / "reports" / name)
        ledger.append("report", f"b{i}", folder, {"row": sealed_batch.row(name, i).model_dump(mode="json")})
    write_checkpoint(out, identities.seal)
    sealed_batch.refresh(out, identities.seal)
    return out


def _verify(out: Path, trust: Path, *extra: str):
    return run_cli("verify", str(out), "--trust", str(trust), *extra)


def test_verify_a_batch_folder(batch_out: Path, trust: Path) -> None:
    run = _verify(batch_out, trust, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    files = json.loads(run.stdout)["files"]
    assert [(Path(f["path"]).relative_to(batch_out).as_posix(), f["status"]) for f in files] == [
        ("ledger.jsonl", "valid"), ("scans/aa.jsonl", "valid"),
        *[(f"reports/{name}/{file}", "valid") for name in ("cam1-0001", "cam1-0002")
          for file in ("report.pdf", "report.html", "evidence.json", "manifest.json")],
        ("index.csv", "valid"),
    ]
    assert "4 entries, last line's SHA-256 " + sha256_bytes(_lines(batch_out)[-1]) in files[0]["notes"][0]
    assert run.stderr == ""


def test_verify_names_a_tampered_report_file(batch_out: Path, trust: Path) -> None:
    page = batch_out / "reports/cam1-0002/report.html"
    page.write_text(page.read_text().replace("flagged", "cleared"))
    run = _verify(batch_out, trust)
    assert run.returncode == 1, run.stdout
    assert f"INVALID    {page}" in run.stdout
    assert "ledger entry 3 (reports/cam1-0002): report.html: altered (its SHA-256 is not the one registered)" in run.stdout
    assert f"VALID      {batch_out / 'reports/cam1-0001/report.html'}" in run.stdout
    assert run.stderr.count("\n") == 1 and "ledger entry 3 (reports/cam1-0002)" in run.stderr


def test_verify_names_the_first_broken_ledger_entry(batch_out: Path, trust: Path) -> None:
    _write_lines(batch_out, _edit_facts(_lines(batch_out), 1))
    run = _verify(batch_out, trust)
    assert run.returncode == 1, run.stdout
    assert f"INVALID    {batch_out / LEDGER_NAME}" in run.stdout
    expected = "ledger entry 2 (reports/cam1-0001): altered after it was recorded (entry 3 holds another SHA-256 for it)"
    assert f"  - {expected}" in run.stdout
    assert run.stderr == f"auditor: verify: {expected}; 1 of 11 files altered or invalid\n"


def test_verify_names_an_unregistered_report_folder(batch_out: Path, sealed_report: Path, trust: Path) -> None:
    shutil.copytree(sealed_report, batch_out / "reports" / "smuggled")
    run = _verify(batch_out, trust, "--json")
    assert run.returncode == 1
    bad = [f for f in json.loads(run.stdout)["files"] if f["status"] != "valid"]
    assert [(f["path"], f["reasons"][0].split(":")[0]) for f in bad] == [
        (str(batch_out / "reports/smuggled"), "reports/smuggled")
    ]
    assert "not registered in ledger.jsonl" in bad[0]["reasons"][0]


def test_verify_refuses_a_hostile_ledger_in_one_line(batch_out: Path, trust: Path) -> None:
    os.truncate(batch_out / LEDGER_NAME, MAX_LEDGER_BYTES + 10)
    run = _verify(batch_out, trust)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr == (
        "auditor: verify: ledger.jsonl is larger than the 64 MiB allowed: refused unread; 1 of 1 files altered or invalid\n"
    )


def test_verify_a_batch_folder_under_another_root_is_untrusted(batch_out: Path, identities: Identities) -> None:
    run = _verify(batch_out, identities.stranger_dir / "root.cert.pem", "--json")
    assert run.returncode == 8, run.stdout + run.stderr
    statuses = {Path(f["path"]).name: f["status"] for f in json.loads(run.stdout)["files"]}
    assert statuses[LEDGER_NAME] == "untrusted" and statuses["report.pdf"] == "untrusted"  # its checkpoint is the seal's
