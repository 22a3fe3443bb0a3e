"""Completion-index interval strings such as `"1,3-5,7"` (`status.failedIndexes`,
docs/job-semantics.md §1.10).

Held as sorted disjoint intervals, never expanded element by element: `"0-99999999"` is one
interval, so a 615-byte string of wide ranges costs microseconds, not seconds and gigabytes
(issue 11 §5). Parsing is linear in the text and stops after `MAX_INTERVALS` intervals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

MAX_INTERVALS = 100_000  # more than a 100k-completion Job's worst fragmentation needs
MAX_INDEX = 2**31 - 1  # completions is an int32


class IndexSet:
    """An immutable set of non-negative ints as sorted, disjoint, non-adjacent intervals."""

    __slots__ = ("_highs", "_lows")

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[list[int]] = []
        for low, high in sorted(intervals):
            if merged and low <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        self._lows = [low for low, _ in merged]
        self._highs = [high for _, high in merged]

    @classmethod
    def of(cls, indexes: Iterable[int]) -> IndexSet:
        return cls((i, i) for i in indexes)

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._lows, self._highs, strict=True))

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        at = bisect.bisect_right(self._lows, index) - 1
        return at >= 0 and index <= self._highs[at]

    def __len__(self) -> int:
        return sum(h - low + 1 for low, h in zip(self._lows, self._highs, strict=True))

    def __bool__(self) -> bool:
        return bool(self._lows)

    def __or__(self, other: IndexSet | Iterable[int]) -> IndexSet:
        theirs = other.intervals() if isinstance(other, IndexSet) else [(i, i) for i in other]
        return IndexSet([*self.intervals(), *theirs])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexSet) and self.intervals() == other.intervals()

    def __hash__(self) -> int:
        return hash(tuple(self.intervals()))

    def __repr__(self) -> str:
        return f"IndexSet({self.intervals()})"

    def count_in(self, start: int, stop: int) -> int:
        """How many members are in range(start, stop)."""
        total = 0
        for low, high in zip(self._lows, self._highs, strict=True):
            first, last = max(low, start), min(high, stop - 1)
            if first <= last:
                total += last - first + 1
        return total


def parse_index_set(text: str) -> IndexSet:
    """Parse an interval list; malformed parts are ignored rather than raising."""
    intervals: list[tuple[int, int]] = []
    for part in text.split(",", MAX_INTERVALS)[:MAX_INTERVALS]:
        first, dash, last = part.strip().partition("-")
        if not first.isdigit() or (dash and not last.isdigit()) or max(len(first), len(last)) > 10:
            continue
        low, high = int(first), int(last or first)
        if low <= high <= MAX_INDEX:
            intervals.append((low, high))
    return IndexSet(intervals)
