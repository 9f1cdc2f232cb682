"""Words shared by every layer's sentences (analysis verdicts, report tables)."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """'1 row', '1,000 rows', '2 losses'."""
    if n == 1:
        return f"1 {word}"
    return f"{n:,} {word}es" if word.endswith("s") else f"{n:,} {word}s"
