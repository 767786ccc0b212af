"""`auditor verify`: passes untouched reports, fails every tampering, tells untrusted from altered."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
from pathlib import Path

import pytest
from fixtures.identities import Identities, build_report, signed_report
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

import auditor.cli
from auditor.signing.seal import sign_pdf
from auditor.verify import EXIT_INVALID, EXIT_UNTRUSTED, EXIT_VALID, exit_code, verify_paths
from auditor.verify.limits import pdf_structure_problem


def _statuses(paths: list[Path], trust: Path | None) -> list[str]:
    return [v.status for v in verify_paths(paths, trust)]


def _append_unsigned_content_change(pdf: Path, out: Path) -> Path:
    """An incremental update that replaces the first page's content stream, with no signature."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    page = writer.root["/Pages"]["/Kids"][0]
    ref = page.raw_get("/Contents")
    stream = ref.get_object()
    stream._data = b"BT /F1 24 Tf 72 720 Td (NOT FLAGGED) Tj ET"
    stream._encoded_data = None
    stream.pop("/Filter", None)
    writer.mark_update(ref)
    buffer = io.BytesIO()
    writer.write(buffer)
    out.write_bytes(buffer.getvalue())
    return out


def test_untouched_report_folder_is_valid(sealed_report: Path, trust: Path) -> None:
    verdicts = verify_paths([sealed_report], trust)
    assert [Path(v.path).name for v in verdicts] == ["report.pdf", "report.html", "evidence.json", "manifest.json"]
    assert all(v.status == "valid" and not v.reasons for v in verdicts), [v.reasons for v in verdicts]
    assert exit_code(verdicts) == EXIT_VALID
    pdf = verdicts[0]
    assert pdf.signer == "O=Test Org,CN=Test seal" and str(trust) in pdf.trusted_root
    assert any("artifacts match" in note for note in pdf.notes)
    assert pdf.signatures[0].covers_whole_file and pdf.signatures[0].intact and pdf.signatures[0].trusted


def test_single_files_verify_on_their_own(sealed_report: Path, trust: Path) -> None:
    paths = [sealed_report / "report.pdf", sealed_report / "report.html", sealed_report / "evidence.json.p7s"]
    assert _statuses(paths, trust) == ["valid", "valid", "valid"]


def test_flipping_any_byte_of_the_pdf_is_detected(sealed_report: Path, trust: Path, tmp_path: Path) -> None:
    data = (sealed_report / "report.pdf").read_bytes()
    sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    gap_start, gap_end = int(sig.byte_range[1]), int(sig.byte_range[2])
    der_hex_end = gap_start + 1 + 2 * len(sig.pkcs7_content.rstrip(b"\0"))
    rng = random.Random(7)
    # header, the gap's edges, the CMS lengths and digest list (unsigned!), its end, padding, trailer
    targeted = [0, 5, gap_start - 1, gap_start, gap_start + 1, gap_start + 6, gap_start + 7, gap_start + 85,
                der_hex_end - 1, der_hex_end + 4, gap_end - 2, gap_end - 1, gap_end, len(data) - 1, len(data) - 30]  # fmt: skip
    positions = targeted + rng.sample(range(len(data)), 40)
    target = tmp_path / "report.pdf"
    survivors = []
    for position in positions:
        for flip in (0x01, 0x20):
            altered = bytearray(data)
            altered[position] ^= flip
            target.write_bytes(bytes(altered))
            if _statuses([target], trust) != ["invalid"]:
                survivors.append((position, flip))
    assert survivors == []
    target.write_bytes(data)  # the untouched PDF alone, away from its folder, still verifies
    verdict = verify_paths([target], trust)[0]
    assert verdict.status == "valid" and "hashes were not checked" in verdict.notes[0]


def test_flipping_bytes_of_a_p7s_is_detected(report: Path, trust: Path) -> None:
    signature = report / "evidence.json.p7s"
    data = signature.read_bytes()
    positions = [0, 1, 2, 3, 6, 40, len(data) - 1, *random.Random(3).sample(range(len(data)), 60)]
    survivors = []
    for position in positions:
        altered = bytearray(data)
        altered[position] ^= 0x01
        signature.write_bytes(bytes(altered))
        if _statuses([report / "evidence.json"], trust) != ["invalid"]:
            survivors.append(position)
    assert survivors == []


def test_appended_unsigned_update_is_detected(report: Path, trust: Path) -> None:
    _append_unsigned_content_change(report / "report.pdf", report / "report.pdf")
    verdict = verify_paths([report / "report.pdf"], trust)[0]
    assert verdict.status == "invalid"
    assert any("appended after the last signature" in r for r in verdict.reasons)


def test_review_signature_in_a_new_revision_keeps_the_seal(
    report: Path, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    pdf = report / "report.pdf"
    sign_pdf(pdf, pdf, identities.reviewer, reason="Reviewed: decision confirmed")
    verdict = verify_paths([pdf], trust)[0]
    assert verdict.status == "valid", verdict.reasons
    assert [s.field for s in verdict.signatures] == ["AuditorSeal", "AuditorSignature2"]
    assert [s.signer for s in verdict.signatures] == ["O=Test Org,CN=Test seal", "title=Station supervisor,O=Test Org,CN=Åsa Łukasiewicz"]
    assert verdict.signatures[0].changes_after == "FORM_FILLING" and not verdict.signatures[0].covers_whole_file
    assert _statuses([report], trust) == ["valid"] * 4  # the sealed PDF is the first bytes of the grown one
    forged = _append_unsigned_content_change(pdf, tmp_path / "forged.pdf")
    shutil.copy(forged, pdf)
    assert _statuses([pdf], trust) == ["invalid"]


def test_content_change_then_review_signature_is_detected(report: Path, identities: Identities, trust: Path) -> None:
    pdf = report / "report.pdf"
    _append_unsigned_content_change(pdf, pdf)
    sign_pdf(pdf, pdf, identities.reviewer)  # a valid signature cannot launder the change below it
    verdict = verify_paths([pdf], trust)[0]
    assert verdict.status == "invalid"
    assert any("changes more than signatures" in r for r in verdict.reasons)


@pytest.mark.parametrize("name", ["report.html", "evidence.json"])
def test_one_character_edit_is_detected(report: Path, trust: Path, name: str) -> None:
    path = report / name
    text = path.read_text(encoding="utf-8")
    index = text.index("flagged") if name == "report.html" else text.index('"report_id"') + 1
    path.write_text(text[:index] + text[index].swapcase() + text[index + 1 :], encoding="utf-8")
    verdicts = {Path(v.path).name: v for v in verify_paths([report], trust)}
    assert verdicts[name].status == "invalid"
    assert any("altered" in r for r in verdicts[name].reasons)
    if name == "evidence.json":  # the PDF's embedded record no longer matches the folder
        assert verdicts["report.pdf"].status == "invalid"


def test_another_reports_p7s_is_rejected(report: Path, identities: Identities, trust: Path, tmp_path: Path) -> None:
    other = signed_report(tmp_path / "other", identities.seal, marker="B")
    for name in ("report.html.p7s", "evidence.json.p7s"):
        shutil.copy(other / name, report / name)
    assert _statuses([report / "report.html", report / "evidence.json"], trust) == ["invalid", "invalid"]
    assert _statuses([other], trust) == ["valid"] * 4


def test_altered_artifact_is_detected(report: Path, trust: Path) -> None:
    arrays = report / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    verdict = verify_paths([report], trust)[0]
    assert verdict.status == "invalid"
    assert any("arrays.npz" in r and "altered" in r for r in verdict.reasons)


def test_links_and_special_files_in_a_folder_are_refused(report: Path, trust: Path) -> None:
    (report / "images" / "link.png").symlink_to(report / "images" / "legend.png")
    os.mkfifo(report / "pipe")
    verdicts = verify_paths([report], trust)
    manifest = verdicts[-1]
    assert Path(manifest.path).name == "manifest.json" and manifest.status == "invalid"
    reasons = "\n".join(manifest.reasons)
    assert "images/link.png: a symbolic link" in reasons and "pipe: not a regular file" in reasons
    assert [v.status for v in verdicts[:3]] == ["valid"] * 3


def test_missing_signature_file_and_unsigned_pdf(report: Path, trust: Path, tmp_path: Path) -> None:
    (report / "report.html.p7s").unlink()
    verdict = verify_paths([report / "report.html"], trust)[0]
    assert verdict.status == "invalid" and "report.html.p7s is missing" in verdict.reasons[0]
    draft = build_report(tmp_path / "draft")
    verdict = verify_paths([draft / "report.pdf"], trust)[0]
    assert verdict.status == "invalid" and "no signature" in verdict.reasons[0]


def test_untrusted_key_is_told_apart_from_tampering(identities: Identities, trust: Path, tmp_path: Path) -> None:
    rogue = signed_report(tmp_path / "rogue", identities.stranger)
    verdicts = verify_paths([rogue], trust)
    assert [v.status for v in verdicts] == ["untrusted"] * 4
    assert exit_code(verdicts) == EXIT_UNTRUSTED
    assert all("does not chain to the trusted root" in v.reasons[0] for v in verdicts)
    assert _statuses([rogue], identities.stranger_dir) == ["valid"] * 4


def test_rsa_signer_against_p256_root_of_the_same_name_is_untrusted(sealed_report: Path, tmp_path: Path) -> None:
    from auditor.keys import create_identity

    create_identity(
        tmp_path / "ec", "correct horse battery", root_passphrase="another passphrase", common_name="x",
        organisation="Test Org", key_type="p256",
    )
    assert _statuses([sealed_report / "report.pdf"], tmp_path / "ec") == ["untrusted"]


def test_default_trust_is_the_auditor_keys_root(
    sealed_report: Path, identities: Identities, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path))
    verdict = verify_paths([sealed_report / "report.html"], None)[0]
    assert verdict.status == "untrusted" and verdict.trusted_root.startswith("none (no ")
    shutil.copytree(identities.seal_dir, tmp_path / "keys")
    verdict = verify_paths([sealed_report / "report.html"], None)[0]
    assert verdict.status == "valid" and str(tmp_path / "keys" / "root.cert.pem") in verdict.trusted_root


def test_exit_code_order() -> None:
    from auditor.verify import FileVerdict

    def verdict(status: str) -> FileVerdict:
        return FileVerdict(path="x", kind="pdf", status=status, trusted_root="r")  # type: ignore[arg-type]

    assert exit_code([verdict("valid")]) == EXIT_VALID
    assert exit_code([verdict("valid"), verdict("untrusted")]) == EXIT_UNTRUSTED
    assert exit_code([verdict("untrusted"), verdict("invalid")]) == EXIT_INVALID


# --- command line -------------------------------------------------------------------------------


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(auditor.cli, "COMMAND_MODULES", ("keys", "verify"))
    code = auditor.cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_verify_exit_codes_and_summary(
    report: Path, identities: Identities, trust: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code, out, err = _run(monkeypatch, capsys, "verify", str(report), "--trust", str(trust))
    assert code == 0, out + err
    assert out.count("VALID ") == 4 and "trusted root: O=Test Org,CN=Test Org evidence seal root" in out
    rogue = signed_report(tmp_path / "rogue", identities.stranger)
    code, out, err = _run(monkeypatch, capsys, "verify", str(rogue / "report.pdf"), "--trust", str(trust))
    assert code == 8 and out.startswith("UNTRUSTED") and "signed by an untrusted key" in err
    (report / "report.html").write_text("<html>forged</html>")
    code, out, err = _run(monkeypatch, capsys, "verify", str(report), "--trust", str(trust), "--json")
    assert code == 1 and "altered or invalid" in err and "Traceback" not in err
    result = json.loads(out)
    assert result["exit_code"] == 1 and str(trust) in result["trusted_root"]
    assert [f["status"] for f in result["files"]] == ["valid", "invalid", "valid", "valid"]


def test_cli_verify_help_documents_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    code, out, _ = _run(monkeypatch, capsys, "verify", "--help")
    assert code == 0
    assert "0  all files valid" in out and "1  something is altered" in out and "8  intact, but signed" in out


@pytest.mark.parametrize("inside", [b"/W#37 /Si#7Ae 5 /Size 99999999", b"startxref 12 %%EOF " * 100])
def test_stream_data_never_trips_the_structure_scan(inside: bytes) -> None:
    """Compressed stream data may hold any bytes; only the bytes between streams are scanned."""
    pdf = b"%PDF-1.7\n1 0 obj << /Length 9 >> stream\n" + inside + b"\nendstream endobj\nxref\n0 2\n" + (b"0" * 18 + b"\r\n") * 2
    pdf += b"trailer << /Size 2 >>\nstartxref\n" + str(pdf.index(b"\nxref\n") + 1).encode() + b"\n%%EOF\n"
    assert pdf_structure_problem(pdf) is None


def test_a_cross_reference_offset_into_stream_data_is_refused() -> None:
    hidden = b"xref\n0 3000000\n"
    pdf = b"%PDF-1.7\n1 0 obj << /Length 20 >> stream\n" + hidden + b"\nendstream endobj\n"
    pdf += b"startxref\n" + str(pdf.index(hidden)).encode() + b"\n%%EOF\n"
    assert "points into a stream" in (pdf_structure_problem(pdf) or "")
