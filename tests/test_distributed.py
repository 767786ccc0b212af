"""A real distributed run (issue 23, item 6): a `dask scheduler` and two `dask worker` processes
over TCP on 127.0.0.1, the test's tmp folder as the storage they share, and `auditor batch
--scheduler tcp://127.0.0.1:PORT` on three short clips with the demo model. Its reports equal a
local run's (`--workers 1`) apart from ids, times and signatures. A worker SIGKILLed while it
runs a unit costs nothing: Dask runs the unit again on the other worker and every detection ends
with exactly one registered report. Distributed's log lines stay off stderr and the progress bar
(a terminal here) unless --debug. Each process is started as this interpreter's module (a
brand-new root has no .venv/bin on PATH) and killed and reaped at the end, whatever happened."""

from __future__ import annotations

import contextlib
import fcntl
import json
import operator
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from distributed import Client
from distributed.scheduler import KilledWorker, NoValidWorkerError
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities

from auditor.batch.executors import open_executor
from auditor.batch.inputs import collect_inputs
from auditor.batch.run import BatchSettings, run_batch
from auditor.batch.tasks import DetectorSpec, detector_for
from auditor.demo import demo_model_path
from auditor.quiet import QUIET_ENVIRONMENT
from auditor.signing.seal import SealSettings
from auditor.synthetic import make_clip
from auditor.video import write_video

LOOPBACK = "127.0.0.1"
CLIPS = (("fight", 43), ("fall", 42), ("fight", 45))  # 16 frames each: one window, one detection
# the costly checks are left out (they do not depend on where a unit runs: tests/test_batch.py
# compares them on a LocalCluster); motion and the cached sanity check stay in the records compared
CHEAP = ("--skip-check", "counterfactuals", "--skip-check", "faithfulness", "--skip-check", "persons")
BAR = r"batch .*?units[^\n]*"  # a frame of the progress bar, escape sequences removed
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")
# left out of the comparison: the report's id and time, and when and where the run got its sanity
# figures (the first run computes them, the next ones read them from the cache)
VARYING = ("report.report_id", "report.created_at", *(f"explanations.sanity.{k}" for k in ("computed_at", "host", "cache_file")))


@dataclass(frozen=True)
class Cluster:
    address: str  # tcp://127.0.0.1:PORT
    workers: dict[str, subprocess.Popen]  # worker address -> its process
    logs: Path


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The storage the coordinator and the workers share: footage, outputs, the workers' folders."""
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(scope="module")
def footage(shared: Path) -> Path:
    camera = shared / "footage" / "cam1"
    camera.mkdir(parents=True)
    for number, (label, seed) in enumerate(CLIPS):
        write_video(camera / f"clip{number}.avi", make_clip(label, seed).frames, 10.0)
    return camera.parent


@pytest.fixture(scope="module")
def cluster(shared: Path, sanity_cache: Path) -> Iterator[Cluster]:
    """A scheduler on a free port of 127.0.0.1 and two single-thread workers without nanny (a
    killed worker stays dead), each a process of its own, logging into `shared/logs`."""
    logs = shared / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen] = []
    try:
        scheduler_file = shared / "scheduler.json"
        _start(processes, logs / "scheduler.log", "distributed.cli.dask_scheduler", "--host", LOOPBACK, "--port", "0",
               "--no-dashboard", "--scheduler-file", str(scheduler_file))
        address = _scheduler_address(scheduler_file, processes[0], logs / "scheduler.log")
        workers = [
            _start(processes, logs / f"worker-{n}.log", "distributed.cli.dask_worker", address, "--nthreads", "1",
                   "--no-nanny", "--host", LOOPBACK, "--no-dashboard", "--name", f"worker-{n}",
                   "--local-directory", str(shared / f"worker-{n}"))
            for n in range(2)
        ]
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            by_pid = {pid: name for name, pid in client.run(os.getpid).items()}
        yield Cluster(address, {by_pid[process.pid]: process for process in workers}, logs)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: the whole group
        for process in processes:
            process.wait()


def _start(processes: list[subprocess.Popen], log: Path, module: str, *args: str) -> subprocess.Popen:
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", module, *args], stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=_loud())
    processes.append(process)
    return process


def _scheduler_address(scheduler_file: Path, scheduler: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scheduler.poll() is None:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (FileNotFoundError, ValueError, KeyError):  # not written yet, or half-written
            time.sleep(0.1)
    raise AssertionError(f"the scheduler did not start: {log.read_text()[-2000:]}")


def batch_args(footage: Path, out: Path, identities: Identities, *extra: str) -> list[str]:
    return ["batch", str(footage), "--model", str(demo_model_path()), "--out", str(out), "--keys",
            str(identities.seal_dir), *CHEAP, "--json", *extra]


def _loud() -> dict[str, str]:
    """This environment without auditor's quiet settings (a command must set them itself; the
    scheduler and workers log as they do by default)."""
    return {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT}


def batch_env() -> dict[str, str]:
    return _loud() | {"AUDITOR_KEY_PASSPHRASE": PASSPHRASE}


@pytest.fixture(scope="module")
def local_run(footage: Path, shared: Path, identities: Identities) -> Path:
    """The same batch in this machine's one process (`--workers 1`): what the cluster must equal."""
    out = shared / "local"
    started = time.monotonic()
    run = run_cli(*batch_args(footage, out, identities, "--workers", "1"), env=batch_env())
    assert run.returncode == 0, run.stderr
    print(f"local run (--workers 1): {time.monotonic() - started:.1f} s; {_summary(run.stdout)}")
    return out


def test_a_scheduler_and_two_workers_over_tcp_give_the_local_run_s_reports(
    cluster: Cluster, local_run: Path, footage: Path, shared: Path, identities: Identities, trust: Path
) -> None:
    out = shared / "distributed"
    started = time.monotonic()
    run = run_cli(*batch_args(footage, out, identities, "--scheduler", cluster.address), env=batch_env())
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no `distributed.` line, no traceback, nothing
    with Client(cluster.address, timeout="60s") as client:
        units = {name: info.hits + info.misses for name, info in client.run(detector_for.cache_info).items()}
    print(f"distributed run: {time.monotonic() - started:.1f} s; {_summary(run.stdout)}; units per worker {units}")
    assert sorted(units) == sorted(cluster.workers) and min(units.values()) >= 1  # both workers did work
    assert sum(units.values()) == 2 * len(CLIPS)  # a scan and a report per clip, each run once
    assert_same_result(local_run, out, len(CLIPS))
    assert run_cli("verify", str(out), "--trust", str(trust)).returncode == 0


def test_a_unit_s_result_is_let_go_as_soon_as_it_is_delivered(cluster: Cluster) -> None:
    """The scheduler keeps only undelivered units: a result kept on a worker after the coordinator
    had it was computed again when that worker died (distributed's own executor holds each unit
    while its caller holds the result's future; the scheduler then logged "lose already computed
    task(s), which will be recomputed elsewhere" for a report the coordinator had received)."""
    with open_executor(1, cluster.address) as executor, Client(cluster.address, timeout="60s") as watcher:
        before = set(watcher.who_has())
        delivered = executor.submit(operator.mul, 6, 7)
        assert delivered.result(timeout=60) == 42
        deadline = time.monotonic() + 10
        while set(watcher.who_has()) - before and time.monotonic() < deadline:  # the release travels to the scheduler
            time.sleep(0.05)
        assert not set(watcher.who_has()) - before, "the delivered unit is still held on a worker"


def test_a_worker_killed_while_it_runs_a_unit_loses_nothing_and_duplicates_nothing(
    cluster: Cluster, local_run: Path, footage: Path, shared: Path, identities: Identities, trust: Path
) -> None:
    out = shared / "killed"
    started = time.monotonic()
    with Client(cluster.address, timeout="60s") as watcher, _on_a_terminal(
        [sys.executable, "-m", "auditor", *batch_args(footage, out, identities, "--scheduler", cluster.address)],
        batch_env() | {"TERM": "xterm"}, shared / "killed-stdout.json",
    ) as batch:
        victim, units = _kill_a_busy_worker(cluster, watcher, out, batch.process)
        killed_at = time.monotonic() - started
        assert batch.process.wait(timeout=600) == 0, batch.stderr()
        assert victim not in watcher.scheduler_info()["workers"]
    terminal = batch.stderr()
    print(f"killed run: {victim} SIGKILLed at {killed_at:.1f} s while it held {units}; the batch ended after "
          f"{time.monotonic() - started:.1f} s; {_summary(batch.stdout.read_text())}")
    bars = re.findall(BAR, terminal)
    assert bars, terminal  # the progress bar was drawn
    print(f"the batch's terminal: the progress bar drawn {len(bars)} times, the last {bars[-1].strip()!r}; nothing else")
    assert "distributed" not in terminal and "Traceback" not in terminal, terminal
    assert re.sub(BAR, "", terminal).strip() == ""  # nor any other line
    assert f"Remove worker addr: {victim}" in (cluster.logs / "scheduler.log").read_text()  # the cluster's log has it
    assert_same_result(local_run, out, len(CLIPS))
    assert not (out / ".staging").exists()
    assert not [p.name for p in (out / "reports").iterdir() if p.name.startswith(".")]
    assert run_cli("verify", str(out), "--trust", str(trust)).returncode == 0


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (BrokenProcessPool(), "a worker process died (out of memory, or killed); run the same command again"),
        (KilledWorker("run_scan-1", SimpleNamespace(address="tcp://127.0.0.1:1"), 3),
         "Dask workers died while running it 4 times (out of memory, or killed; the scheduler's allowed-failures); "
         "run the same command again"),
        (NoValidWorkerError("run_scan-1", set(), set(), {}, 60.0),
         "no Dask worker was left to run it (the scheduler's no-workers-timeout); start workers and run the same "
         "command again"),
    ],
)
def test_a_unit_no_worker_could_finish_fails_saying_so_not_as_an_internal_error(
    error: Exception, reason: str, footage: Path, identities: Identities, tmp_path: Path
) -> None:
    """Dask gives up on a unit after its workers died `allowed-failures` + 1 times, or when no
    worker was left for `no-workers-timeout`; a local pool breaks when a process dies."""

    class Failing(Executor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
            future: Future = Future()
            future.set_exception(error)
            return future

    settings = BatchSettings(DetectorSpec(str(demo_model_path())))
    summary = run_batch(collect_inputs([footage]), tmp_path / "out", settings, SealSettings(identities.seal),
                        lambda: contextlib.nullcontext(Failing()))
    assert [row.reason for row in summary.rows] == [f"scan failed: {reason}"] * len(CLIPS)


def _kill_a_busy_worker(cluster: Cluster, watcher: Client, out: Path, batch: subprocess.Popen) -> tuple[str, list]:
    """Once the batch has registered its first report, SIGKILL a worker that holds a unit."""
    deadline = time.monotonic() + 300
    while not _registered(out, "report") and batch.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _registered(out, "report") and batch.poll() is None, "the batch ended before its first report"
    busy: dict[str, Any] = {}
    while not busy and batch.poll() is None and time.monotonic() < deadline:
        busy = {name: units for name, units in watcher.processing().items() if units}
        time.sleep(0 if busy else 0.05)
    assert busy, "no unit in flight after the first report: the kill would not interrupt any work"
    victim, units = next(iter(busy.items()))
    cluster.workers[victim].send_signal(signal.SIGKILL)
    cluster.workers[victim].wait()
    return victim, list(units)


def _registered(out: Path, kind: str) -> list[dict]:
    ledger = out / "ledger.jsonl"
    lines = ledger.read_bytes().split(b"\n")[:-1] if ledger.exists() else []  # complete lines only
    return [entry for entry in map(json.loads, lines) if entry["kind"] == kind]


def assert_same_result(local: Path, other: Path, detections: int) -> None:
    """The same scans and reports registered once each, records equal field by field apart from
    ids and times, the same arrays, the same pictures."""
    entries = [_registered(base, "scan") + _registered(base, "report") for base in (local, other)]
    for entry in entries[0] + entries[1]:
        for varying in ("previous", "recorded_at", "sequence"):
            entry.pop(varying)
    assert sorted(_unsigned(e) for e in entries[0]) == sorted(_unsigned(e) for e in entries[1])
    reports = [e for e in entries[1] if e["kind"] == "report"]
    assert len(reports) == len({e["key"] for e in reports}) == detections  # no duplicate, no loss
    folders = [sorted(p.name for p in (base / "reports").iterdir()) for base in (local, other)]
    assert folders[0] == folders[1] == sorted(e["path"].removeprefix("reports/") for e in reports)
    for name in folders[0]:
        records = [_fields(json.loads((base / "reports" / name / "evidence.json").read_text())) for base in (local, other)]
        assert sorted(records[0]) == sorted(records[1])
        for field in records[0]:
            assert records[0][field] == records[1][field], f"{name}: {field}"
        arrays = [np.load(base / "reports" / name / "arrays.npz") for base in (local, other)]
        assert sorted(arrays[0].files) == sorted(arrays[1].files)
        for key in arrays[0].files:
            assert np.array_equal(arrays[0][key], arrays[1][key]), f"{name}: arrays.npz#{key}"


def _unsigned(entry: dict) -> str:
    """A ledger entry with only the hashes of files that hold no signature, id or time (arrays, images)."""
    files = {name: digest if name == "arrays.npz" or name.startswith("images/") else "signed or dated"
             for name, digest in entry["files"].items()}
    return json.dumps({**entry, "files": files}, sort_keys=True)


def _fields(record: dict, prefix: str = "") -> dict[str, Any]:
    """The record as {dotted field: value}, ids and times left out."""
    fields: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, dict):
            fields |= _fields(value, f"{prefix}{name}.")
        elif f"{prefix}{name}" not in VARYING:
            fields[f"{prefix}{name}"] = value
    return fields


def _summary(stdout: str) -> str:
    summary = json.loads(stdout)
    return ", ".join(f"{summary[k]} {k}" for k in ("detections", "reported", "failed", "pending", "skipped_as_done"))


@dataclass
class TerminalRun:
    process: subprocess.Popen
    stdout: Path
    output: bytearray

    def stderr(self) -> str:
        """What the command drew on the terminal so far, escape sequences removed, a line per redraw."""
        return ANSI.sub(b"", bytes(self.output)).decode(errors="replace").replace("\r", "\n")


@contextlib.contextmanager
def _on_a_terminal(command: list[str], env: dict[str, str], stdout: Path) -> Iterator[TerminalRun]:
    """Run `command` with stderr on a pseudo-terminal (as a user sees it: with the progress bar)
    and stdout into a file; killed if still running on the way out, and reaped."""
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    with stdout.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=terminal, stdin=subprocess.DEVNULL, env=env)
    os.close(terminal)
    run = TerminalRun(process, stdout, bytearray())
    reader = threading.Thread(target=_read_terminal, args=(master, run.output), daemon=True)
    reader.start()
    try:
        yield run
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        reader.join(timeout=10)


def _read_terminal(master: int, into: bytearray) -> None:
    try:
        while chunk := os.read(master, 65536):
            into += chunk
    except OSError:  # EIO: the last process holding the terminal ended
        pass
    finally:
        os.close(master)
