"""Words shared by every layer's sentences (analysis verdicts, report tables)."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """'1 row', '1,000 rows', '2 losses'."""
    if n == 1:
        return f"1 {word}"
    return f"{n:,} {word}es" if word.endswith("s") else f"{n:,} {word}s"


def article(word: str) -> str:
    """'a' or 'an' before ``word`` ('an interval', 'a regression')."""
    return "an" if word[:1].lower() in "aeiou" and word[:1] else "a"
