"""The reader's language: message catalogs (gettext, through Babel) and the locale's formats.

Catalogs live in `auditor/locale/<code>/LC_MESSAGES/auditor.po` (domain "auditor"). English is
the source language: its msgids are the English text, so it needs no catalog. Rendering runs inside
`speaking(code)`; `_`, `ngettext`, `pgettext` and the format functions read the active language from
a context variable, so batch workers and threads each speak their own language.

Only the `.po` files are shipped: each is compiled to a `.mo` in memory on first use (Babel's
`read_po` + `write_mo`, cached per process). A committed `.mo` could fall behind its `.po` and a
report would then speak the stale text; compiling the one source cannot, and a new language is
exactly one file. `python -m auditor.catalogs check` (and tests/test_i18n.py) fails when a
catalog does not parse or a translation's placeholders differ from its msgid's.

Formats come from Babel's CLDR data for the language; English uses en_GB's ("6 December 2026",
"14:03", "88%"). A catalog whose code Babel does not know (a toy language) uses English formats.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import io
import math
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import jinja2
from babel import Locale, UnknownLocaleError, dates, lists, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from auditor.errors import ReportError

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "auditor"
SOURCE_LANGUAGE = "en"
FORMAT_LOCALES = {"en": "en_GB"}
MAX_CATALOG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Language:
    """One language: its catalog and the Babel locale of its formats."""

    code: str
    translations: NullTranslations
    locale: Locale

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return str(self.translations.pgettext(context, message))


def catalog_path(code: str, locale_dir: Path | None = None) -> Path:
    """Where the catalog of `code` lives."""
    return (locale_dir or LOCALE_DIR) / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def available(locale_dir: Path | None = None) -> tuple[str, ...]:
    """The language codes a report can be rendered in: English and every shipped catalog."""
    folder = locale_dir or LOCALE_DIR
    codes = {p.parent.parent.name for p in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")} if folder.is_dir() else set()
    return tuple(sorted(codes | {SOURCE_LANGUAGE}))


def check_language(code: str) -> str:
    """`code` when a report can be rendered in it; a user error naming the languages otherwise."""
    if code not in available():
        raise ReportError(
            f"unknown report language {code!r}; choose one of {', '.join(available())}"
        )
    return code


def language(code: str) -> Language:
    """The language `code` ("en", "de", "fr"…) from the catalogs in `LOCALE_DIR`."""
    return _language(check_language(code), LOCALE_DIR)


@functools.cache
def _language(code: str, locale_dir: Path) -> Language:
    return Language(code, _translations(code, locale_dir), _format_locale(code))


def _translations(code: str, locale_dir: Path) -> NullTranslations:
    path = catalog_path(code, locale_dir)
    if code == SOURCE_LANGUAGE and not path.is_file():
        return NullTranslations()
    if path.stat().st_size > MAX_CATALOG_BYTES:
        raise ReportError(f"catalog {path} is larger than {MAX_CATALOG_BYTES} bytes; reinstall auditor")
    try:
        with path.open("rb") as file:
            catalog = read_po(file, locale=None, domain=DOMAIN)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
    except (ValueError, SyntaxError, UnicodeDecodeError) as exc:
        raise ReportError(f"catalog {path} cannot be read ({exc}); fix it or reinstall auditor") from exc
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _format_locale(code: str) -> Locale:
    try:
        return Locale.parse(FORMAT_LOCALES.get(code, code))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FORMAT_LOCALES[SOURCE_LANGUAGE])


_ACTIVE: ContextVar[Language] = ContextVar("auditor_language")


@contextlib.contextmanager
def speaking(code: str) -> Iterator[Language]:
    """Everything rendered inside speaks `code` (a `ReportError` when there is no such catalog)."""
    token = _ACTIVE.set(language(code))
    try:
        yield _ACTIVE.get()
    finally:
        _ACTIVE.reset(token)


def active() -> Language:
    """The language being rendered (English outside `speaking`)."""
    return _ACTIVE.get(None) or language(SOURCE_LANGUAGE)


def _(message: str) -> str:
    """`message` in the active language."""
    return active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in the active language."""
    return active().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` in the active language, told apart from the same English words by `context`."""
    return active().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    """`ngettext` with a `context`."""
    return str(active().translations.npgettext(context, singular, plural, n))


def number(value: float, digits: int | None = 0) -> str:
    """`value` with exactly `digits` decimals, grouped as the locale writes it: "1,234.5", "1.234,5";
    with `digits` None, as many as it needs up to six ("0.5", "2.345678")."""
    if digits is None:
        return numbers.format_decimal(value, format="#,##0.######", locale=active().locale)
    return _formatted(value, active().locale.decimal_formats[None].pattern, digits)


def percent(fraction: float, digits: int = 0) -> str:
    """`fraction` (0.88) as a percentage with `digits` decimals: "88%" (en), "88 %" (de, fr, no-break space)."""
    return _formatted(fraction, active().locale.percent_formats[None].pattern, digits)


def _formatted(value: float, locale_pattern: str, digits: int) -> str:
    """`value` in the locale's own pattern, its decimals set to exactly `digits`."""
    pattern = re.sub(r"#,##0(\.#*0*)?", "#,##0" + ("." + "0" * digits if digits > 0 else ""), locale_pattern, count=1)
    return numbers.format_decimal(value, format=pattern, locale=active().locale, decimal_quantization=True)


def date(day: _dt.date) -> str:
    """The long date: "6 December 2026", "6. Dezember 2026", "6 décembre 2026"."""
    return dates.format_date(day, "long", locale=active().locale)


def time(moment: _dt.datetime | _dt.time) -> str:
    """Hours and minutes in UTC: "14:03"."""
    return dates.format_time(_utc(moment), "HH:mm", locale=active().locale)


def datetime(moment: _dt.datetime) -> str:
    """Date and time in UTC as the locale joins them: "6 December 2026, 14:03 UTC"."""
    joined = active().locale.datetime_formats["long"]
    text = str(joined).replace("{1}", date(moment.astimezone(_dt.UTC) if moment.tzinfo else moment)).replace("{0}", time(moment))
    return f"{text} UTC"


def clock(seconds: float) -> str:
    """A position in a recording, cut to tenths, with the locale's decimal sign: "0:21.7", "0:21,7"."""
    tenths = math.floor(seconds * 10 + 1e-6)
    minutes, rest = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    text = f"{rest // 10:02d}{decimal_symbol()}{rest % 10}"
    return f"{hours}:{minutes:02d}:{text}" if hours else f"{minutes}:{text}"


def decimal_symbol() -> str:
    """The locale's decimal sign: "." (en), "," (de, fr)."""
    return numbers.get_decimal_symbol(active().locale)


def listing(items: Iterable[str]) -> str:
    """Items joined as the locale writes a list: "a, b and c", "a, b und c", "a, b et c"."""
    return lists.format_list(list(items), locale=active().locale)


def install(env: jinja2.Environment) -> None:
    """Give a Jinja environment (with the `jinja2.ext.i18n` extension) the catalogs and the formats.

    Newstyle gettext, `{% trans %}` trimmed; the format functions become filters of the same names.
    The callables read the active language when a template runs, so one cached environment
    renders every language: render inside `speaking(code)`.
    """
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
    env.filters.update(
        percent=percent, number=number, date=date, time=time, datetime=datetime, clock=clock, listing=listing
    )


def _utc(moment: _dt.datetime | _dt.time) -> _dt.datetime | _dt.time:
    if isinstance(moment, _dt.datetime) and moment.tzinfo is not None:
        return moment.astimezone(_dt.UTC)
    return moment
