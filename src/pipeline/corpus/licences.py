"""Licence classes: which documents may train a model that is used commercially."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

COMMERCIAL = "commercial"
RESEARCH_ONLY = "research_only"
CLASSES = (COMMERCIAL, RESEARCH_ONLY)

# First match wins. Non-commercial (NC) and no-derivatives (ND) terms come first: a model
# trained on a text is arguably a derivative. Anything unmatched is research-only.
DEFAULT_TABLE: tuple[tuple[str, str], ...] = (
    ("*-NC*", RESEARCH_ONLY),
    ("*-ND*", RESEARCH_ONLY),
    ("CC-BY*", COMMERCIAL),
    ("CC0*", COMMERCIAL),
    ("PUBLIC-DOMAIN*", COMMERCIAL),
    ("PD", COMMERCIAL),
    ("CC-PDDC", COMMERCIAL),
)


def normalise_licence(licence: str) -> str:
    """Upper case with '-' for separators: 'CC BY 4.0' -> 'CC-BY-4.0', 'cc_by-nc' -> 'CC-BY-NC'."""
    return re.sub(r"[\s_\-]+", "-", licence.strip().upper())


class LicenceTable:
    """Map licence names to classes: `overrides` (pattern -> class) first, then the defaults."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        rules = [(normalise_licence(p), c) for p, c in (overrides or {}).items()]
        for pattern, cls in rules:
            if cls not in CLASSES:
                raise ValueError(f"licence_classes[{pattern!r}]: unknown class {cls!r} (expected {CLASSES})")
        self.rules = rules + list(DEFAULT_TABLE)
        self._cache: dict[str, str] = {}

    def classify(self, licence: str | None) -> str:
        if not licence:
            return RESEARCH_ONLY
        if licence not in self._cache:
            name = normalise_licence(licence)
            self._cache[licence] = next((c for p, c in self.rules if fnmatchcase(name, p)), RESEARCH_ONLY)
        return self._cache[licence]
