"""Patterns behind a gate: a cheap scan for the words they need decides whether they run at all.

The rules for other languages (:mod:`.multilingual`, :mod:`.multilingual_acts`,
:mod:`.injection_languages`) are many patterns that almost no prompt can match (a prompt without
a word for a bomb cannot ask for one): searched one by one on every prompt they doubled the
rules' time.
"""

from __future__ import annotations

import re

import regex

__all__ = ["Gated"]


class Gated:
    """Patterns searched only in a text that holds a word of each gate: one scan decides for all of
    them. The gates are lower-case fragments, scanned with the standard ``re`` in the lower-cased
    text: a fifth of the time of ``regex``'s case-insensitive scan (20 against 4 µs on a short
    English prompt). ``unless``: found anywhere in the text, it lifts a match."""

    def __init__(self, gates: tuple[str, ...], patterns: list[str], unless: str | None = None) -> None:
        self.gates = [re.compile(g) for g in gates]
        self._sources = (tuple(patterns), unless)
        # compiled when a gate first opens, not at import: compiling the rules of other languages
        # took a quarter of a second off every start, and most processes never open most gates
        self._compiled: tuple[list[regex.Pattern[str]], regex.Pattern[str] | None] | None = None

    def _patterns(self) -> tuple[list[regex.Pattern[str]], regex.Pattern[str] | None]:
        if self._compiled is None:
            patterns, unless = self._sources
            # unless: searched once, after a pattern matched, where a look-ahead in each pattern
            # would scan the whole text once per pattern
            self._compiled = (
                [regex.compile(p, regex.IGNORECASE) for p in patterns],
                regex.compile(unless, regex.IGNORECASE) if unless else None,
            )
        return self._compiled

    def search(self, text: str) -> regex.Match[str] | None:
        """The first pattern's match, as ``regex.Pattern.search`` gives it, or None; None too where
        ``unless`` is found anywhere in the text."""
        # Turkish's capital İ lower-cases to i and a combining dot, which no fragment holds
        lowered = text.lower().replace("i\u0307", "i")
        if not all(g.search(lowered) for g in self.gates):
            return None
        patterns, unless = self._patterns()
        found = next((m for p in patterns if (m := p.search(text))), None)
        if found is not None and unless is not None and unless.search(text):
            return None
        return found
