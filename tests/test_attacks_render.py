"""Attacks on rendering (security issue 10, findings 1, 3, 4, 9 and 11), each reproduced and caught.

A crafted record must never run code, choose templates, borrow a seal or get re-sealed without
proof of origin; hostile records end with one line and exit 5 within seconds; a render stopped
half-way leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities, templated_report

from auditor.evidence import load_record

PAYLOAD = "{{ lipsum.__globals__['os'].popen('touch %s').read() }}"


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, identities: Identities) -> Path:
    return templated_report(tmp_path_factory.mktemp("sealed") / "report", identities.seal)


@pytest.fixture
def env(identities: Identities, tmp_path: Path) -> dict[str, str]:
    """The seal's keys and passphrase, as an operator's shell would hold them."""
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_HOME": str(tmp_path / "home")}


def _keys(identities: Identities) -> list[str]:
    return ["--keys", str(identities.seal_dir), "--trust", str(identities.seal_dir / "root.cert.pem")]


def _edited_copy(sealed: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    copy = shutil.copytree(sealed, tmp_path / "edited")
    record = json.loads((copy / "evidence.json").read_text(encoding="utf-8"))
    edit(record)
    (copy / "evidence.json").write_text(json.dumps(record), encoding="utf-8")
    return copy


def _one_line_error(stderr: str, expected: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("auditor: error: ") and expected in lines[0], stderr


# --- finding 1: a record cannot choose templates; templates cannot reach Python --------------------


def test_1_a_record_naming_a_templates_folder_runs_no_code(
    sealed: Path, identities: Identities, env: dict[str, str], tmp_path: Path
) -> None:
    evil = tmp_path / "evil-templates"
    evil.mkdir()
    marker = tmp_path / "PWNED"
    (evil / "report.html.j2").write_text(PAYLOAD % marker, encoding="utf-8")

    def point_at_evil(record: dict) -> None:  # type: ignore[type-arg]
        record["deployment"]["templates_dir"] = str(evil)

    crafted = _edited_copy(sealed, tmp_path, point_at_evil)
    run = run_cli("render", str(crafted / "evidence.json"), "--out", str(tmp_path / "out"), "--no-sign",
                  "--unverified-source", *_keys(identities), env=env)
    assert run.returncode == 0, run.stderr
    assert not marker.exists(), "the record's templates ran"
    new = load_record(tmp_path / "out" / "evidence.json")
    assert "templates_dir" not in new.deployment.model_dump()
    assert str(tmp_path) not in (tmp_path / "out" / "evidence.json").read_text(encoding="utf-8")


def test_1_operator_templates_render_in_the_sandbox(sealed: Path, env: dict[str, str], tmp_path: Path) -> None:
    brand = tmp_path / "brand"
    brand.mkdir()
    marker = tmp_path / "PWNED"
    (brand / "report.html.j2").write_text(PAYLOAD % marker, encoding="utf-8")
    run = run_cli("render", str(sealed), "--out", str(tmp_path / "out"), "--no-sign", "--unverified-source",
                  "--templates", str(brand), env=env)
    assert run.returncode == 5 and not marker.exists()
    _one_line_error(run.stderr, "template error")
    assert not (tmp_path / "out").exists()


def test_1_records_carry_no_path_of_the_machine_that_made_them(demo_output) -> None:  # type: ignore[no-untyped-def]
    text = (demo_output.report / "evidence.json").read_text(encoding="utf-8")
    assert str(demo_output.folder) not in text and str(Path.home()) not in text
    strings: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            [walk(v) for v in value.values()]
        elif isinstance(value, list):
            [walk(v) for v in value]

    walk(json.loads(text))
    assert not [s for s in strings if s.startswith("/")]


# --- finding 3: seal facts come only from the identity that signs ------------------------------


def test_3_a_rerendered_report_names_its_own_signer(
    sealed: Path, identities: Identities, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run = run_cli("render", str(sealed), "--out", str(out), "--keys", str(identities.stranger_dir),
                  "--trust", str(identities.seal_dir / "root.cert.pem"), env=env)
    assert run.returncode == 0, run.stderr
    new = load_record(out / "evidence.json")
    assert new.seal.signer == identities.stranger.subject
    assert new.seal.certificate_sha256 == identities.stranger.fingerprint != identities.seal.fingerprint
    assert new.rendered_from is not None and new.rendered_from.sealed_by == identities.seal.subject


# --- finding 4: render re-seals only what it can prove -----------------------------------------


def test_4_a_hand_edited_record_is_not_resealed(
    sealed: Path, identities: Identities, env: dict[str, str], tmp_path: Path
) -> None:
    def raise_the_score(record: dict) -> None:  # type: ignore[type-arg]
        record["decision"]["predicted_probability"] = 0.97

    edited = _edited_copy(sealed, tmp_path, raise_the_score)
    run = run_cli("render", str(edited / "evidence.json"), "--out", str(tmp_path / "out"), *_keys(identities), env=env)
    assert run.returncode == 5 and not (tmp_path / "out").exists()
    _one_line_error(run.stderr, "does not verify")


def test_4_an_unverified_source_is_said_so_on_page_1(
    sealed: Path, identities: Identities, env: dict[str, str], tmp_path: Path
) -> None:
    def raise_the_score(record: dict) -> None:  # type: ignore[type-arg]
        record["decision"]["predicted_probability"] = 0.97

    edited = _edited_copy(sealed, tmp_path, raise_the_score)
    out = tmp_path / "out"
    run = run_cli("render", str(edited), "--out", str(out), "--unverified-source", *_keys(identities), env=env)
    assert run.returncode == 0, run.stderr
    page_1 = _pdf_text(out / "report.pdf").split("\f")[0]
    assert "Rendered from a record whose origin is not proven" in " ".join(page_1.split())
    assert load_record(out / "evidence.json").rendered_from.origin_verified is False  # type: ignore[union-attr]


def test_4_a_rerendered_folder_verifies_and_names_its_source(
    sealed: Path, identities: Identities, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "rerendered"
    run = run_cli("render", str(sealed / "evidence.json"), "--out", str(out), *_keys(identities), env=env)
    assert run.returncode == 0, run.stderr
    check = run_cli("verify", str(out), "--trust", str(identities.seal_dir / "root.cert.pem"), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    original, new = load_record(sealed / "evidence.json"), load_record(out / "evidence.json")
    assert new.rendered_from is not None and new.rendered_from.origin_verified
    assert (new.rendered_from.report_id, new.rendered_from.created_at) == (
        original.report.report_id, original.report.created_at)
    assert new.report.report_id != original.report.report_id and new.report.created_at > original.report.created_at
    text = " ".join(_pdf_text(out / "report.pdf").split())
    assert f"from report {original.report.report_id}" in text


# --- finding 9: hostile records are refused quickly, in one line -------------------------------


def _long_token(record: dict) -> None:  # type: ignore[type-arg]
    record["deployment"]["controller"] = "A" * 100_000


def _many_frames(record: dict) -> None:  # type: ignore[type-arg]
    frames = record["explanations"]["frames"]
    record["explanations"]["frames"] = [dict(frames[0], position=t) for t in range(100_000)]
    record["input"]["frame_indices"] = list(range(100_000))


def _many_indices(record: dict) -> None:  # type: ignore[type-arg]
    record["input"]["frame_indices"] = list(range(5_000))


def _deep(record: dict) -> None:  # type: ignore[type-arg]
    record["model"]["sidecar"] = {"x": None}
    node = record["model"]["sidecar"]
    for _ in range(100_000):
        node["x"] = {"x": None}
        node = node["x"]


@pytest.mark.parametrize(("edit", "expected"), [
    (_long_token, "at most 20000"), (_many_frames, "an evidence record is at most 16777216 bytes"),
    (_many_indices, "at most 4096"), (_deep, "nested more than 16 levels")])
def test_9_hostile_records_end_in_one_line_within_seconds(
    sealed: Path, env: dict[str, str], tmp_path: Path, edit, expected: str  # type: ignore[no-untyped-def]
) -> None:
    if edit is _deep:  # json.dumps cannot write 100 000 levels: write the text directly
        hostile = shutil.copytree(sealed, tmp_path / "edited")
        text = (hostile / "evidence.json").read_text(encoding="utf-8")
        deep = '{"x": ' * 100_000 + "null" + "}" * 100_000
        (hostile / "evidence.json").write_text(text.replace('"sidecar": {', f'"sidecar": {{"deep": {deep}, ', 1))
    else:
        hostile = _edited_copy(sealed, tmp_path, edit)
    start = time.monotonic()
    run = run_cli("render", str(hostile), "--out", str(tmp_path / "out"), "--no-sign", "--unverified-source", env=env)
    assert time.monotonic() - start < 30  # seconds, python start-up included; 60+ before the limits
    assert run.returncode == 5 and not (tmp_path / "out").exists()
    _one_line_error(run.stderr, expected)


# --- finding 11: render faults --------------------------------------------------------------------


def test_11_an_inconsistent_record_is_one_line_not_a_traceback(sealed: Path, env: dict[str, str], tmp_path: Path) -> None:
    def key_frame_outside(record: dict) -> None:  # type: ignore[type-arg]
        record["explanations"]["key_frames"] = [10_000]

    hostile = _edited_copy(sealed, tmp_path, key_frame_outside)
    run = run_cli("render", str(hostile), "--out", str(tmp_path / "out"), "--no-sign", "--unverified-source", env=env)
    assert run.returncode == 5
    _one_line_error(run.stderr, "key_frames names a frame outside the window")


def test_11_sigterm_during_render_leaves_no_staging_folder(
    sealed: Path, identities: Identities, env: dict[str, str], tmp_path: Path
) -> None:
    parent = tmp_path / "reports"
    parent.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor", "render", str(sealed), "--out", str(parent / "new"), *_keys(identities)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not list(parent.iterdir()) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert list(parent.iterdir()), "the render never started staging"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and "terminated" in stderr and "Traceback" not in stderr
    assert list(parent.iterdir()) == []


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
