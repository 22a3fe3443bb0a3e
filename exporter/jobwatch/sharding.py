"""Sharding, kube-state-metrics style: every shard watches everything and keeps its own part.

`--shard I --total-shards N`: an object belongs to shard `crc32(key) % N`. A standalone Job's
key is its UID. A Job owned by a CronJob is keyed by the CronJob's UID, like the CronJob
itself: the per-CronJob series are computed from its Jobs (last run, streak), so all of them
must be on the CronJob's shard. A pod follows its Job (the controller-uid label, or the
ownerReference), so it never needs hashing of its own. The N shards together export exactly the
Job and CronJob series one instance would; the failure counters are split by Job, so their sum
over the shards equals one instance's counter.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shard:
    """This instance's part: shard `index` of `total` (0 <= index < total)."""

    index: int = 0
    total: int = 1

    def __post_init__(self) -> None:
        if self.total < 1 or not 0 <= self.index < self.total:
            raise ValueError(f"shard {self.index} of {self.total}: need 0 <= shard < total")

    @property
    def sharded(self) -> bool:
        return self.total > 1

    def owns(self, key: str) -> bool:
        """True when the object keyed `key` (a UID) belongs to this shard."""
        return self.total == 1 or zlib.crc32(key.encode()) % self.total == self.index


ALL = Shard()
