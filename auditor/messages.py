"""Marking text for translation where it is defined, in any stage.

`N_("...")` returns its text unchanged; Babel's extraction (`N_` is one of its default keywords)
collects it into the catalogs, and `auditor.i18n` translates it where it is shown. Earlier
stages (evidence, explain) name their messages this way without importing the report stage.
"""

from __future__ import annotations


def N_(text: str) -> str:
    """`text`, marked for extraction; translated later, where it is shown."""
    return text
