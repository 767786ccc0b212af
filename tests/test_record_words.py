"""The record holds codes, numbers and the operator's own text (schema 2.7); the report words the
codes (auditor/report/record_words.py). Records of 2.6 and before keep their English sentences:
they still load, render them as they are, and verify."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from fixtures.cli import DemoOutput
from fixtures.identities import Identities
from fixtures.report_records import full_profile, make_report_folder

import auditor
from auditor import i18n
from auditor.evidence import EvidenceRecord, Note, SealInfo, load_record, record_json, write_record
from auditor.evidence.build_trust import CHECKS
from auditor.explain.methods import METHODS
from auditor.report import record_words, spec_words
from auditor.report.document import write_report
from auditor.signing.seal import seal_fields, sign_report_folder
from auditor.verify import verify_paths

OLD_RECORD = Path(__file__).parent / "fixtures" / "record-1.1.json"
EVIDENCE = Path(auditor.__file__).parent / "evidence"
SEAL = Path(auditor.__file__).parent / "signing" / "seal.py"
CLIP = Path(auditor.__file__).parent / "report" / "clip.py"

# Where a record may hold free text that is not auditor's own sentence: the operator's profile and
# the model's sidecar (both written by people), the reviewer's entries, names of files, hosts,
# certificates, classes and layers, the parameters of a code, and the explanation methods' settings
# (names and values). How a trust check was computed is a "spec.…" code too (2.7), worded in full by
# the report (`auditor.report.spec_words`).
OPERATOR_TEXT = re.compile(
    r"^(deployment|model|review)\.|^seal\.signer$|\.params\.|^input\.(file_name|source_id)$|^clip\.source_file$"
    r"|^explanations\.(sanity\.(host|cache_file)|parameters\.)"
)
# The computation specifications: English sentences up to 2.6, "spec.…" codes from 2.7.
SPECIFICATIONS = (
    "explanations.counterfactuals.blur", "explanations.counterfactuals.rescored_by",
    "explanations.counterfactuals.model_input", "explanations.faithfulness.removal", "explanations.faithfulness.ranking",
    "explanations.faithfulness.model_input", "explanations.sanity.reference_clips", "explanations.persons.detector",
    "masking.method", "masking.explanation_input", "clip.encoder",
)


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string value of a JSON document with its dotted path (list positions left out)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)
    elif isinstance(value, str):
        yield path, value


def _sentences(record_text: str) -> list[tuple[str, str]]:
    """Strings of three or more words outside the fields that may hold them."""
    return [
        (path, text) for path, text in _strings(json.loads(record_text))
        if len(text.split()) >= 3 and not OPERATOR_TEXT.search(path)
    ]


def _notes(record: EvidenceRecord) -> list[Note]:
    found: list[Note] = []

    def walk(value: Any) -> None:
        if isinstance(value, Note):
            found.append(value)
        elif hasattr(value, "__pydantic_fields__"):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(record)
    return found


def test_the_demo_record_holds_no_generated_sentence(demo_output: DemoOutput) -> None:
    text = (demo_output.report / "evidence.json").read_text(encoding="utf-8")
    assert json.loads(text)["schema_version"] == "2.7"
    assert _sentences(text) == []


def test_the_check_above_finds_the_sentences_of_a_2_6_record() -> None:
    found = dict(_sentences(OLD_RECORD.read_text(encoding="utf-8")))
    assert {"limitations.model", "limitations.methods", "completeness.items.title"} <= set(found)


def test_every_code_the_record_is_built_with_is_worded() -> None:
    """Each code written in the evidence stage, the seal and the clip has its words; none falls back to the code."""
    written = {code for path in [*EVIDENCE.glob("*.py"), SEAL, CLIP]
               for code in re.findall(r'code="([a-z0-9_.]+)"', path.read_text(encoding="utf-8"))}
    written |= {f"limitation.{check}" for check in CHECKS}
    written |= set(re.findall(r'= "(motion\.[a-z_]+)"', (EVIDENCE / "build_trust.py").read_text(encoding="utf-8")))
    assert len(written) > 30
    assert written - record_words.codes() == set()


def test_a_full_record_is_worded_without_a_code_left(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path, profile=full_profile(), trust=True)
    notes = _notes(record)
    assert len(notes) >= 15
    for note in notes:
        text = record_words.note_text(note)
        assert note.code not in text and text[:1].strip(), (note, text)
    assert all(record_words.checklist_title(item) for item in record.completeness.items)
    rows = record.explanations.frame_importance
    assert [record_words.method_label(row) for row in rows] == [METHODS[row.method].label for row in rows]
    assert [record_words.method_description(row) for row in rows] == [METHODS[row.method].description for row in rows]


def test_codes_are_worded_with_their_numbers_and_names() -> None:
    words = record_words.note_text
    assert words(Note(code="checklist.faces_blurred", params={"faces": 1})) == "1 face blurred in the images"
    assert words(Note(code="checklist.faces_blurred", params={"faces": 3})) == "3 faces blurred in the images"
    assert words(Note(code="limitation.input_size", params={"frames": 16, "width": 112, "height": 112})).startswith(
        "The model saw only 16 frames scaled down to 112\u00d7112 pixels")
    assert "\u201cfight\u201d" in words(Note(code="limitation.logit_not_probability", params={"class_name": "fight"}))
    assert words(Note(code="sampling.every_nth", params={"every": 3})) == "one frame in every 3"
    assert words(Note(code="sampling.fps", params={"fps": 1.0})) == "1 frame per second"
    assert words(Note(code="sampling.fps", params={"fps": 2.5})) == "2.5 frames per second"
    assert words(Note(code="decoding.stopped", params={"frames": 412, "stated": 795, "seconds": 41.25})) == (
        "Decoding stopped at frame 412 (0:41.2) of the 795 the file states: the rest does not decode.")
    assert words(Note(code="future.code", params={"n": 2})) == "future.code n=2"  # a newer record: shown, not lost


def test_the_seal_note_is_a_code_with_the_signer_and_root(identities: Identities) -> None:
    note = SealInfo(**seal_fields(identities.seal)).note
    assert isinstance(note, Note) and note.code == "seal.sealed"
    assert note.params["subject"] == identities.seal.subject and len(str(note.params["root_sha256"])) == 64
    text = record_words.note_text(note)
    assert text.startswith(f"PAdES signature and detached CMS signatures by {identities.seal.subject}; root ")
    assert record_words.note_text(SealInfo(**seal_fields(None)).note) == "UNSIGNED DRAFT: not sealed, not evidence"


def test_an_old_record_keeps_its_sentences() -> None:
    """Schema 1.1 (auditor 0.1): titles, notes and limitations are English sentences, shown as they are;
    its frame-importance rows, converted, are named by the method descriptors."""
    old = json.loads(OLD_RECORD.read_text(encoding="utf-8"))
    record = load_record(OLD_RECORD)
    assert [record_words.checklist_title(i) for i in record.completeness.items] == [
        i["title"] for i in old["completeness"]["items"]]
    assert [record_words.note_text(n) for n in record.limitations.model] == old["limitations"]["model"]
    assert record_words.method_label(record.explanations.frame_importance[0]) == "Grad-CAM share"


def _as_2_6(record: EvidenceRecord) -> bytes:
    """`record` as auditor 0.x wrote it under schema 2.6: English sentences where 2.7 holds codes."""
    data = json.loads(record_json(record))
    data["schema_version"] = "2.6"
    data["limitations"] = {part: [record_words.note_text(Note(**n)) for n in notes]
                           for part, notes in data["limitations"].items()}
    for item in data["completeness"]["items"]:
        item["title"] = record_words.CHECKLIST_TITLES[item["number"]]
        item["note"] = record_words.note_text(Note(**item["note"])) if item["note"] else None
    for row in data["explanations"]["frame_importance"]:
        row["label"], row["description"] = "Old label", "what an old record said of the method"
    data["input"]["sampling"] = "every frame"
    data["seal"]["note"] = "PAdES signature and detached CMS signatures by an old seal"
    return json.dumps(data, indent=2).encode()


def test_a_sealed_2_6_record_with_sentences_loads_renders_and_verifies(
    tmp_path: Path, identities: Identities, trust: Path
) -> None:
    fresh = make_report_folder(tmp_path / "r", profile=full_profile(), seal=SealInfo(**seal_fields(identities.seal)))
    old = load_record(_as_2_6(fresh))
    assert old.schema_version == "2.6" and old.limitations.methods == [
        record_words.note_text(n) for n in fresh.limitations.methods]
    assert record_words.method_label(old.explanations.frame_importance[0]) == "Old label"
    assert record_words.samples_every_frame(old.input) and record_words.seal_note_text(old.seal).endswith("an old seal")
    write_record(tmp_path / "r", old)
    write_report(old, tmp_path / "r")
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "what an old record said of the method" in html
    sign_report_folder(tmp_path / "r", identities.seal)
    verdicts = verify_paths([tmp_path / "r"], trust)
    assert {v.status for v in verdicts} == {"valid"}, [(v.path, v.reasons) for v in verdicts]


@pytest.mark.parametrize("bad", [{"code": "Not A Code"}, {"code": "x" * 65}, {"code": "a", "params": {"k": [1]}}])
def test_a_note_holds_a_code_and_plain_parameters(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Note(**bad)


def _spec(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for key in path.split("."):
        value = value[key]
    return value


def test_the_demo_record_states_every_computation_as_a_code_worded_in_full(demo_output: DemoOutput) -> None:
    """Each specification of the demo (every trust check ran, a clip was written) is a "spec." code
    whose English words state the rule with the record's own numbers and names."""
    record = json.loads((demo_output.report / "evidence.json").read_text(encoding="utf-8"))
    specs = {path: Note(**_spec(record, path)) for path in SPECIFICATIONS}
    assert all(note.code.startswith("spec.") for note in specs.values()), specs
    words = {path: spec_words.spec_text(note) for path, note in specs.items()}
    assert all(note.code not in words[path] and len(words[path].split()) >= 3 for path, note in specs.items()), words
    blur = record["explanations"]["counterfactuals"]["region_blur"]
    assert specs["explanations.counterfactuals.blur"].params == {
        "sigma": blur["sigma"], "factor": blur["downscale"], "border": blur["border"]}
    assert "cv2.GaussianBlur" in words["explanations.counterfactuals.blur"]
    assert "numpy.argsort" in words["explanations.faithfulness.ranking"]
    assert "fight, fall" in words["explanations.sanity.reference_clips"]
    assert "haarcascade_frontalface_default.xml" in words["masking.method"]


def test_every_specification_code_is_worded_in_every_language() -> None:
    """Each code of spec_words has its msgid in auditor.pot and a wording that is no code."""
    with (Path(auditor.__file__).parent / "locale" / "auditor.pot").open("rb") as file:
        beginnings = {str(message.id).split("%(")[0] for message in read_po(file) if message.id}
    params = {"sigma": 38.4, "factor": 9, "border": "BORDER_REFLECT_101", "labels": "fight, fall", "seeds": "1501, 1502",
              "frames": 16, "size": 64, "width": 112, "height": 112, "frontal": "a.xml", "profile": "b.xml",
              "quality": 40, "kbps": 1500}
    assert len(spec_words.codes()) == 13
    for code in spec_words.codes():
        text = spec_words.spec_text(Note(code=code, params=params))
        assert code not in text and "%(" not in text, (code, text)
        assert any(text.startswith(b) and len(b) >= 20 for b in beginnings), code  # a msgid of the catalog template
    assert spec_words.spec_text(Note(code="spec.blur.gaussian", params={**params, "factor": 1})) == (
        "Gaussian blur, sigma 38.4 px (cv2.GaussianBlur, BORDER_REFLECT_101)")
    assert "cv2.GaussianBlur sigma 4.266667 (BORDER_REFLECT_101)" in spec_words.spec_text(
        Note(code="spec.blur.gaussian", params=params))
    with i18n.speaking("de"):
        assert "38,4" in spec_words.spec_text(Note(code="spec.removal.gaussian", params=params))


def test_the_check_finds_the_specifications_of_a_2_6_record(tmp_path: Path) -> None:
    """Records up to 2.6 state each computation as an English sentence: the check above finds them
    all (so it would fail on such a record), and the report shows them as they are."""
    data = json.loads(_as_2_6(make_report_folder(tmp_path, profile=full_profile(), trust=True)))
    old = {
        "explanations.counterfactuals.blur": "Gaussian blur, sigma 2.4 px of the recorded frame",
        "explanations.counterfactuals.rescored_by": "the model file loaded by Keras, called once per edit",
        "explanations.faithfulness.removal": "replaced by the frame blurred with a Gaussian of sigma 2.4 px",
        "explanations.faithfulness.ranking": "An ordering ranks the units of the array `values` names.",
        "explanations.faithfulness.model_input": "The edited frames are the model's input frames.",
        "explanations.sanity.reference_clips": "synthetic clips 'fight' (seed 1501) of auditor.synthetic.make_clip",
        "explanations.persons.detector": "OpenCV HOG people detector (Dalal-Triggs default SVM, 64x128 window)",
        "masking.method": "OpenCV Haar cascades (a.xml and b.xml); pixelate + gaussian blur",
        "masking.explanation_input": "the explanation was computed on the unmasked frames; only the pictures are masked",
    }
    for path, sentence in old.items():
        *parents, key = path.split(".")
        _spec(data, ".".join(parents))[key] = sentence
    found = dict(_sentences(json.dumps(data)))
    assert set(old) <= set(found)
    record = load_record(json.dumps(data).encode())
    trust = record.explanations
    assert trust.faithfulness is not None and trust.sanity is not None and trust.counterfactuals is not None
    assert record_words.note_text(trust.faithfulness.removal) == old["explanations.faithfulness.removal"]
    write_report(record, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "scored by the model file loaded by Keras, called once per edit." in html
    assert "Removal, on the frames at the model's input size: replaced by the frame blurred with a Gaussian" in html
    assert "on synthetic clips &#39;fight&#39; (seed 1501) of auditor.synthetic.make_clip;" in html
