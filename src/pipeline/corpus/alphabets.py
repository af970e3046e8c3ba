"""The characters a cleaned document of each language may contain.

Every language shares digits, whitespace, ASCII and typographic punctuation, Greek letters
(TNF-α, β-blockers) and common medical symbols; each adds its own letters.
"""

from __future__ import annotations

import string

SHARED = (
    string.digits
    + string.punctuation
    + " \n"
    + "‘’‚“”„«»‹›–—…•·"  # typographic punctuation
    + "%°µμ±×÷≤≥≠≈∆→←↑↓²³¹½¼¾‰‱′″§®©™€£$¢"  # medical and measurement symbols
    + "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ"
)

LETTERS: dict[str, str] = {
    "en": string.ascii_letters,
    "it": string.ascii_letters + "àèéìíîòóùúÀÈÉÌÍÎÒÓÙÚªº",
    "es": string.ascii_letters + "áéíóúüñÁÉÍÓÚÜÑ¿¡ªº",
    "fr": string.ascii_letters + "àâæçéèêëîïôœùûüÿÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ",
}


def allowed_characters(language: str, extra: str = "") -> frozenset[str]:
    """The characters allowed in `language` text, plus `extra`."""
    if language not in LETTERS:
        raise ValueError(f"no alphabet for language {language!r} (known: {sorted(LETTERS)})")
    return frozenset(LETTERS[language] + SHARED + extra)
