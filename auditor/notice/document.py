"""Write a notice folder: `notice.html` and `notice.pdf` (PDF/A-3a and PDF/UA-1, `notice.json` embedded), sealed.

The notice is rendered from `templates/notice.html.j2` and `notice.css` (inlined) in Jinja's
immutable sandbox, in the language asked for; the PDF is drawn by WeasyPrint with the shipped fonts
only (no other URL is fetched) and sealed like a report (`auditor.signing.seal`: certifying PAdES
signature, DocMDP level 2); the HTML gets a detached CMS signature. The folder is written in a
staging folder and renamed into place at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
import pydyf
import weasyprint
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from weasyprint.urls import URLFetcher, URLFetcherResponse

from auditor import fonts
from auditor.errors import ReportError
from auditor.files import atomic_directory, atomic_write_bytes, atomic_write_text
from auditor.i18n import _, speaking
from auditor.keys import SigningIdentity
from auditor.notice.facts import NoticeFacts
from auditor.notice.text import notice_parts, sender
from auditor.report import tagging
from auditor.signing.seal import sign_detached, sign_pdf
from auditor.verify.notice import NOTICE_HTML, NOTICE_JSON, NOTICE_PDF, NoticeBinding

TEMPLATE = "notice.html.j2"
STYLESHEET = "notice.css"
PDF_VARIANT = "pdf/a-3a"  # PDF/A-3 level A: tagged, with /Lang; the finisher adds the PDF/UA-1 identification
SEAL_REASON = "Notice to the person concerned, sealed by auditor"


class FontFetcher(URLFetcher):
    """Serves the shipped fonts (`auditor-font:NAME`) and refuses every other URL."""

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        name = fonts.font_of_url(url)
        if name is None:
            raise ReportError(f"the notice template refers to {url}; a notice fetches nothing but the shipped fonts")
        return URLFetcherResponse(url, body=fonts.font_bytes(name))


def binding_of(facts: NoticeFacts, language: str) -> NoticeBinding:
    return NoticeBinding(report_id=facts.record.report.report_id, record_sha256=facts.record_sha256, language=language)


def render_notice_html(facts: NoticeFacts, language: str, *, draft: bool, for_pdf: bool) -> str:
    """The notice as one self-contained HTML document in `language`."""
    binding = binding_of(facts, language)
    with speaking(language):
        context = {
            "language": language,
            "title": _("Notice about a check of a video by a computer system"),
            "lead": _("This notice is for you. It says what a computer system noticed in a video, what happens "
                      "next, and what you can do."),
            "draft_banner": _("Draft: this notice is not sealed. Do not send it."),
            "parts": notice_parts(facts),
            "binding": [
                (_("Report number"), binding.report_id),
                (_("Fingerprint of the report's record (SHA-256)"), binding.record_sha256),
            ],
            # Translators: the foot of every page of the notice.
            "report_label": _("Notice about report %(id)s") % {"id": binding.report_id},
            "sender": sender(facts.record),
        }
    try:
        return _template().render(**context, meta=binding.meta(), css=Markup(_stylesheet()), draft=draft, for_pdf=for_pdf)
    except jinja2.TemplateError as exc:
        raise ReportError(f"notice template error: {exc}; reinstall auditor") from exc


def render_notice_pdf(facts: NoticeFacts, language: str, *, draft: bool) -> bytes:
    """The notice as PDF/A-3a and PDF/UA-1 with `notice.json` embedded (unsigned)."""
    html = render_notice_html(facts, language, draft=draft, for_pdf=True)
    fetcher = FontFetcher()
    created = facts.record.report.created_at
    binding = weasyprint.Attachment(
        string=binding_of(facts, language).json_bytes(), name=NOTICE_JSON, relationship="Source",
        description="The report this notice is about: report id and the SHA-256 of its evidence record",
        created=created, modified=created, url_fetcher=fetcher,
    )
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    return document.write_pdf(pdf_variant=PDF_VARIANT, attachments=[binding], finisher=_finish)


def _finish(document: weasyprint.Document, pdf: pydyf.PDF) -> None:
    """As the report's (`auditor.report.pdf`): page feet as artifacts, and the PDF/UA-1 identification."""
    tagging.margins_as_artifacts(pdf)
    tagging.declare_pdf_ua(pdf)


def write_notice(
    facts: NoticeFacts, language: str, out: Path, identity: SigningIdentity | None, *, tsa_url: str | None = None,
) -> list[Path]:
    """Write the notice folder `out` (new or empty), sealed by `identity` (None: an unsealed draft)."""
    draft = identity is None
    html = render_notice_html(facts, language, draft=draft, for_pdf=False)
    pdf = render_notice_pdf(facts, language, draft=draft)
    with atomic_directory(out) as staging:
        written = [atomic_write_text(staging / NOTICE_HTML, html), atomic_write_bytes(staging / NOTICE_PDF, pdf)]
        if identity is not None:
            sign_pdf(staging / NOTICE_PDF, staging / NOTICE_PDF, identity, tsa_url=tsa_url, reason=SEAL_REASON)
            written.append(sign_detached(staging / NOTICE_HTML, identity, tsa_url=tsa_url))
    return [Path(out) / path.name for path in written]


def _templates() -> Path:
    """The shipped templates: `auditor/templates` in a wheel, `templates/` in a source tree (as
    `auditor.report.html.builtin_templates`, without importing the report's sentence builders)."""
    package = Path(__file__).parents[1]
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise ReportError("the notice template is missing from this installation; reinstall auditor")


@functools.cache
def _template() -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(_templates())), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE)


@functools.cache
def _stylesheet() -> str:  # shipped CSS, inlined as it is (autoescaping would break its quotes)
    return (_templates() / STYLESHEET).read_text(encoding="utf-8")
