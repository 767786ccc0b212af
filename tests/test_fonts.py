"""The report's fonts ship with auditor: the same record renders to the same page text, at the same
positions and in the same embedded fonts, with the machine's fonts hidden from fontconfig."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.cli import DemoOutput

from auditor import fonts
from auditor.errors import ReportError
from auditor.evidence import load_record, read_artifacts
from auditor.quiet import QUIET_ENVIRONMENT
from auditor.report.pdf import ArtifactFetcher

RENDER = """
import sys
from pathlib import Path
from auditor.evidence import load_record
from auditor.report.pdf import render_pdf
folder = Path(sys.argv[1])
Path(sys.argv[2]).write_bytes(render_pdf(load_record(folder / "evidence.json"), folder))
"""
NO_FONTS_CONFIG = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig><cachedir>{cache}</cachedir></fontconfig>
"""


def _render(report: Path, out: Path, env: dict[str, str]) -> str:
    """Render the report's record to `out` in a new process; its stderr."""
    done = subprocess.run([sys.executable, "-c", RENDER, str(report), str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr


def _fonts(pdf: Path) -> list[tuple[str, str, str]]:
    """(name without subset tag, type, embedded) of every font in the PDF, as pdffonts lists them."""
    lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    rows = []
    for line in lines:
        name, rest = line.split(maxsplit=1)
        embedded = re.search(r"\b(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", rest)
        assert embedded is not None, line
        rows.append((re.sub(r"^[A-Z]{6}\+", "", name), rest[:17].strip(), embedded.group(1)))
    return sorted(rows)


def _text_boxes(pdf: Path) -> str:
    """Every word of every page with its box (pdftotext -bbox)."""
    return subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_a_record_renders_the_same_with_the_system_fonts_hidden(demo_output: DemoOutput, tmp_path: Path) -> None:
    config = tmp_path / "fonts.conf"
    config.write_text(NO_FONTS_CONFIG.format(cache=tmp_path / "fc-cache"))
    with_system, without = tmp_path / "system.pdf", tmp_path / "hidden.pdf"
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT}  # warnings shown
    assert "No fonts configured" not in _render(demo_output.report, with_system, env)
    hidden = _render(demo_output.report, without, {**env, "FONTCONFIG_FILE": str(config)})
    assert "No fonts configured in FontConfig" in hidden  # WeasyPrint's own word that the machine's fonts are hidden
    used = _fonts(with_system)
    assert used == _fonts(without)
    assert {name for name, _, _ in used} == {
        "Auditor-Sans", "Auditor-Sans-Bold", "Auditor-Sans-Italic", "Auditor-Mono", "LiberationSans"
    }
    assert all(embedded == "yes" for _, _, embedded in used)
    boxes = _text_boxes(with_system)
    assert boxes.count("<word ") > 1000 and "fight" in boxes
    assert boxes == _text_boxes(without)


def test_the_fetcher_serves_only_shipped_fonts(demo_output: DemoOutput) -> None:
    record = load_record(demo_output.report / "evidence.json")
    fetcher = ArtifactFetcher(read_artifacts(record, demo_output.report))
    served = fetcher.fetch("auditor-font:DejaVuSans.ttf")
    assert served.read() == (fonts.FONTS_DIR / "DejaVuSans.ttf").read_bytes()
    for url in ("auditor-font:../../../../etc/passwd", "auditor-font:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "auditor-font:LICENSE-DejaVu.txt"):
        with pytest.raises(ReportError, match="not a font shipped with auditor"):
            fetcher.fetch(url)


def test_every_shipped_font_has_its_licence_beside_it() -> None:
    shipped = {path.name for path in fonts.FONTS_DIR.glob("*.ttf")}
    assert shipped == fonts.SHIPPED_FONTS
    licences = {path.name: path.read_text() for path in fonts.FONTS_DIR.glob("LICENSE-*.txt")}
    assert "Bitstream Vera" in licences["LICENSE-DejaVu.txt"]
    assert "SIL OPEN FONT LICENSE Version 1.1" in licences["LICENSE-Liberation.txt"]
