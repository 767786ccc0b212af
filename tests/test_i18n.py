"""Reports in the reader's language (issue 25): the catalogs, the locale's formats, the switch.

One record rendered in English, German and French says the same numbers; a toy language made
from a catalog file alone gives a whole report in which no msgid's English survives; `--language`
beats the profile, an unknown code is a one-line user error, and `<html lang>` and the PDF's
`/Lang` follow the language.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pikepdf
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import NumberFormatError, parse_decimal
from click.testing import CliRunner
from fixtures.cli import run_cli
from fixtures.report_records import full_profile, make_report_folder

from auditor import catalogs, i18n
from auditor.archive import IndexRow, write_index
from auditor.archive.index import INDEX_HTML, index_html
from auditor.cli.output import in_language as profile_speaking
from auditor.cli.render import render
from auditor.errors import ReportError
from auditor.evidence import EvidenceRecord, SealInfo, load_record, write_record
from auditor.profile import DeploymentProfile, read_profile
from auditor.report.document import write_report
from auditor.report.html import render_html
from auditor.verify.batch_index import check_index

LANGUAGES = ("en", "de", "fr")
DEMO_SEAL = SealInfo(signed=True, signer="auditor demo seal", throwaway_identity=True)
OPEN, CLOSE = "\u2039", "\u203a"  # the toy language wraps each translation in ‹…› (glyphs of the shipped font)
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]")
# codes, not words: review.role, gradient_x_input, images/strip.png, and "saliency" in a parameter's JSON
# (the report's prose quotes with “ ”; straight quotes come only from JSON values)
IDENTIFIER = re.compile(r"\S*[^\W_][._/][^\W_]\S*|\"[^\"\s]*\"")
READER_ATTRIBUTES = ("alt", "title", "aria-label")  # attribute text a reader (or a screen reader) meets
# msgids whose English may stand in any language's report, each with its reason: none so far.
SAME_IN_EVERY_LANGUAGE: dict[str, str] = {}


class _Text(HTMLParser):
    """The text a reader meets in an HTML page: its text nodes and the reader-facing attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skipping += tag in ("style", "script")
        self.parts += [value for name, value in attrs if name in READER_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        self._skipping -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def in_language(record: EvidenceRecord, code: str) -> EvidenceRecord:
    return record.model_copy(update={"deployment": record.deployment.model_copy(update={"report_language": code})})


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvidenceRecord, Path]:
    folder = tmp_path_factory.mktemp("full")
    record = make_report_folder(folder, profile=full_profile(), seal=DEMO_SEAL, trust=True)
    write_record(folder, record)
    return record, folder


# -- the locale's formats ---------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "percent", "decimal", "day", "moment"), [
    ("en", "88%", "1,234.5", "6 December 2026", "6 December 2026, 14:03 UTC"),
    ("de", "88\u00a0%", "1.234,5", "6. Dezember 2026", "6. Dezember 2026, 14:03 UTC"),
    ("fr", "88\u00a0%", "1\u202f234,5", "6 décembre 2026", "6 décembre 2026, 14:03 UTC"),
])
def test_formats_follow_the_language(code: str, percent: str, decimal: str, day: str, moment: str) -> None:
    when = dt.datetime(2026, 12, 6, 14, 3, 59, tzinfo=dt.UTC)
    with i18n.speaking(code):
        assert (i18n.percent(0.88), i18n.number(1234.5, 1), i18n.date(when), i18n.datetime(when)) == (
            percent, decimal, day, moment)
        assert i18n.clock(83.47) == f"1:23{i18n.decimal_symbol()}4"
    assert i18n.active().code == "en"  # speaking() restores the language it found


def test_an_unknown_language_is_a_user_error_naming_the_choices() -> None:
    with pytest.raises(ReportError, match=r"unknown report language 'xx'; choose one of de, en, fr"):
        i18n.check_language("xx")


def test_shipped_catalogs_compile_and_keep_their_placeholders() -> None:
    assert catalogs.check() == []


def test_the_checker_finds_a_translation_that_loses_a_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "auditor.po"
    path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                    '#, python-format\nmsgid "Frame %(number)s"\nmsgstr "Bild %(nummer)s"\n', encoding="utf-8")
    assert any("nummer" in problem or "number" in problem for problem in catalogs.problems(path))


def test_the_template_is_current() -> None:
    """auditor.pot holds exactly what extraction finds now (run `python -m auditor.catalogs extract`)."""
    with catalogs.TEMPLATE.open("rb") as file:
        committed = {(m.id, m.context) for m in read_po(file) if m.id}
    assert committed == {(m.id, m.context) for m in catalogs.extract() if m.id}


# -- numbers agree across the languages ------------------------------------------------------------

def numbers_in(text: str, code: str) -> tuple[list[Decimal], list[str]]:
    """The numbers of `text` read with the locale's formats, and the digit runs inside names
    (ids, hashes, file names, versions) that are no number of the locale."""
    locale = i18n.language(code).locale
    values: list[Decimal] = []
    names: list[str] = []
    spaced = re.sub(r"[\u00a0\u202f](?!\d)|(?<!\d)[\u00a0\u202f]", " ", text)  # no-break spaces inside numbers stay
    for token in re.split(r"[ \t\r\n]+", spaced):
        if re.search(r"[^\W\d_]", token):  # letters and digits: a name, whatever the language
            names += re.findall(r"\d+", token)
            continue
        for part in re.findall(r"\d[\d.,\u00a0\u202f]*", token):
            part = part.rstrip(".,\u00a0\u202f")
            try:
                values.append(parse_decimal(part, locale=locale, strict=True))
            except NumberFormatError:
                names += re.findall(r"\d+", part)
    return sorted(values), sorted(names)


def test_one_record_says_the_same_numbers_in_every_language(full: tuple[EvidenceRecord, Path]) -> None:
    record, folder = full
    assert record.explanations.faithfulness is not None
    technical = [  # printed the same in every language, each for its reason:
        rf"(?<![\d.,]){re.escape(record.schema_version)}(?!\d|[.,]\d)",  # a version is a name, not a number
    ]
    found = {}
    for code in LANGUAGES:
        text = page_text(render_html(in_language(record, code), folder))
        for pattern in technical:
            text = re.sub(pattern, " ", text)
        found[code] = numbers_in(text, code)
    values, names = found["en"]
    assert len(values) > 200 and names  # scores, percentages, frames, times, counts; ids and hashes
    for code in ("de", "fr"):
        assert found[code][0] == values, f"{code}: numbers differ from English"
        assert found[code][1] == names, f"{code}: names and hashes differ from English"


def test_the_same_numbers_read_differently_in_each_locale(full: tuple[EvidenceRecord, Path]) -> None:
    """The numbers check above compares locale-formatted text, not one text three times."""
    record, folder = full
    texts = {code: page_text(render_html(in_language(record, code), folder)) for code in LANGUAGES}
    assert "%" in texts["en"] and re.search(r"\d%", texts["en"]) and not re.search(r"\d\u00a0%", texts["en"])
    assert re.search(r"\d\u00a0%", texts["de"]) and re.search(r"\d\u00a0%", texts["fr"])
    assert re.search(r"\d,\d", texts["de"]) and re.search(r"\d,\d", texts["fr"])


# -- a new language is one catalog file ------------------------------------------------------------

def neutral(value: object, counter: list[int]) -> object:
    """`value` with every text replaced by «n»: operator text that no msgid can match."""
    if isinstance(value, str):
        counter[0] += 1
        return f"\u00ab{counter[0]}\u00bb"
    if isinstance(value, dict):
        return {k: v if k == "report_language" else neutral(v, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [neutral(v, counter) for v in value]
    return value


@pytest.fixture(scope="module")
def neutral_full(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvidenceRecord, Path]:
    """The full record, its operator text (the profile) made of «n» marks."""
    folder = tmp_path_factory.mktemp("neutral")
    profile = DeploymentProfile.model_validate(neutral(full_profile().model_dump(mode="json"), [0]))
    record = make_report_folder(folder, profile=profile, seal=DEMO_SEAL, trust=True)
    write_record(folder, record)
    return record, folder


def pseudo(message: str) -> str:
    """A toy translation: the English wrapped in ‹…›, its placeholders kept."""
    return f"{OPEN}{message}{CLOSE}"


@pytest.fixture
def toy_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    """`xx`, made by copying the locale folder and adding one catalog file, nothing else."""
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    catalogs.init("xx")
    catalog = catalogs.read(i18n.catalog_path("xx"))
    for message in catalog:
        if message.id:
            message.string = tuple(pseudo(m) for m in message.id) if message.pluralizable else pseudo(message.id)
    catalogs.write(catalog, i18n.catalog_path("xx"))
    yield catalog


def untranslated(text: str, catalog: Catalog) -> list[str]:
    """Every msgid whose English reaches `text` outside a toy translation."""
    rest = text
    while (cut := re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", rest)) != rest:
        rest = cut
    rest = " ".join(IDENTIFIER.sub(" ", rest).split())
    found = []
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for msgid in ids:
            fragments = PLACEHOLDER.split(page_text(msgid.replace("%%", "%")))
            whole = len(fragments) == 1
            if msgid not in SAME_IN_EVERY_LANGUAGE and any(_appears(f, rest, whole) for f in fragments):
                found.append(msgid)
    return found


def _appears(fragment: str, text: str, whole: bool) -> bool:
    """`fragment` of a msgid is in `text`: a whole msgid as it is; a piece between placeholders
    when it is long enough to say something (two words, 12 characters), not "and the"."""
    words = " ".join(fragment.split()).strip(" .,;:()")
    telling = whole or (len(words) >= 12 and " " in words)
    return telling and bool(re.search(r"[^\W\d_]{3}", words)) and re.search(
        rf"(?<!\w){re.escape(words)}(?!\w)", text) is not None


def test_a_toy_language_from_a_catalog_alone_leaves_no_english(
    neutral_full: tuple[EvidenceRecord, Path], toy_language: Catalog, tmp_path: Path
) -> None:
    record, folder = neutral_full
    toy = in_language(record, "xx")
    assert "xx" in i18n.available()
    out = tmp_path / "out"
    write_report(toy, folder, out_dir=out)
    html = (out / "report.html").read_text(encoding="utf-8")
    pdf_text = subprocess.run(["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True,
                              text=True, check=True).stdout
    assert '<html lang="xx">' in html and OPEN in pdf_text
    assert pikepdf.open(out / "report.pdf").Root.Lang == "xx"
    assert untranslated(page_text(html), toy_language) == []
    assert untranslated(pdf_text, toy_language) == []


def test_the_untranslated_check_finds_english(
    neutral_full: tuple[EvidenceRecord, Path], toy_language: Catalog
) -> None:
    """The check above would see a msgid left in English: drop one translation and it is listed."""
    record, folder = neutral_full
    path = i18n.catalog_path("xx")
    broken = catalogs.read(path)
    broken.delete("Human review")
    catalogs.write(broken, path)
    html = render_html(in_language(record, "xx"), folder)  # a new catalog file: read afresh
    assert "Human review" in untranslated(page_text(html), toy_language)


# -- the switch -------------------------------------------------------------------------------------

def test_the_language_option_beats_the_profile() -> None:
    profile = DeploymentProfile(report_language="fr")
    assert profile_speaking(profile, "de").report_language == "de"
    assert profile_speaking(profile, None).report_language == "fr"
    with pytest.raises(ReportError, match="choose one of"):
        profile_speaking(profile, "tlh")


def test_a_profile_with_an_unknown_language_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text('report_language = "tlh"\n', encoding="utf-8")
    with pytest.raises(ReportError, match=r"report_language 'tlh' has no catalog; choose one of de, en, fr"):
        read_profile(path)
    path.write_text('report_language = "de"\n', encoding="utf-8")
    assert read_profile(path).profile.report_language == "de"


@pytest.mark.parametrize("command", [
    ("demo", "--no-sign"),
    ("report", "missing.avi", "--model", "missing.keras"),
    ("batch", "missing.avi", "--model", "missing.keras"),
])
def test_an_unknown_language_is_refused_before_any_work(command: tuple[str, ...], tmp_path: Path) -> None:
    run = run_cli(*command, "--out", str(tmp_path / "out"), "--language", "tlh", cwd=tmp_path)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert run.stderr.splitlines() == ["auditor: error: unknown report language 'tlh'; choose one of de, en, fr"]
    assert not (tmp_path / "out").exists()


def test_a_record_in_a_language_without_catalog_renders_only_with_language(
    full: tuple[EvidenceRecord, Path], tmp_path: Path
) -> None:
    record, folder = full
    source = tmp_path / "source"
    shutil.copytree(folder, source)
    write_record(source, in_language(record, "tlh"))
    args = [str(source / "evidence.json"), "--no-sign", "--unverified-source"]
    refused = CliRunner().invoke(render, [*args, "--out", str(tmp_path / "a")])
    assert isinstance(refused.exception, ReportError) and "give --language" in str(refused.exception)
    assert CliRunner().invoke(render, [*args, "--out", str(tmp_path / "b"), "--language", "fr"]).exit_code == 0
    assert load_record(tmp_path / "b" / "evidence.json").deployment.report_language == "fr"


def test_render_again_in_another_language(full: tuple[EvidenceRecord, Path], tmp_path: Path) -> None:
    record, folder = full
    assert record.deployment.report_language == "en"
    out = tmp_path / "de"
    result = CliRunner().invoke(render, [str(folder / "evidence.json"), "--out", str(out), "--no-sign",
                                         "--unverified-source", "--language", "de"])
    assert result.exit_code == 0, result.output
    assert load_record(out / "evidence.json").deployment.report_language == "de"
    assert '<html lang="de">' in (out / "report.html").read_text(encoding="utf-8")
    assert pikepdf.open(out / "report.pdf").Root.Lang == "de"


# -- the batch index ----------------------------------------------------------------------------------

def _unreported_rows() -> list[IndexRow]:
    row = {"detection_id": "d" * 64, "source": "cam1", "video": "cam1.avi", "video_sha256": "a" * 64,
           "first_frame": 10, "last_frame": 25, "start_seconds": 65.5, "end_seconds": 67.25, "class_name": "fight",
           "score": 0.91234, "threshold": 0.5}
    return [IndexRow.model_validate({**row, "status": "failed", "reason": "no such file"}),
            IndexRow.model_validate({**row, "detection_id": "e" * 64, "status": "pending"})]


def test_the_index_speaks_the_batch_language_and_verifies_in_it(toy_language: Catalog, tmp_path: Path) -> None:
    rows = _unreported_rows()
    _, page = write_index(tmp_path, rows, "xx")
    html = page.read_text(encoding="utf-8")
    assert '<html lang="xx">' in html and f"{OPEN}Status{CLOSE}" in html and f"{OPEN}failed{CLOSE}" in html
    assert untranslated(page_text(html), toy_language) == []
    assert check_index(tmp_path, {}, dt.datetime.now(dt.UTC)).invalid == []
    write_index(tmp_path, rows)  # a rewrite (the desk's) keeps the page's language
    assert page.read_text(encoding="utf-8") == html
    for lang in ("en", "tlh"):  # another language, or one without a catalog: not the page the rows make
        page.write_text(html.replace('<html lang="xx">', f'<html lang="{lang}">'), encoding="utf-8")
        assert any(INDEX_HTML in problem for problem in check_index(tmp_path, {}, dt.datetime.now(dt.UTC)).invalid)
    write_index(tmp_path, rows)  # rewritten from a page whose language has no catalog: in English
    assert '<html lang="en">' in page.read_text(encoding="utf-8")


def test_the_index_numbers_follow_the_locale(tmp_path: Path) -> None:
    _, page = write_index(tmp_path, _unreported_rows(), "de")
    text = page_text(page.read_text(encoding="utf-8"))
    assert "0,912" in text and "1:05,5" in text and "1:07,25" in text


def test_the_index_review_column_speaks_too(toy_language: Catalog) -> None:
    row = _unreported_rows()[0].model_copy(update={"status": "reported", "reason": None, "report": "reports/cam1-0065"})
    reviews = ["awaiting review; due 2026-12-08 11:10 UTC", "overturned by Jane Doe", "report invalid: the seal is broken"]
    text = page_text(index_html([row.model_copy(update={"review": r}) for r in reviews], "xx"))
    assert f"{OPEN}{OPEN}awaiting review{CLOSE}; due 8 December 2026, 11:10 UTC{CLOSE}" in text
    assert f"{OPEN}{OPEN}overturned{CLOSE} by Jane Doe{CLOSE}" in text
    assert f"{OPEN}{OPEN}report invalid{CLOSE}: the seal is broken{CLOSE}" in text


def test_an_english_index_page_is_byte_for_byte_what_it_was(tmp_path: Path) -> None:
    """verify renders a batch's index.html again and compares bytes: pages of batches written
    before the index spoke other languages must come out the same (cells as auditor 0.x wrote them)."""
    row = _unreported_rows()[0].model_copy(update={
        "status": "reported", "reason": None, "report": "reports/cam1-0065", "score": 1234.5678,
        "review": "awaiting review; due 2026-12-08 11:10 UTC"})
    page = index_html([row])
    for cell in ('<html lang="en">', "<title>Batch index: 1 detection</title>", '<li class="reported">1 reported</li>',
                 '<td class="number">1234.568</td>', '<td class="time">1:05.5 – 1:07.25</td>',
                 '<td class="review">awaiting review; due 2026-12-08 11:10 UTC</td>'):
        assert cell in page, cell
