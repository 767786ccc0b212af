"""`auditor desk`, through Starlette's TestClient: the gate (token and cookie, loopback clients,
Host header, CSRF), files served only as the signed manifest lists them, an altered report shown
as such and refused, a decision that leaves exactly what `auditor review` leaves, the blind second
review, and a wrong passphrase. The real browser: tests/test_desk_browser.py."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, ROOT_PASSPHRASE, Identities
from fixtures.report_records import full_profile, make_report_folder
from fixtures.sealed_batch import anchors, sealed_batch
from starlette.testclient import TestClient

from auditor.archive.chain import read_chain
from auditor.cli.ledger import seal_if_possible
from auditor.desk import views
from auditor.desk.app import Desk, create_app
from auditor.desk.files import byte_range
from auditor.desk.record import review_report
from auditor.desk.session import DeskSession
from auditor.evidence import SealInfo, write_record
from auditor.keys import issue_identity, load_identity
from auditor.report.document import write_report
from auditor.review.fill import reviewer_names
from auditor.review.model import review_input
from auditor.signing.seal import seal_fields, sign_report_folder

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
REASON = "Two people exchange blows at the left edge; I watched the whole clip."
NAMES = ("cam1-0001", "cam1-0002")


def desk_report(folder: Path, identities: Identities, marker: str, second_verifier: bool) -> Path:
    """A sealed report folder with the review form, its own report id, under a profile that does
    or does not require a second verifier."""
    profile = full_profile().model_copy(update={"second_verifier_required": second_verifier})
    record = make_report_folder(folder, profile=profile, seal=SealInfo(**seal_fields(identities.seal)))
    record = record.model_copy(update={"report": record.report.model_copy(update={"report_id": f"AUD-desk-{marker}"})})
    write_record(folder, record)
    write_report(record, folder)
    sign_report_folder(folder, identities.seal)
    return folder


@pytest.fixture(scope="module")
def reports(identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("desk-reports")
    return {"one": desk_report(base / "one", identities, "one", False),
            "two": desk_report(base / "two", identities, "two", True)}


@pytest.fixture(scope="module")
def bob(identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second reviewer under the same root."""
    folder = tmp_path_factory.mktemp("bob") / "bob"
    issue_identity(identities.seal_dir, ROOT_PASSPHRASE, folder, PASSPHRASE, common_name="Bob Example", role="Supervisor")
    return folder


@pytest.fixture
def out(reports: dict[str, Path], identities: Identities, tmp_path: Path) -> Path:
    """A batch folder of two copies of the one-reviewer report."""
    return sealed_batch(tmp_path / "out", reports["one"], identities.seal, NAMES)


@pytest.fixture(autouse=True)
def seal_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seal's passphrase in the environment, as an operator running the desk would set it."""
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", PASSPHRASE)


def make_desk(out: Path, identities: Identities, reviewer: Path | None) -> Desk:
    seal = identities.seal_dir
    return Desk(out, DeskSession(reviewer), anchors(identities.seal), lambda folder: seal_if_possible(folder, seal, None, None))


def client(desk: Desk, host: str = "127.0.0.1", login: bool = True) -> TestClient:
    browser = TestClient(create_app(desk, PORT), base_url=BASE, client=(host, 50000))
    if login:
        assert browser.get(f"/?token={desk.session.token}").status_code == 200
    return browser


@pytest.fixture
def desk(out: Path, identities: Identities) -> Iterator[tuple[Desk, TestClient]]:
    made = make_desk(out, identities, identities.seal_dir.parent / "reviewer")
    with client(made) as browser:
        yield made, browser


def form(desk: Desk, **fields: str) -> dict[str, str]:
    return {"csrf": desk.session.csrf, "decision": "confirm", "reasons": REASON, "considered": "the clip",
            "minutes": "4", "bias": "yes", "passphrase": PASSPHRASE, **fields}


def test_without_the_token_every_request_gets_403_and_nothing_else(out: Path, identities: Identities) -> None:
    made = make_desk(out, identities, None)
    browser = client(made, login=False)
    for path in ("/", f"/report/{NAMES[0]}", "/static/desk.js", f"/report/{NAMES[0]}/pdf", "/?token=wrong"):
        answer = browser.get(path)
        assert (answer.status_code, answer.content) == (403, b""), path
    assert browser.post(f"/report/{NAMES[0]}/decision", data={"csrf": made.session.csrf}).status_code == 403
    entry = browser.get(f"/?token={made.session.token}", follow_redirects=False)
    assert entry.status_code == 303 and entry.headers["location"] == "/"  # the token leaves the URL
    cookie = entry.headers["set-cookie"]
    assert made.session.token in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = browser.get("/")
    assert page.status_code == 200 and NAMES[0] in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "media-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # nothing loaded from elsewhere


def test_a_client_off_loopback_or_a_foreign_host_name_gets_403(out: Path, identities: Identities) -> None:
    made = make_desk(out, identities, None)
    far = client(made, host="10.1.2.3", login=False)
    assert far.get(f"/?token={made.session.token}").status_code == 403
    browser = client(made)
    assert browser.get("/", headers={"host": "evil.example:8765"}).status_code == 403  # DNS rebinding
    assert browser.get("/", headers={"host": "127.0.0.1:9999"}).status_code == 403
    assert browser.get("/", headers={"host": f"localhost:{PORT}"}).status_code == 200


def test_a_post_without_the_csrf_token_or_from_another_origin_is_refused(desk: tuple[Desk, TestClient], out: Path) -> None:
    made, browser = desk
    target = f"/report/{NAMES[0]}/decision"
    assert browser.post(target, data=form(made, csrf="forged")).status_code == 403
    assert browser.post(target, data={k: v for k, v in form(made).items() if k != "csrf"}).status_code == 403
    assert browser.post(target, data=form(made), headers={"origin": "http://evil.example"}).status_code == 403
    assert not (out / "reports" / NAMES[0] / "review-1.json").exists()
    assert made.session.identity is None  # the passphrase was not even tried


def test_only_pictures_the_manifest_lists_are_served_by_their_listed_name(desk: tuple[Desk, TestClient], out: Path) -> None:
    _, browser = desk
    folder = out / "reports" / NAMES[0]
    page = browser.get("/").text
    thumbnail = re.search(rf'src="/report/{NAMES[0]}/file/([^"]+)"', page)
    assert thumbnail is not None
    answer = browser.get(f"/report/{NAMES[0]}/file/{thumbnail.group(1)}")
    assert answer.status_code == 200 and answer.content == (folder / thumbnail.group(1)).read_bytes()
    assert answer.headers["content-type"] in ("image/jpeg", "image/png")
    part = browser.get(f"/report/{NAMES[0]}/file/{thumbnail.group(1)}", headers={"range": "bytes=2-9"})
    assert part.status_code == 206 and part.content == answer.content[2:10]
    for path in ("evidence.json", "manifest.json", "%2e%2e/%2e%2e/ledger.jsonl", "..%2F..%2Fledger.jsonl",
                 "images/../evidence.json", "/etc/passwd", "%2Fetc%2Fpasswd", "images"):
        assert browser.get(f"/report/{NAMES[0]}/file/{path}").status_code == 404, path
    assert browser.get("/report/%2e%2e/file/ledger.jsonl").status_code == 404
    assert browser.get("/report/unregistered/pdf").status_code == 404
    assert browser.get("/static/..%2Fqueue.html.j2").status_code == 404


def test_byte_ranges() -> None:
    assert byte_range("bytes=0-", 10) == (0, 9)
    assert byte_range("bytes=-3", 10) == (7, 9)
    assert byte_range("bytes=4-100", 10) == (4, 9)
    assert byte_range("bytes=10-12", 10) is None
    assert byte_range("bytes=0-1,3-4", 10) is None
    assert byte_range("items=0-1", 10) is None


def test_an_altered_report_is_marked_and_cannot_be_reviewed(desk: tuple[Desk, TestClient], out: Path) -> None:
    made, browser = desk
    folder = out / "reports" / NAMES[1]
    record = folder / "evidence.json"
    record.write_text(record.read_text().replace("AUD-desk-one", "AUD-desk-0ne"))
    queue = browser.get("/?status=report+invalid").text
    assert NAMES[1] in queue and NAMES[0] not in queue and "altered" in queue
    page = browser.get(f"/report/{NAMES[1]}").text
    assert 'id="refused"' in page and 'id="decision"' not in page
    answer = browser.post(f"/report/{NAMES[1]}/decision", data=form(made))
    assert answer.status_code == 409 and "no decision was recorded" in answer.text
    assert not (folder / "review-1.json").exists()
    assert browser.get(f"/report/{NAMES[1]}/pdf").status_code == 404
    assert NAMES[1] not in browser.get(f"/report/{NAMES[0]}").text.split('id="next"')[-1][:200]  # never "next"


def test_a_wrong_passphrase_says_so_and_signs_nothing(desk: tuple[Desk, TestClient], out: Path) -> None:
    made, browser = desk
    answer = browser.post(f"/report/{NAMES[0]}/decision", data=form(made, passphrase="not the passphrase"))
    assert answer.status_code == 400
    assert "the passphrase does not open the reviewer key" in answer.text and "nothing was signed" in answer.text
    assert REASON.replace("'", "&#39;") in answer.text  # what was typed is kept
    assert 'id="passphrase"' in answer.text and made.session.identity is None
    assert not (out / "reports" / NAMES[0] / "review-1.json").exists()
    short = browser.post(f"/report/{NAMES[0]}/decision", data=form(made, reasons="fine"))
    assert short.status_code == 400 and "reasons" in short.text
    assert not (out / "reports" / NAMES[0] / "review-1.json").exists()


def test_a_decision_leaves_exactly_what_auditor_review_leaves(
    desk: tuple[Desk, TestClient], out: Path, identities: Identities, tmp_path: Path
) -> None:
    made, browser = desk
    other = shutil.copytree(out, tmp_path / "cli-out")
    reviewer = identities.seal_dir.parent / "reviewer"
    page = browser.get(f"/report/{NAMES[0]}")
    assert 'id="decision"' in page.text and 'id="passphrase"' in page.text
    saved = browser.post(f"/report/{NAMES[0]}/decision", data=form(made))
    assert saved.status_code == 200 and 'id="saved"' in saved.text
    assert saved.text.split('id="state">')[1].startswith("reviewed by")
    assert f'href="/report/{NAMES[1]}"' in saved.text  # next report
    assert 'id="passphrase"' not in browser.get(f"/report/{NAMES[1]}").text  # asked once per session
    env = {"AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE}
    run = run_cli("review", str(other / "reports" / NAMES[0]), "--as", str(reviewer), "--decision", "confirm",
                  "--reason", REASON, "--considered", "the clip", "--minutes", "4", "--bias-acknowledged",
                  "--keys", str(identities.seal_dir), env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    mine, theirs = (json.loads((o / "reports" / NAMES[0] / "review-1.json").read_text()) for o in (out, other))
    moment = ("signed_at", "pdf_size", "pdf_sha256")
    assert {k: v for k, v in mine.items() if k not in moment} == {k: v for k, v in theirs.items() if k not in moment}
    assert sorted(p.name for p in (out / "reports" / NAMES[0]).iterdir()) == sorted(p.name for p in (other / "reports" / NAMES[0]).iterdir())
    assert not [p for p in out.rglob("*") if p.is_file() and PASSPHRASE.encode() in p.read_bytes()]  # never written
    assert _revisions(out) == _revisions(other) == 2
    assert _amendments(out) == _amendments(other)
    for folder in (out, other):
        check = run_cli("verify", str(folder), "--trust", str(identities.seal_dir / "root.cert.pem"))
        assert check.returncode == 0, check.stdout + check.stderr


def _revisions(out: Path) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    with open(out / "reports" / NAMES[0] / "report.pdf", "rb") as handle:
        return len(PdfFileReader(handle).embedded_signatures)


def _seal_revision_end(pdf: Path) -> int:
    """The end of the bytes the seal's signature covers (its byte range), by pyHanko's reader."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    with open(pdf, "rb") as handle:
        seal = PdfFileReader(handle).embedded_signatures[0]
        start, length = seal.byte_range[2], seal.byte_range[3]
    return int(start + length)


def _amendments(out: Path) -> list[tuple[str, str, dict[str, object], list[str]]]:
    """The ledger's entries after the batch was made: kind, path, facts and registered file names."""
    entries = read_chain(out).entries
    made = max(e.sequence for e in entries if e.kind == "report") + 1  # its checkpoint
    return [(e.kind, e.path, e.facts if e.kind != "checkpoint" else {}, sorted(e.files) if e.kind != "checkpoint" else [])
            for e in entries if e.sequence > made]


def test_a_blind_second_review_hides_the_first_decision_until_the_second_is_saved(
    reports: dict[str, Path], identities: Identities, bob: Path, tmp_path: Path
) -> None:
    out = sealed_batch(tmp_path / "out", reports["two"], identities.seal, NAMES)
    folder = out / "reports" / NAMES[0]
    first_reason = "The raised arm is a wave; nobody is hit in the clip."
    asa = load_identity(identities.seal_dir.parent / "reviewer", PASSPHRASE)
    name, role = reviewer_names(asa)
    review_report(folder, asa, review_input(reviewer=name, role=role, authority=role, decision="overturn",
                                            reasons=first_reason, data_considered="the clip"))
    made = make_desk(out, identities, bob)
    with client(made) as browser:
        page = browser.get(f"/report/{NAMES[0]}").text
        assert 'id="blind"' in page and 'id="decision"' in page
        assert first_reason not in page and name not in page and "overturn by" not in page
        assert "awaiting second review" in page  # the status, never the decision
        pdf = browser.get(f"/report/{NAMES[0]}/pdf")
        full = (folder / "report.pdf").read_bytes()
        sealed_size = next(e["size"] for e in json.loads((folder / "manifest.json").read_text())["files"] if e["path"] == "report.pdf")
        assert pdf.content == full[:sealed_size] and len(pdf.content) < len(full)
        assert len(pdf.content) == _seal_revision_end(folder / "report.pdf")  # where pyHanko says the seal's revision ends
        assert hashlib.sha256(pdf.content).hexdigest() != hashlib.sha256(full).hexdigest()
        assert first_reason not in browser.get("/").text
        saved = browser.post(f"/report/{NAMES[0]}/decision", data=form(made, decision="confirm")).text
        assert first_reason in saved and name in saved and "Bob Example" in saved
        assert re.search(r'id="state">disagreement', saved)
        assert len(browser.get(f"/report/{NAMES[0]}/pdf").content) > len(full)  # now the full PDF


def test_minutes_count_from_opening_the_report(desk: tuple[Desk, TestClient]) -> None:
    made, browser = desk
    assert 'id="minutes" name="minutes" inputmode="decimal" value="0"' in browser.get(f"/report/{NAMES[0]}").text
    made.session.opened[NAMES[0]] -= 150  # opened two and a half minutes ago
    assert 'id="minutes" name="minutes" inputmode="decimal" value="2.5"' in browser.get(f"/report/{NAMES[0]}").text


def test_a_score_is_shown_on_its_side_of_the_threshold(out: Path, identities: Identities) -> None:
    item = make_desk(out, identities, None).queue()[0]
    assert item.record is not None
    decision = item.record.decision.model_copy(update={"predicted_probability": 0.8977, "threshold": 0.9})
    row = views.row(dataclasses.replace(item, score=0.8977, record=item.record.model_copy(update={"decision": decision})))
    assert (row.score_text, row.threshold_text) == ("89.8%", "90%")  # never "90%" beside a 90% threshold


def test_queue_filters_and_sorts(desk: tuple[Desk, TestClient]) -> None:
    _, browser = desk
    page = browser.get("/").text
    assert page.count('class="row') == 2 and "platform-2-camera-07" in page and "awaiting review" in page
    assert browser.get("/?camera=platform-2-camera-07&class=fight&sort=score").text.count('class="row') == 2
    assert browser.get("/?status=reviewed").text.count('class="row') == 0
    assert browser.get("/?camera=nowhere").text.count('class="row') == 0


def test_the_command_line_refuses_a_folder_that_is_no_batch(tmp_path: Path) -> None:
    run = run_cli("desk", str(tmp_path), "--no-browser")
    assert run.returncode != 0 and run.stderr.count("\n") == 1 and "no ledger.jsonl" in run.stderr
    assert "Traceback" not in run.stderr
