"""Names in messages: quoted lists and "did you mean" suggestions."""

import difflib
from collections.abc import Sequence

__all__ = ["close_matches", "did_you_mean", "quote_list"]

LISTED_NAMES = 20
"""Most names a message lists before it says how many there are in all."""


def quote_list(names: Sequence[str], limit: int = LISTED_NAMES) -> str:
    """``'a', 'b', ...`` for a message: the first ``limit`` names, then how many in all."""
    shown = ", ".join(f"'{name}'" for name in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def close_matches(name: str, candidates: Sequence[str], count: int = 3) -> list[str]:
    """Candidates that look like ``name``.

    A case-insensitive match first, then names that ``name`` begins (``part_e`` →
    ``part_energy``), then difflib's closest matches.
    """
    folded = name.lower()
    same = [candidate for candidate in candidates if candidate.lower() == folded]
    longer = (
        sorted(
            (candidate for candidate in candidates if candidate.lower().startswith(folded)),
            key=len,
        )
        if len(name) >= 3
        else []
    )
    similar = difflib.get_close_matches(name, list(candidates), n=count, cutoff=0.6)
    return list(dict.fromkeys([*same, *longer, *similar]))[:count]


def did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` with the close matches of ``name``, or nothing."""
    matches = close_matches(name, candidates)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(f"'{match}'" for match in matches) + "?)"
