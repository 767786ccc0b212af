"""Time and peak memory of `auditor verify` / `auditor render` on the hostile inputs of security
issue 10, finding 9 (tests/fixtures/hostile.py) and issue 21, item 14 (signatures, form fields and
field values: tests/fixtures/hostile_forms.py), beside controls on an untouched report.

Seals a demo report with the code under test (`auditor demo`, about 15 s; or --report, a demo
output of the same code), builds the inputs from it and runs each command in a subprocess as a user
would, with PYTHONPATH=--code (default: this repository), killed after --timeout seconds. Per case:
wall time, the child's peak RSS (wait4, also when killed), exit code, whether stderr holds a
traceback, its first line, and the 1-minute load average at the start (the machine is shared).

    python benchmarks/bench_hostile.py [--code DIR] [--timeout 90] [--keep DIR] [--report DEMO_OUT]
                                       [--only SUBSTRING ...] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fixtures import hostile, hostile_forms  # noqa: E402 -- tests/ is put on the path just above

TRACEBACK = "Traceback (most recent call last):"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path, Path], Path]  # (sealed report folder, case folder) -> path to hand over
    command: str  # "verify" or "render"


@dataclass(frozen=True)
class Result:
    case: str
    command: str
    seconds: float
    peak_mb: float
    exit: str
    traceback: bool
    stderr: str  # first line
    stderr_last: str
    load: float


def p7s_file(count: int) -> Callable[[Path, Path], Path]:
    def build(report: Path, out: Path) -> Path:
        out.mkdir(parents=True)
        shutil.copy2(report / "evidence.json", out / "evidence.json")
        hostile.p7s_with_extra_certificates(report / "evidence.json.p7s", out / "evidence.json.p7s", count)
        return out / "evidence.json"
    return build


def p7s_folder(count: int) -> Callable[[Path, Path], Path]:
    def build(report: Path, out: Path) -> Path:
        shutil.copytree(report, out)
        hostile.p7s_with_extra_certificates(report / "evidence.json.p7s", out / "evidence.json.p7s", count)
        return out
    return build


def pdf_file(generator: Callable[[Path, Path], Path]) -> Callable[[Path, Path], Path]:
    return lambda report, out: generator(report / "report.pdf", out / "report.pdf")


CASES = (
    Case("control: untouched folder", lambda report, out: report, "verify"),
    Case("p7s +800 certs, file", p7s_file(800), "verify"),
    Case("p7s +800 certs, folder", p7s_folder(800), "verify"),
    Case("p7s +3000 certs, file", p7s_file(3000), "verify"),
    Case("p7s +3000 certs, folder", p7s_folder(3000), "verify"),
    Case("pdf 5000 revisions", pdf_file(hostile.pdf_with_revisions), "verify"),
    Case("pdf xref /Size 3M", pdf_file(hostile.pdf_with_huge_xref), "verify"),
    Case("pdf 62 signatures", pdf_file(hostile_forms.pdf_with_signatures), "verify"),
    Case("pdf 8 revs x 3000 fields", pdf_file(hostile_forms.pdf_with_empty_fields), "verify"),
    Case("pdf 40 MiB field value", pdf_file(hostile_forms.pdf_with_field_value), "verify"),
    Case("pdf 40 MiB packed value", pdf_file(hostile_forms.pdf_with_packed_field_value), "verify"),
    Case("control: render untouched", lambda report, out: report / "evidence.json", "render"),
    Case("render 100k-char token", hostile.record_with_long_token, "render"),
    Case("render 100k frames", hostile.record_with_many_frames, "render"),
    Case("render 100k frame indices", lambda report, out: hostile.record_with_many_frames(report, out, summaries=False),
         "render"),
    Case("render 100k-deep JSON", hostile.record_with_deep_nesting, "render"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--code", type=Path, default=REPO, help="source tree to run (PYTHONPATH)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds before a child is killed")
    parser.add_argument("--keep", type=Path, help="write the inputs and outputs here and keep them")
    parser.add_argument("--report", type=Path, help="existing `auditor demo --out` folder to start from")
    parser.add_argument("--only", action="append", default=[], help="run only cases whose name contains this")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    code = args.code.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        # `python -m auditor` puts its working folder first on sys.path: every command runs from --code
        env = {**os.environ, "PYTHONPATH": str(code), "AUDITOR_HOME": str(work / "home")}
        demo = args.report.resolve() if args.report else make_demo(work / "demo", env)
        meta = describe(code, demo)
        cases = [c for c in CASES if not args.only or any(part in c.name for part in args.only)]
        render_flags = ["--unverified-source"] if accepts_unverified_source(env) else []
        results = [run_case(case, demo, work, env, args.timeout, render_flags) for case in cases]
    if args.json:
        print(json.dumps({**meta, "results": [asdict(r) for r in results]}, indent=2))
    else:
        print_table(meta, results)


def make_demo(out: Path, env: dict[str, str]) -> Path:
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "auditor", "demo", "--out", str(out)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=env["PYTHONPATH"])
    if done.returncode:
        sys.exit(f"`auditor demo` failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return out


def describe(code: Path, demo: Path) -> dict[str, object]:
    head = git(code, "log", "-1", "--format=%h %s")[:72]
    dirty = git(code, "status", "--porcelain", "--untracked-files=no")
    return {
        "code": str(code),
        "commit": head + (" (+ uncommitted changes)" if dirty else ""),
        "report": str(demo / "report"),
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False).stdout.strip()


def run_case(
    case: Case, demo: Path, work: Path, env: dict[str, str], timeout: float, render_flags: list[str]
) -> Result:
    folder = work / slug(case.name)
    shutil.rmtree(folder, ignore_errors=True)
    target = build_apart(case, demo / "report", folder)
    if case.command == "verify":
        argv = ["verify", str(target), "--trust", str(demo / "demo-keys" / "root.cert.pem")]
    else:
        rendered = folder.with_name(folder.name + "-rendered")
        shutil.rmtree(rendered, ignore_errors=True)
        argv = ["render", str(target), "--out", str(rendered), "--no-sign", *render_flags]
    load = os.getloadavg()[0]
    seconds, peak_kb, code, stderr = measure([sys.executable, "-m", "auditor", *argv], env, timeout, folder)
    lines = [line for line in stderr.splitlines() if line.strip()]
    shown = "FOLDER" if target.is_dir() else target.name
    return Result(
        case=case.name, command=" ".join([case.command, shown, *(render_flags if case.command == "render" else [])]),
        seconds=round(seconds, 2), peak_mb=round(peak_kb / 1024, 1),
        exit="killed (timeout)" if code is None else str(code), traceback=TRACEBACK in stderr,
        stderr=lines[0] if lines else "", stderr_last=lines[-1] if lines else "", load=round(load, 2),
    )


def build_apart(case: Case, report: Path, folder: Path) -> Path:
    """The case's input, built in a child process: a command starts as a fork of this process and
    its peak RSS counts the memory this one holds then, so the builders must not grow it."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=lambda: send.send(case.build(report, folder)))
    child.start()
    send.close()
    try:
        target: Path = receive.recv()
    except EOFError:
        sys.exit(f"building the input of {case.name!r} failed (exit {child.exitcode}); see above")
    finally:
        child.join()
    return target


def measure(argv: list[str], env: dict[str, str], timeout: float, logs: Path) -> tuple[float, int, int | None, str]:
    """Wall time, peak RSS in kB (from wait4, also when killed), exit code (None when killed at
    the timeout) and stderr of one child; its output is kept in `logs`.stdout and .stderr."""
    out_path, err_path = logs.with_name(logs.name + ".stdout"), logs.with_name(logs.name + ".stderr")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=err, start_new_session=True, cwd=env["PYTHONPATH"])
        killed = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.perf_counter() - start > timeout:
                os.killpg(child.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.02)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return seconds, usage.ru_maxrss, None if killed else child.returncode, err_path.read_text(errors="replace")


def accepts_unverified_source(env: dict[str, str]) -> bool:
    argv = [sys.executable, "-m", "auditor", "render", "--help"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=env["PYTHONPATH"])
    return "--unverified-source" in done.stdout


def slug(name: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split())


def print_table(meta: dict[str, object], results: list[Result]) -> None:
    for key, value in meta.items():
        print(f"{key + ':':9s} {value}")
    header = (f"{'case':26s} {'command':41s} {'wall s':>7s} {'peak MB':>8s} {'exit':>16s} {'traceback':>9s} "
              f"{'load':>5s}  stderr (first line)")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.case:26s} {r.command:41s} {r.seconds:7.1f} {r.peak_mb:8.0f} {r.exit:>16s} "
              f"{'yes' if r.traceback else 'no':>9s} {r.load:5.2f}  {r.stderr[:100]}"
              + (f" … {r.stderr_last[:100]}" if r.traceback else ""))


if __name__ == "__main__":
    main()
