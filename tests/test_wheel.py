"""A wheel built from the checkout works outside it: installed into a new environment in another
folder, `auditor demo` writes a signed report and `auditor verify` accepts it, with the templates,
the schema, the fonts and the demo model all read from inside the installed wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DATA = (
    "auditor/templates/report.html.j2", "auditor/templates/report.css", "auditor/templates/sections/summary.html.j2",
    "auditor/schema/evidence-record-v2.json", "auditor/data/demo_model/model.keras", "auditor/data/demo_model/model.json",
    "auditor/data/fonts/DejaVuSans.ttf", "auditor/data/fonts/LiberationSans-Regular.ttf",
    "auditor/data/fonts/LICENSE-Liberation.txt", "auditor/data/demo_profile.toml",
    "auditor/locale/de/LC_MESSAGES/auditor.po", "auditor/locale/fr/LC_MESSAGES/auditor.po",
    "auditor/templates/notice.html.j2",
)


def _run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, ROOT,
                 cwd=dist, env=dict(os.environ))
    assert built.returncode == 0, built.stderr
    (path,) = dist.glob("auditor-*.whl")
    return path


def test_the_wheel_holds_the_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGE_DATA) <= names
    assert not any(name.startswith(("tests/", "templates/")) for name in names)


def test_the_installed_wheel_runs_the_demo_and_verify_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=dict(os.environ)).returncode == 0
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The dependencies come from this environment (a path line: its .pth files, the editable
    # install of the checkout among them, are not read); auditor itself only from the wheel.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    installed = _run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp_path, env=env)
    assert installed.returncode == 0, installed.stderr
    where = _run(venv / "bin" / "python", "-c", "import auditor, auditor.report.html as r; print(auditor.__file__); "
                 "print(r.builtin_templates())", cwd=tmp_path, env=env)
    package, templates = where.stdout.split()
    assert Path(package).is_relative_to(site) and Path(templates) == site / "auditor" / "templates"
    demo = _run(venv / "bin" / "auditor", "demo", "--out", tmp_path / "demo", "--language", "fr", cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr
    report = tmp_path / "demo" / "report"
    assert (report / "report.pdf").is_file()
    assert '<html lang="fr">' in (report / "report.html").read_text(encoding="utf-8")  # the catalog came with the wheel
    verified = _run(venv / "bin" / "auditor", "verify", report, "--trust", tmp_path / "demo" / "demo-keys" / "root.cert.pem",
                    cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("VALID ") >= 4 and "INVALID" not in verified.stdout
