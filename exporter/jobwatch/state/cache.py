"""The render cache: every Job's and CronJob's pre-rendered samples, and the last /metrics body.

A Job re-renders only when its report changes; a scrape then joins bytes (design principle 4).
Per family, the samples of every Job are kept joined, and one changed Job re-joins only the
families whose lines it changed. While nothing changed, the same body object is returned, so the
server's gzip cache hits on identity.
"""

from __future__ import annotations

from jobwatch import exposition as ex
from jobwatch import metrics as m
from jobwatch.state.cronjobs import Key


class RenderCache:
    def __init__(self) -> None:
        self._jobs: dict[str, ex.Fragments] = {}
        self._family_samples: dict[str, bytes] = {}
        self._stale_families: set[str] = set()
        self._cronjobs: dict[Key, ex.Fragments] = {}
        self._generation = 0  # changes whenever an object's samples do
        self._heads: dict[bool, tuple[int, bytes]] = {}
        self._bodies: dict[bool, tuple[int, tuple[bytes, ...], bytes]] = {}

    @property
    def generation(self) -> int:
        return self._generation

    def has_job(self, uid: str) -> bool:
        return uid in self._jobs

    def set_job(self, uid: str, fragments: ex.Fragments | None) -> None:
        """The Job's samples (None: it has none, e.g. it is gone)."""
        old = self._jobs.get(uid, {})
        new = fragments or {}
        if fragments is None:
            self._jobs.pop(uid, None)
        else:
            self._jobs[uid] = fragments  # in place: families keep one Job order
        self._stale_families.update(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))
        self._generation += 1

    def set_cronjob(self, key: Key, fragments: ex.Fragments) -> None:
        self._cronjobs[key] = fragments
        self._generation += 1

    def drop_cronjob(self, key: Key) -> None:
        if self._cronjobs.pop(key, None) is not None:
            self._generation += 1

    def _join_stale_families(self) -> None:
        fragments = self._jobs.values()
        for name in self._stale_families:
            self._family_samples[name] = b"".join(f[name] for f in fragments if name in f)
        self._stale_families.clear()

    def body(self, tail: tuple[bytes, ...], openmetrics: bool) -> bytes:
        """The whole /metrics body: the cached per-object families, then `tail` (counters and
        self-metrics, rendered per scrape). The same object while neither changed."""
        head = self._heads.get(openmetrics)
        if head is None or head[0] != self._generation:
            self._join_stale_families()
            text = ex.joined_families(m.JOB_FAMILIES, self._family_samples, openmetrics)
            text += ex.families(m.CRONJOB_FAMILIES, list(self._cronjobs.values()), openmetrics)
            head = (self._generation, text)
            self._heads[openmetrics] = head
        last = self._bodies.get(openmetrics)
        if last is not None and last[0] == head[0] and last[1] == tail:
            return last[2]
        body = ex.finish((head[1], *tail), openmetrics)
        self._bodies[openmetrics] = (head[0], tail, body)
        return body
