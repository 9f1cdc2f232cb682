"""Words shared by every layer's sentences (analysis verdicts, report tables, messages)."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """'1 row', '1,000 rows', '2 losses', '3 true boxes'."""
    if n == 1:
        return f"1 {word}"
    sibilant = word.endswith(("s", "x", "z", "ch", "sh"))
    return f"{n:,} {word}es" if sibilant else f"{n:,} {word}s"


def verb(n: int, one: str, many: str) -> str:
    """The form of a verb whose subject is ``n`` things: verb(1, "has", "have") is 'has'."""
    return one if n == 1 else many


def article(word: str) -> str:
    """'a' or 'an' before ``word`` ('an interval', 'a regression')."""
    return "an" if word[:1].lower() in "aeiou" and word[:1] else "a"
