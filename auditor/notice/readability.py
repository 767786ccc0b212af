"""How easy a text is to read: the readability formula of each language, on a 0-100 scale.

- English: Flesch reading ease, 206.835 - 1.015 * words/sentences - 84.6 * syllables/words.
- French: Kandel & Moles (1958), 207 - 1.015 * words/sentences - 73.6 * syllables/words.
- German: Amstad (1978), 180 - words/sentences - 58.5 * syllables/words.

On all three, 60-70 is "standard" (plain language), 70-80 "fairly easy", below 50 "difficult".

Syllables: the larger of two counts per word, both approximations that err low: the pieces of
pyphen's hyphenation dictionary for the language (the dictionaries WeasyPrint hyphenates with;
they never leave one letter alone, so "cam-era" has 2 pieces) and the groups of vowels, where a
final mute "e" of English and French does not count ("cre-ate" 2, "per-sonne" 2). Each catches
what the other drops ("ca-me-ra" by vowels; "Auf-sichts-be-hör-de" by hyphenation); both miss
some hiatus ("vi-de-o" counts 2), so scores err slightly high, by about one point per 30
such words in a hundred.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import pyphen

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_VOWELS = {"en": "aeiouy", "fr": "aeiouyàâäéèêëîïôöùûüœæ", "de": "aeiouyäöü"}
_DICTIONARIES = {"en": "en_US", "fr": "fr", "de": "de_DE"}
_FORMULAS = {  # (constant, per word per sentence, per syllable per word)
    "en": (206.835, 1.015, 84.6),
    "fr": (207.0, 1.015, 73.6),
    "de": (180.0, 1.0, 58.5),
}
FORMULA_NAMES = {"en": "Flesch reading ease", "fr": "Kandel-Moles", "de": "Amstad"}


@dataclass(frozen=True)
class Readability:
    """The counts of a text and its score in its language's formula."""

    language: str
    sentences: int
    words: int
    syllables: int
    score: float

    @property
    def words_per_sentence(self) -> float:
        return self.words / self.sentences

    @property
    def syllables_per_word(self) -> float:
        return self.syllables / self.words


def readability(text: str, language: str) -> Readability:
    """The score of `text` in `language` ("en", "de", "fr"); a ValueError for another language or no words."""
    if language not in _FORMULAS:
        raise ValueError(f"no readability formula for {language!r}; known: {', '.join(sorted(_FORMULAS))}")
    words = _WORD.findall(text)
    if not words:
        raise ValueError("the text has no words")
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    syllables = sum(syllable_count(word, language) for word in words)
    constant, per_sentence, per_syllable = _FORMULAS[language]
    score = constant - per_sentence * len(words) / sentences - per_syllable * syllables / len(words)
    return Readability(language, sentences, len(words), syllables, round(score, 1))


def syllable_count(word: str, language: str) -> int:
    """Syllables of one word: the larger of its hyphenation pieces and its vowel groups (at least 1)."""
    lower = word.lower()
    pieces = len(_hyphenator(language).positions(lower)) + 1
    return max(pieces, _vowel_groups(lower, language), 1)


def _vowel_groups(word: str, language: str) -> int:
    groups = re.findall(f"[{_VOWELS[language]}]+", word)
    mute = language in ("en", "fr") and len(groups) > 1 and re.search(r"[^aeiouy]es?$", word) is not None
    if mute and language == "en" and word.endswith("le") and len(word) > 2 and word[-3] not in "aeiouy":
        mute = False  # "peo-ple", "ta-ble": the final "le" is a syllable
    return len(groups) - mute


@functools.cache
def _hyphenator(language: str) -> pyphen.Pyphen:
    return pyphen.Pyphen(lang=_DICTIONARIES[language])


def prose_of_html(html: str) -> str:
    """The running text of a notice's HTML: its paragraphs (`<p>`), without the values set apart in
    them (names, addresses, contacts, identifiers: `<span class="value">`), the sender line and the
    draft banner."""
    reader = _ProseReader()
    reader.feed(html)
    return " ".join(" ".join(paragraph.split()) for paragraph in reader.paragraphs if paragraph.strip())


_NOT_PROSE = frozenset({"draft-banner", "sender"})


class _ProseReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._in_paragraph = False
        self._skipped = 0  # depth inside a value span

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "p" and not _NOT_PROSE.intersection(classes):
            self._in_paragraph = True
            self.paragraphs.append("")
        elif tag == "span" and self._in_paragraph and (self._skipped or "value" in classes):
            self._skipped += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_paragraph = False
        elif tag == "span" and self._skipped:
            self._skipped -= 1

    def handle_data(self, data: str) -> None:
        if self._in_paragraph and not self._skipped:
            self.paragraphs[-1] += data
