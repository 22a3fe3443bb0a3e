"""Completion-index interval strings such as `"1,3-5,7"` (`status.failedIndexes`, docs/job-semantics.md §1.10)."""

from __future__ import annotations


def parse_index_set(text: str) -> frozenset[int]:
    """Parse an interval list; malformed parts are ignored rather than raising."""
    out: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue
        low, high = int(first), int(last or first)
        if high - low > 100_000:  # validation caps completions for per-index Jobs
            continue
        out.update(range(low, high + 1))
    return frozenset(out)
