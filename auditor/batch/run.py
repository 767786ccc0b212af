"""The coordinating process of a batch: hands scans and reports to workers, signs what they
stage, moves each report folder into place, registers it in the ledger and keeps the index.

Resumable by construction. A unit of work (a scan, a report) has a key (`inputs.unit_key`); the
ledger holds the keys of finished units, so running the same command again skips them, and a
unit listed twice in one run is done once. Each unit is registered as soon as it finishes, with
any number of workers. A report folder appears under `OUT/reports/` only signed and complete (one
rename), and is registered right after: a run killed in between leaves a folder that the next
run registers once it verifies and its record is this report's (video, model, camera, window,
class). Staging folders are removed after the workers have stopped, and again when the next run
starts. Only this process writes the ledger and the index, and an exclusive lock keeps a second
batch out of the same folder. The seal checkpoints the ledger (`batch.sealing`) now and then
and at the end of every run; a witness folder, if given, gets a copy of each checkpoint. The batch never decodes a video other than the one it hashed
(`auditor.video.held_video`): a file changed since its scan is refused, not reported.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditor.archive import IndexRow, Ledger, LedgerEntry, registered_row
from auditor.archive.chain import REPORTS_DIR, SCANS_DIR, STAGING_DIR
from auditor.archive.index import INDEX_CSV
from auditor.batch.executors import OpenExecutor, lost_worker, open_executor, units_at_once
from auditor.batch.failures import disk_full
from auditor.batch.folder import locked
from auditor.batch.inputs import BatchInputs, VideoInput, folder_key, model_key, unit_key
from auditor.batch.rows import (
    detection_row,
    failed_row,
    folder_name,
    not_reportable,
    other_report,
    record_row,
    request_row,
    safe,
)
from auditor.batch.sealing import Sealer
from auditor.batch.tasks import DetectorSpec, ReportTask, ScanTask, StagedReport, run_report, run_scan
from auditor.desk.index import refresh_index
from auditor.desk.reviews import VerifiedFolders
from auditor.errors import ArchiveError, AuditorError, VideoError
from auditor.evidence import EvidenceRecord, SealInfo
from auditor.files import atomic_write_text, sha256_file
from auditor.keys import SigningIdentity
from auditor.names import RECORD_NAME
from auditor.pipeline import ReportOptions
from auditor.scan.detections import Detection, detections_jsonl
from auditor.scan.requests import BadRow, ReportRequest, request_for
from auditor.scan.sliding import ScanResult, ScanSettings
from auditor.signing.seal import SealSettings, seal_fields, sign_report_folder
from auditor.verify import TrustAnchors, verify_folder
from auditor.verify.batch_index import reviews_of
from auditor.video import video_sha256

log = logging.getLogger(__name__)
BatchProgress = Callable[[int, int], None]  # (units finished, units known)
Unit = tuple[Callable, object, tuple[str, Any]]  # (what a worker runs, its task, what the coordinator does with the result)


@dataclass(frozen=True)
class BatchSettings:
    """The detector, how videos are scanned, and how reports are written."""

    spec: DetectorSpec
    scan: ScanSettings = field(default_factory=ScanSettings)
    report: ReportOptions = field(default_factory=ReportOptions)


@dataclass
class BatchSummary:
    """What a batch run ended with: every detection's row, and how much was already done."""

    out: Path
    rows: list[IndexRow]
    skipped: int
    passing: int = 0  # failed rows whose cause may pass (a lost worker, a full disk): a rerun may report them

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)

    def as_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "detections": len(self.rows),
            "reported": self.count("reported"),
            "failed": self.count("failed"),
            "pending": self.count("pending"),
            "skipped_as_done": self.skipped,
            "failed_for_a_passing_reason": self.passing,
            "index": str(self.out / INDEX_CSV),
            "rows": [row.model_dump(mode="json") for row in self.rows],
        }


def run_batch(
    inputs: BatchInputs,
    out: Path,
    settings: BatchSettings,
    seal: SealSettings,
    executor: OpenExecutor = open_executor,
    progress: BatchProgress | None = None,
    witness: Path | None = None,
) -> BatchSummary:
    """Scan every video, report every detection and request, write the index of `out`, and seal
    its ledger (a copy of each checkpoint into `witness`, if given). `executor` opens where the
    units run (`open_executor` with its arguments bound); it is opened once `out` is locked and
    left, its workers stopped, before the staging area is removed."""
    if seal.identity is None:
        raise ArchiveError("a batch writes signed reports only; set up a seal with `auditor keys init`")
    out = Path(out).absolute()
    with locked(out), executor() as units:
        coordinator = _Coordinator(out, settings, seal, units, progress, witness)
        return coordinator.run(inputs)


class _Coordinator:
    def __init__(
        self, out: Path, settings: BatchSettings, seal: SealSettings, executor: Executor,
        progress: BatchProgress | None, witness: Path | None,
    ):
        self.out, self.settings, self.seal, self.executor = out, settings, seal, executor
        self.identity: SigningIdentity = seal.identity  # type: ignore[assignment]
        self.progress = progress
        self.seal_info = SealInfo(**seal_fields(self.identity))
        self.verified = VerifiedFolders(TrustAnchors((self.identity.root,), "this batch's seal root"))
        self.ledger = Ledger(out)
        self.sealer = Sealer(self.ledger, self.identity, seal.tsa_url, witness)
        if self.ledger.drop_torn_tail():
            log.warning("dropped the last ledger line of %s: its append was interrupted", out)
        spec = settings.spec
        self.model_sha256 = sha256_file(Path(spec.model_path))
        self.model_key = model_key(self.model_sha256, Path(spec.model_path), spec.class_names, spec.layer)
        self.report_base = unit_key(
            model=self.model_key, profile=settings.report.profile.model_dump(mode="json"),
            frame_importance=list(settings.report.frame_importance), templates=folder_key(settings.report.templates_dir),
            checks=settings.report.checks.enabled(),
        )
        self.done = {(entry.kind, entry.key): entry for entry in self.ledger.entries()}
        self.rows: dict[str, IndexRow] = {}
        self.requests: dict[str, ReportRequest] = {}
        self.scans: set[str] = set()  # the scan keys of this run
        self.hashes: dict[Path, str] = {}
        self.unreadable: dict[Path, str] = {}  # videos named by logs that cannot be hashed, and why
        self.passing: set[str] = set()  # the row keys of units that failed for a reason that may pass
        self.queue: deque[Unit] = deque()
        self.at_once = units_at_once(executor)
        self.pending: dict[Future, tuple[str, Any]] = {}
        self.skipped = self.finished = 0

    def run(self, inputs: BatchInputs) -> BatchSummary:
        try:
            summary = self._run(inputs)
        except BaseException:
            self.sealer.on_the_way_out()
            raise
        self.sealer.seal()
        return summary

    def _run(self, inputs: BatchInputs) -> BatchSummary:
        for video in inputs.videos:
            self._start_scan(video)
        for request in inputs.requests:
            if isinstance(request, BadRow):
                self._bad_row(request)
            else:
                self._start_report(request, request_row(request, self._source(request.source_id)))
        self._write_index()
        while self.queue or self.pending:
            self._hand_out()
            finished, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
            for future in finished:
                self._finish(future, *self.pending.pop(future))
            self._write_index()
        rows = sorted(self.rows.values(), key=lambda r: (r.video, r.start_seconds or 0.0, r.detection_id))
        passing = sum(self.rows[key].status == "failed" for key in self.passing)
        return BatchSummary(self.out, rows, self.skipped, passing)

    def _source(self, given: str | None) -> str:
        """The source id a report of this batch states (`evidence.build`): the one given (by a camera
        folder, a log row, a detection), else the profile's; empty when neither names one."""
        return given or self.settings.report.profile.source_id or ""

    # scans

    def _start_scan(self, video: VideoInput) -> None:
        if video.problem is not None:
            self._scan_failed(video, "", video.problem)
            return
        try:
            video_hash = video_sha256(video.path)
        except VideoError as exc:
            self._scan_failed(video, "", str(exc))
            return
        key = unit_key(
            kind="scan", video=video_hash, source_id=video.source_id, model=self.model_key, scan=self.settings.scan.model_dump()
        )
        if key in self.scans:  # the same bytes of the same camera, listed again
            return
        self.scans.add(key)
        entry = self.done.get(("scan", key))
        if entry is None:
            task = ScanTask(self.settings.spec, str(video.path.absolute()), video_hash, video.source_id, self.settings.scan)
            self._submit(run_scan, task, ("scan", (video, key, video_hash)))
            return
        self.skipped += 1
        try:
            detections = self._registered_detections(entry)
        except ArchiveError as exc:
            self._scan_failed(video, video_hash, str(exc))
            return
        self._start_reports(detections, video, video_hash)

    def _registered_detections(self, entry: LedgerEntry) -> list[Detection]:
        """The detections of a finished scan, from its registered file (checked against the ledger)."""
        path = self.out / entry.path
        if not path.is_file() or {path.name: sha256_file(path)} != entry.files:
            raise ArchiveError(f"{entry.path} changed since the ledger registered it; run `auditor verify {self.out}`")
        try:
            return [Detection.model_validate_json(line) for line in path.read_bytes().splitlines() if line.strip()]
        except ValidationError as exc:
            raise ArchiveError(f"{entry.path} holds no detections auditor reads; run `auditor verify {self.out}`") from exc

    def _scan_done(self, video: VideoInput, key: str, result: ScanResult) -> None:
        path = self.out / SCANS_DIR / f"{key[:32]}.jsonl"
        atomic_write_text(path, detections_jsonl(result.detections))
        stopped = result.decode_end.describe() if result.decode_end and not result.decode_end.complete else None
        self.ledger.append("scan", key, path, {
            "video": video.path.name, "video_sha256": result.video_sha256, "source_id": video.source_id,
            "frames": result.frames, "windows": result.windows, "detections": len(result.detections),
            "decoding_stopped": stopped,
        })
        self.sealer.now_and_then()
        self._start_reports(result.detections, video, result.video_sha256)

    def _scan_failed(self, video: VideoInput, video_sha256: str, reason: str, passing: bool = False) -> None:
        key = unit_key(kind="scan-failure", video=str(video.path))
        self.rows[key] = failed_row(
            f"scan-{key[:11]}", safe(self._source(video.source_id)), safe(video.path.name), f"scan failed: {reason}",
            video_sha256,
        )
        self._note_passing(key, passing)

    def _bad_row(self, bad: BadRow) -> None:
        key = unit_key(kind="bad-row", log=str(bad.log), line=bad.line)
        self.rows[key] = failed_row(f"line-{bad.line:06d}-{key[:8]}", "", safe(bad.log.name), str(bad))

    def _start_reports(self, detections: list[Detection], video: VideoInput, video_sha256: str) -> None:
        """Start the reports of a scan of this run (`video_sha256`: the video's hash, computed this run)."""
        for detection in detections:
            request = replace(request_for(detection, video.path.parent), video=video.path)
            self._start_report(request, detection_row(detection, safe(self._source(detection.source_id))), video_sha256)

    # reports

    def _start_report(self, request: ReportRequest, row: IndexRow, video_sha256: str | None = None) -> None:
        """Start one report; a video named by a log or detections file is hashed here (once per file)."""
        video_sha256 = video_sha256 or self._hash(request.video)
        key = unit_key(
            kind="report", base=self.report_base, video=video_sha256 or str(request.video), start=request.start,
            at=request.at, class_name=request.class_name, source_id=request.source_id,
        )
        if key in self.rows:  # listed again (a duplicate row, or a log row for a scanned detection)
            return
        entry = self.done.get(("report", key))
        if entry is not None:
            self.skipped += 1
            self.rows[key] = registered_row(entry.facts.get("row"), entry.path)
            return
        self.rows[key] = row.model_copy(update={"detection_id": key[:16]})
        self.requests[key] = request
        if video_sha256 is None:
            self._report_failed(key, self.unreadable[request.video])
            return
        problem = not_reportable(request, video_sha256, self.model_sha256)
        if problem is not None:
            self._report_failed(key, problem)
            return
        final = self._final_folder(key, request)
        if os.path.lexists(final):
            self._adopt(key, final, video_sha256)
            return
        task = ReportTask(
            self.settings.spec, key, request, video_sha256, self.settings.report, self.seal_info, str(self.out / STAGING_DIR)
        )
        self._submit(run_report, task, ("report", key))

    def _hash(self, video: Path) -> str | None:
        """The SHA-256 of a video named in an alert log (once per file); None when it cannot be
        hashed (a missing file, a pipe or device: `self.unreadable` says why)."""
        if video not in self.hashes and video not in self.unreadable:
            try:
                self.hashes[video] = video_sha256(video)
            except VideoError as exc:
                self.unreadable[video] = str(exc)
            except OSError as exc:  # a name the system refuses (too long, a loop of links)
                self.unreadable[video] = f"video {safe(video.name)} cannot be opened ({exc.strerror or exc}); check the path"
        return self.hashes.get(video)

    def _final_folder(self, key: str, request: ReportRequest) -> Path:
        return self.out / REPORTS_DIR / folder_name(key, request, self._source(request.source_id))

    def _report_done(self, key: str, staged: StagedReport) -> None:
        folder = Path(staged.folder)
        final = self._final_folder(key, self.requests[key])
        sign_report_folder(folder, self.identity, tsa_url=self.seal.tsa_url)
        try:
            os.rename(folder, final)
        except OSError as exc:
            raise ArchiveError(
                f"cannot move the report to {final.relative_to(self.out)} ({exc.strerror}): something else took its "
                "place meanwhile; move it away and run again"
            ) from exc
        sealed_at = self.verified.get(final).sealed_at  # verified once: the index reads it from the same cache
        self._register(key, final, record_row(self.rows[key], staged.record, final, self.out, sealed_at))

    def _adopt(self, key: str, final: Path, video_hash: str) -> None:
        """A folder a killed run moved into place but did not register: register it if it verifies
        and its record is this report (not another one's folder put at its name)."""
        where = final.relative_to(self.out)
        verdicts = verify_folder(final, self.verified.anchors)
        bad = [v for v in verdicts if v.status != "valid"]
        if bad:
            reason = bad[0].reasons[0] if bad[0].reasons else bad[0].status
            self._report_failed(key, f"{where} exists but does not verify ({reason}); move it away and run again")
            return
        record = EvidenceRecord.model_validate_json((final / RECORD_NAME).read_bytes())
        other = other_report(record, self.requests[key], video_hash, self.model_sha256)
        if other is not None:
            self._report_failed(key, f"{where} is not this report: its record holds {other}; move it away and run again")
            return
        sealed_at = reviews_of(final, verdicts).sealed_at
        self._register(key, final, record_row(self.rows[key], record, final, self.out, sealed_at))

    def _register(self, key: str, final: Path, row: IndexRow) -> None:
        self.ledger.append("report", key, final, {"row": row.model_dump(mode="json")})
        self.rows[key] = row
        self.sealer.now_and_then()

    def _report_failed(self, key: str, reason: str, passing: bool = False) -> None:
        self.rows[key] = self.rows[key].model_copy(update={"status": "failed", "reason": reason})
        self._note_passing(key, passing)

    def _note_passing(self, key: str, passing: bool) -> None:
        if passing:
            self.passing.add(key)
        else:
            self.passing.discard(key)

    # plumbing

    def _submit(self, function: Callable, task: object, what: tuple[str, Any]) -> None:
        self.queue.append((function, task, what))

    def _hand_out(self) -> None:
        """Hand queued units to the executor, as many at once as it takes (`units_at_once`)."""
        while self.queue and (self.at_once is None or len(self.pending) < self.at_once):
            function, task, what = self.queue.popleft()
            self.pending[self.executor.submit(function, task)] = what

    def _finish(self, future: Future, kind: str, what: Any) -> None:
        try:
            result = future.result()
            if kind == "scan":
                self._scan_done(what[0], what[1], result)
            else:
                self._report_done(what, result)
        except AuditorError as exc:
            full = disk_full(exc)
            self._failed(kind, what, f"{exc}; then run the same command again" if full else str(exc), full)
        except Exception as exc:  # one broken unit must not stop the batch; --debug shows the traceback
            log.debug("unit failed", exc_info=True)
            lost = lost_worker(exc)
            reason = lost or f"internal error ({type(exc).__name__}: {exc}); run with --debug and report it"
            self._failed(kind, what, reason, lost is not None)
        self.finished += 1
        if self.progress is not None:
            self.progress(self.finished, self.finished + len(self.pending) + len(self.queue))

    def _failed(self, kind: str, what: Any, reason: str, passing: bool) -> None:
        """A unit failed; `passing`: for a reason that may pass (a lost worker, a full disk), so that
        running the same command again may succeed; the other reasons say what to change first."""
        if kind == "scan":
            self._scan_failed(what[0], what[2], reason, passing)
        else:
            self._report_failed(what, reason, passing)

    def _write_index(self) -> None:
        """The index from the whole ledger and the reviews that verify, with this run's rows not reported."""
        unreported = [row for row in self.rows.values() if row.status != "reported"]
        refresh_index(self.out, self.verified, datetime.now(UTC), unreported, self.settings.report.profile.report_language)
