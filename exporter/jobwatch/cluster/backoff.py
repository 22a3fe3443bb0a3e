"""Exponential backoff with full jitter, for an informer's failed requests.

Delay n (from 0) is uniform in [0, min(maximum, initial * 2**n)] (AWS "full jitter"), so many
informers that failed together do not retry together. `reset()` after progress.
"""

from __future__ import annotations

import math
import random

_MAX_EXPONENT = 32


class Backoff:
    """Delays that double from `initial` up to `maximum`, each drawn with full jitter."""

    def __init__(self, initial: float, maximum: float, rng: random.Random) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial, self.maximum, self._rng = initial, maximum, rng
        self.attempts = 0

    def ceiling(self) -> float:
        """The largest delay the next `next()` may return."""
        return min(self.maximum, math.ldexp(self.initial, min(self.attempts, _MAX_EXPONENT)))

    def next(self) -> float:
        delay = self._rng.uniform(0.0, self.ceiling())
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0
