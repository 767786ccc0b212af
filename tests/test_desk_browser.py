"""`auditor desk` in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver (Selenium Manager never runs: nothing is downloaded). The desk runs as the
officer runs it, a subprocess on a batch made by the demo detector under a profile that requires a
second verifier. Bob reviews two reports by keyboard: a first review (confirm), then a blind
second review (overturn) of a report Åsa already overturned by the command line. Then the PDFs
verify with their new revisions, page 1 shows the outcome, an altered report is refused, and a
request without the token, or for another host name, gets 403. Prints the officer's round trip
(open -> decide -> next). With AUDITOR_DESK_SCREENSHOTS=DIR the screenshots are kept there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities
from fixtures.review_batch import review_batch
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FIRST_REASON = "Nobody is struck: the raised arm is a wave, as the whole clip shows."
CONFIRM_REASON = "Two people exchange blows at the left edge; I watched the whole clip."
OVERTURN_REASON = "The two people part without a blow; the fall is a stumble over the bag."
WAIT = 60  # seconds: a decision signs a PDF revision and seals the ledger


@pytest.fixture(scope="module")
def batch(identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path]:
    """A batch folder with the reports of two incidents (demo detector), under a profile that
    requires a second verifier, and Bob, a second reviewer under the same root."""
    out, reports, bob = review_batch(tmp_path_factory.mktemp("desk-browser"), identities, _env())
    assert len(reports) == 2
    return out, reports, bob


def _env(**more: str) -> dict[str, str]:
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, **more}


@pytest.fixture(scope="module")
def desk(batch: tuple[Path, list[Path], Path], identities: Identities) -> Iterator[tuple[str, int]]:
    """`auditor desk OUT --as BOB` as a subprocess; its printed URL and its process id. Åsa's
    review of the second report is made first, by the command line."""
    out, reports, bob = batch
    first = run_cli("review", str(reports[1]), "--as", str(identities.seal_dir.parent / "reviewer"), "--decision",
                    "overturn", "--reason", FIRST_REASON, "--keys", str(identities.seal_dir),
                    env=_env(AUDITOR_REVIEWER_PASSPHRASE=PASSPHRASE))
    assert first.returncode == 0, first.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor", "desk", str(out), "--as", str(bob), "--trust",
         str(identities.seal_dir / "root.cert.pem"), "--keys", str(identities.seal_dir), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), stdin=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "auditor desk: serving" in line, process.stderr.read() if process.stderr else ""
        yield line.split(" at ", 1)[1].strip(), process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    def no_manager(*args: object, **kwargs: object) -> None:
        raise AssertionError("Selenium Manager must not run (it downloads browsers and drivers)")

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-default-apps", "--autoplay-policy=no-user-gesture-required",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    original, SeleniumManager.binary_paths = SeleniumManager.binary_paths, no_manager  # type: ignore[method-assign]
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    finally:
        SeleniumManager.binary_paths = original  # type: ignore[method-assign]
    yield driver
    driver.quit()


def shot(driver: WebDriver, name: str, tmp_path: Path) -> None:
    """A screenshot in the test's folder, and in $AUDITOR_DESK_SCREENSHOTS when set."""
    folders = [tmp_path, *([Path(os.environ["AUDITOR_DESK_SCREENSHOTS"])] if os.environ.get("AUDITOR_DESK_SCREENSHOTS") else [])]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(folder / f"{name}.png"))


def wait_for(driver: WebDriver, css: str) -> None:
    """Wait until the page shows `css`; on a timeout, fail with what the page says."""
    try:
        WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
    except TimeoutException:
        pytest.fail(f"no {css} at {driver.current_url}: {driver.find_element(By.TAG_NAME, 'body').text[:2000]}")


def press(driver: WebDriver, *keys: str) -> None:
    """Keys typed on the page itself (no field focused)."""
    webdriver.ActionChains(driver).send_keys(*keys).perform()


def selected_row(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#queue tr.selected").get_attribute("data-href") or ""


def decide(driver: WebDriver, decision: str, reasons: str, first_in_session: bool, tmp_path: Path) -> float:
    """Fill the decision form by keyboard and submit it with Enter; the seconds from Enter until
    the page says the decision is signed."""
    driver.find_element(By.ID, f"decision-{decision}").send_keys(Keys.SPACE)
    driver.find_element(By.ID, "reasons").send_keys(reasons)
    driver.find_element(By.ID, "considered").send_keys("the clip, twice; the key frames")
    driver.find_element(By.ID, "bias").send_keys(Keys.SPACE)
    if first_in_session:
        driver.find_element(By.ID, "passphrase").send_keys(PASSPHRASE)
    else:
        assert not driver.find_elements(By.ID, "passphrase")  # asked once per session
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", driver.find_element(By.ID, "sign"))
    shot(driver, f"decision-{decision}", tmp_path)
    start = time.perf_counter()
    driver.find_element(By.ID, "sign").send_keys(Keys.ENTER)
    wait_for(driver, "#saved")
    return time.perf_counter() - start


def test_an_officer_reviews_two_reports_by_keyboard(
    desk: tuple[str, int], browser: WebDriver, batch: tuple[Path, list[Path], Path], identities: Identities, tmp_path: Path,
) -> None:
    url, pid = desk
    out, reports, _ = batch
    first, second = (f"/report/{r.name}" for r in reports)
    browser.get(url)
    wait_for(browser, "#queue tr.row")
    assert "token=" not in browser.current_url  # the token left the address bar for a cookie
    assert len(browser.find_elements(By.CSS_SELECTOR, "#queue tr.row")) == 2
    assert selected_row(browser) == first  # awaiting review comes before awaiting second review
    press(browser, "j")
    assert selected_row(browser) == second
    press(browser, "k")
    assert selected_row(browser) == first
    shot(browser, "queue", tmp_path)

    start = time.perf_counter()
    press(browser, Keys.ENTER)
    wait_for(browser, "#decision")
    opening = time.perf_counter() - start
    assert browser.current_url.endswith(first)
    check_clip(browser, json.loads((reports[0] / "evidence.json").read_text())["clip"], tmp_path)
    shot(browser, "report", tmp_path)
    signing = decide(browser, "confirm", CONFIRM_REASON, first_in_session=True, tmp_path=tmp_path)
    assert browser.find_element(By.ID, "state").text.startswith("awaiting second review")
    shot(browser, "decision-saved", tmp_path)
    start = time.perf_counter()
    browser.find_element(By.ID, "next-after-save").send_keys(Keys.ENTER)
    wait_for(browser, "#decision")
    following = time.perf_counter() - start
    assert browser.current_url.endswith(second)
    print(f"\nofficer round trip (the desk's share, typing and watching aside): open {opening:.2f} s, "
          f"decide (sign + seal + show) {signing:.2f} s, next {following:.2f} s; total {opening + signing + following:.2f} s")

    page = browser.page_source
    assert browser.find_elements(By.ID, "blind") and FIRST_REASON not in page and "Łukasiewicz" not in page
    assert "overturn by" not in page and browser.find_element(By.ID, "pdf").text == "Open the sealed PDF"
    shot(browser, "blind-review", tmp_path)
    decide(browser, "overturn", OVERTURN_REASON, first_in_session=False, tmp_path=tmp_path)
    saved = browser.find_element(By.ID, "saved").text
    assert FIRST_REASON in saved and OVERTURN_REASON in saved and "Łukasiewicz" in saved and "Bob Example" in saved
    assert browser.find_element(By.ID, "state").text.startswith("overturned by")
    shot(browser, "blind-review-saved", tmp_path)

    check = run_cli("verify", str(out), "--trust", str(identities.seal_dir / "root.cert.pem"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert [_signatures(r / "report.pdf") for r in reports] == [2, 3]  # seal + reviews
    assert [json.loads((r / "review-1.json").read_text())["review"]["decision"] for r in reports] == ["confirm", "overturn"]
    assert json.loads((reports[1] / "review-2.json").read_text())["review"]["reviewer"] == "Bob Example"
    assert "Confirmed by Bob Example (Supervisor)" in page_one(reports[0] / "report.pdf")
    second = page_one(reports[1] / "report.pdf")
    assert "Overturned by Åsa Łukasiewicz (Station supervisor)" in second
    assert "Second review: overturned by Bob Example (Supervisor)" in second
    assert _listens_on_loopback_only(pid)


def test_an_altered_report_is_refused_and_nothing_answers_without_the_token(
    desk: tuple[str, int], browser: WebDriver, batch: tuple[Path, list[Path], Path], tmp_path: Path,
) -> None:
    url, _ = desk
    _, reports, _ = batch
    root = url.split("/?", 1)[0]
    for request in (urllib.request.Request(root + "/"), urllib.request.Request(root + f"/report/{reports[0].name}/pdf"),
                    urllib.request.Request(url, headers={"Host": "attacker.example"})):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403 and refused.value.read() == b""
    record = reports[0] / "evidence.json"
    record.write_bytes(record.read_bytes().replace(b'"flagged": true', b'"flagged": false', 1))
    browser.get(root + "/")
    wait_for(browser, "#queue tr.broken")
    assert "report invalid" in browser.find_element(By.CSS_SELECTOR, "#queue tr.broken").text
    browser.get(root + f"/report/{reports[0].name}")
    wait_for(browser, "#refused")
    assert not browser.find_elements(By.ID, "decision")
    shot(browser, "altered", tmp_path)


def check_clip(driver: WebDriver, clip: dict[str, object], tmp_path: Path) -> None:
    """The clip plays in Chromium; a key-frame marker, pressed with Enter, seeks to its frame; the
    heatmap toggle swaps the video and keeps the time."""
    key_frames = clip["key_frames"]
    assert isinstance(key_frames, list) and key_frames
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(
        "const v = document.getElementById('clip'); return v.readyState >= 2 && v.videoWidth > 0"))
    markers = driver.find_elements(By.CSS_SELECTOR, "#timeline .marker")
    assert len(markers) == len(key_frames)
    target = key_frames[-1]["seconds"]
    markers[-1].send_keys(Keys.ENTER)
    at = "const v = document.getElementById('clip'); return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - arguments[0]) < 0.02"
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(at, target))
    driver.find_element(By.ID, "show-heatmap").send_keys(Keys.ENTER)
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(at, target) and d.execute_script(
        "return document.getElementById('clip').currentSrc.endsWith(arguments[0])", clip["heatmap_path"]))
    assert driver.find_element(By.ID, "show-heatmap").get_attribute("aria-pressed") == "true"
    shot(driver, "report-heatmap", tmp_path)
    driver.find_element(By.ID, "show-plain").send_keys(Keys.ENTER)
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(at, target) and d.execute_script(
        "return document.getElementById('clip').currentSrc.endsWith(arguments[0])", clip["path"]))


def page_one(pdf: Path) -> str:
    """The text of page 1, as pdftotext (poppler) reads it, spaces normalised."""
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def _signatures(pdf: Path) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    with open(pdf, "rb") as handle:
        return len(PdfFileReader(handle).embedded_signatures)


def _listens_on_loopback_only(pid: int) -> bool:
    sockets = [c for c in psutil.Process(pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    return bool(sockets) and all(c.laddr.ip == "127.0.0.1" for c in sockets)
