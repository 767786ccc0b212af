"""The desk's web app (Starlette): the queue, a report's page with its clip, the decision, and the
files a page shows. Every route reads the batch through `Desk`, which verifies a report folder
again whenever one of its files changed; the `Guard` middleware runs before any route."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from auditor.archive.chain import read_chain
from auditor.desk import views
from auditor.desk.decision import SealLedger, decide
from auditor.desk.files import byte_range, current_pdf, listed_file, read_regular, sealed_pdf
from auditor.desk.guard import Guard
from auditor.desk.queue import QueueItem, queue_item, review_queue, status_counts
from auditor.desk.reviews import VerifiedFolders
from auditor.desk.session import DeskSession
from auditor.errors import ArchiveError, AuditorError
from auditor.report import narrative
from auditor.verify import TrustAnchors

STATIC = {"desk.js": "text/javascript", "desk.css": "text/css"}  # every file the desk's pages load


def desk_templates() -> Path:
    """templates/desk: `auditor/templates/desk` in a wheel, `templates/desk` in a source tree."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "templates" / "desk", package.parent / "templates" / "desk"):
        if candidate.is_dir():
            return candidate
    raise ArchiveError("the desk's templates are missing from this installation; reinstall auditor")


def environment() -> jinja2.Environment:
    """The desk's own sandboxed, autoescaped Jinja environment."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(desk_templates())), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(percent=narrative.percent, seconds=narrative.seconds)
    return env


@dataclass
class Desk:
    """A batch folder as the desk serves it, to one session."""

    out: Path
    session: DeskSession
    anchors: TrustAnchors
    seal: SealLedger
    tsa_url: str | None = None

    def __post_init__(self) -> None:
        self.verified = VerifiedFolders(self.anchors)
        self.env = environment()

    def queue(self) -> list[QueueItem]:
        """Every registered report, verified (again where a file changed), most urgent first."""
        with self.session.lock:
            return review_queue(self.out, self.verified, datetime.now(UTC))

    def warm(self) -> None:
        """Verify every report once, ahead of the first page (the first request waits on the lock)."""
        with contextlib.suppress(AuditorError):
            self.queue()

    def item(self, name: str) -> QueueItem | None:
        """The registered report folder called `name`, verified; None when the ledger registers none."""
        folder = self.folders().get(name)
        if folder is None:
            return None
        with self.session.lock:
            return queue_item(folder, self.verified.get(folder), datetime.now(UTC))

    def folders(self) -> dict[str, Path]:
        """Report folders by name, as the ledger registers them (never a name joined from a URL)."""
        chain = read_chain(self.out)
        if chain.problem:
            raise ArchiveError(f"{self.out}: {chain.problem}; run `auditor verify {self.out}`")
        return {Path(e.path).name: self.out / e.path for e in chain.entries if e.kind == "report"}

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(csrf=self.session.csrf, out=self.out.name, **values)
        return HTMLResponse(html, status_code=status)


def queue_page(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    items = desk.queue()
    query = {k: request.query_params.get(k, "") for k in ("status", "camera", "class", "sort")}
    rows = views.shown_rows(items, query)
    return desk.page("queue.html.j2", rows=rows, choices=views.filter_choices(items), query=query,
                     counts=status_counts(items), sorts=list(views.SORTS), reviewer=desk.session.reviewer_dir is not None)


def report_page(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    item = desk.item(request.path_params["name"])
    if item is None:
        return Response("no such report in this batch", status_code=404, media_type="text/plain")
    desk.session.open_report(item.folder.name)
    return _report(desk, item, saved=request.query_params.get("saved") == "1")


def _report(desk: Desk, item: QueueItem, status: int = 200, **values: Any) -> HTMLResponse:
    fingerprint = desk.session.fingerprint
    record = item.record if item.problem is None else None
    hidden = views.blind(item, fingerprint)
    form = values.pop("form", {})
    return desk.page(
        "report.html.j2", status, item=views.row(item), record=record,
        summary=views.summary(record) if record else None,
        trust=views.trust_facts(record, desk.anchors.description) if record else [],
        clip=views.clip_view(record) if record else None, blind=hidden,
        decisions=[] if hidden else views.decisions(item.state.reviews), state=item.state.describe(),
        can_decide=desk.session.reviewer_dir is not None and views.awaits(item, fingerprint),
        locked=desk.session.identity is None, reviewer_dir=str(desk.session.reviewer_dir or ""),
        minutes=f"{desk.session.minutes_on(item.folder.name):g}",
        next_name=views.next_report(desk.queue(), fingerprint, item.folder.name),
        form=form, saved=values.pop("saved", False), message=values.pop("message", None),
    )


async def decision(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not desk.session.csrf_matches(form.get("csrf")):
        return Response(status_code=403)
    name = request.path_params["name"]
    item = await run_in_threadpool(desk.item, name)
    if item is None:
        return Response("no such report in this batch", status_code=404, media_type="text/plain")
    if desk.session.reviewer_dir is None or not views.awaits(item, desk.session.fingerprint):
        why = item.problem or f"its status is {item.state.status!r}, or you decided on it already"
        return await run_in_threadpool(_report, desk, item, 409, message=f"no decision was recorded: {why}")
    outcome = await run_in_threadpool(_decide_locked, desk, item, form)
    if outcome.entry is None:
        kept = {k: v for k, v in form.items() if k not in ("passphrase", "csrf")}
        return await run_in_threadpool(_report, desk, item, 400, message=outcome.problem, form=kept)
    return RedirectResponse(f"/report/{name}?saved=1", status_code=303)


def _decide_locked(desk: Desk, item: QueueItem, form: dict[str, str]) -> Any:
    with desk.session.lock:
        return decide(desk.session, item.folder, form, desk.seal, desk.tsa_url, desk.verified)


def report_file(request: Request) -> Response:
    """A picture or clip the verified report's manifest lists, by its manifest name."""
    desk: Desk = request.app.state.desk
    item = desk.item(request.path_params["name"])
    found = listed_file(item.folder, request.path_params["path"]) if item and item.record and _intact(item) else None
    if found is None:
        return Response(status_code=404)
    return _ranged(request, *found)


def report_pdf(request: Request) -> Response:
    """report.pdf; only its sealed revision while a blind second review is pending."""
    desk: Desk = request.app.state.desk
    item = desk.item(request.path_params["name"])
    if item is None or not _intact(item):
        return Response(status_code=404)
    hidden = views.blind(item, desk.session.fingerprint)
    data = sealed_pdf(item.folder) if hidden else current_pdf(item.folder)
    if data is None:
        return Response(status_code=404)
    name = "report-sealed.pdf" if hidden else "report.pdf"
    return Response(data, media_type="application/pdf", headers={"content-disposition": f'inline; filename="{name}"'})


def _intact(item: QueueItem) -> bool:
    """The report itself verifies (a broken review file beside it does not hide its pictures)."""
    return item.record is not None and item.state.status != "report invalid"


def _ranged(request: Request, data: bytes, media_type: str) -> Response:
    """The bytes, or the one range asked for (a video element seeks with ranges)."""
    span = byte_range(request.headers.get("range"), len(data))
    if span is None:
        return Response(data, media_type=media_type, headers={"accept-ranges": "bytes"})
    start, end = span
    headers = {"accept-ranges": "bytes", "content-range": f"bytes {start}-{end}/{len(data)}"}
    return Response(data[start: end + 1], status_code=206, media_type=media_type, headers=headers)


def static(request: Request) -> Response:
    name = request.path_params["name"]
    data = read_regular(desk_templates() / "static" / name, 1024 * 1024) if name in STATIC else None
    return Response(data, media_type=STATIC[name]) if data is not None else Response(status_code=404)


async def _problem(request: Request, exc: Exception) -> Response:
    """A batch folder the desk cannot read (a broken ledger): what is wrong, in one line."""
    return Response(f"auditor desk: {exc}", status_code=500, media_type="text/plain")


def create_app(desk: Desk, port: int, hosts: set[str] | None = None) -> Starlette:
    """The desk for `desk`'s batch, answering on `port` (the Host header must name it)."""
    routes = [
        Route("/", queue_page), Route("/report/{name}", report_page),
        Route("/report/{name}/decision", decision, methods=["POST"]),
        Route("/report/{name}/pdf", report_pdf), Route("/report/{name}/file/{path:path}", report_file),
        Route("/static/{name}", static),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, session=desk.session, port=port, hosts=hosts)],
                    exception_handlers={AuditorError: _problem})
    app.state.desk = desk
    return app

