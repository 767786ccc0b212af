"""The reader's language: message catalogs (gettext, through Babel) and the locale's formats.

Catalogs live in `auditor/report/locale/<code>/LC_MESSAGES/auditor.po` (domain "auditor"). English is
the source language: its msgids are the English text. Rendering runs inside `speaking(code)`;
`_`, `ngettext` and the format functions read the active language from a context variable.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "auditor"
SOURCE_LANGUAGE = "en"


@dataclass(frozen=True)
class Language:
    """One language: its catalog and its Babel locale."""

    code: str
    translations: NullTranslations
    locale: Locale

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


@functools.cache
def language(code: str) -> Language:
    """The language `code` ("en", "de", "fr"…) from the shipped catalogs."""
    translations = Translations.load(str(LOCALE_DIR), [code], DOMAIN)
    return Language(code, translations, Locale.parse(code))


_ACTIVE: ContextVar[Language] = ContextVar("auditor_language")


@contextlib.contextmanager
def speaking(code: str) -> Iterator[Language]:
    """Everything rendered inside speaks `code`."""
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
