"""The render cache: every Job's and CronJob's pre-rendered samples, and the published body.

A Job re-renders only when its report changes (design principle 4). Jobs sit in chunks
(`jobwatch.body.ChunkedFamilies`): per family and chunk the samples are joined and compressed
once, and one changed Job re-joins only its chunk of the families whose lines it changed. A
published body is the list of those segments with its CRC-32 and length, so a scrape writes
cached bytes, raw or as one gzip member, and never joins Job lines.
"""

from __future__ import annotations

import asyncio

from jobwatch import exposition as ex
from jobwatch import metrics as m
from jobwatch.body import ChunkedFamilies, Segment, combined_crc
from jobwatch.state.cronjobs import Key

Published = tuple[tuple[Segment, ...], int, int]  # segments, CRC-32 of their bytes, length


class RenderCache:
    def __init__(self) -> None:
        self._families = ChunkedFamilies(m.JOB_FAMILIES)
        self._cronjobs: dict[Key, ex.Fragments] = {}
        self._generation = 0  # changes whenever an object's samples do
        self._published: dict[bool, tuple[int, Published]] = {}
        self._bodies: dict[bool, tuple[int, bytes, bytes]] = {}

    @property
    def generation(self) -> int:
        return self._generation

    def has_job(self, uid: str) -> bool:
        return uid in self._families

    def set_job(self, uid: str, fragments: ex.Fragments | None) -> None:
        """The Job's samples (None: it has none, e.g. it is gone)."""
        if self._families.set(uid, fragments):
            self._generation += 1

    def set_cronjob(self, key: Key, fragments: ex.Fragments) -> None:
        self._cronjobs[key] = fragments
        self._generation += 1

    def drop_cronjob(self, key: Key) -> None:
        if self._cronjobs.pop(key, None) is not None:
            self._generation += 1

    def join_stale(self, seconds: float | None = None) -> bool:
        """Re-join and re-compress changed chunks for about `seconds`; True once all are."""
        return self._families.join_stale(seconds)

    async def join_stale_off_loop(self, seconds: float) -> None:
        """`join_stale`, compressing in a worker thread (`ChunkedFamilies.join_stale_off_loop`)."""
        await self._families.join_stale_off_loop(seconds)

    def _segments(self, openmetrics: bool, join: bool = True) -> tuple[Segment, ...]:
        segments = self._families.segments(openmetrics, join)
        cron = ex.families(m.CRONJOB_FAMILIES, list(self._cronjobs.values()), openmetrics)
        if cron:
            segments.append(Segment.of(cron))
        return tuple(segments)

    def published(self, openmetrics: bool) -> Published:
        """The last published body in this format (published now if there is none yet: from
        the chunks the other format's body shows, if it has one, so a scrape never joins)."""
        found = self._published.get(openmetrics)
        if found is not None:
            return found[1]
        if not self._published:
            return self.publish(openmetrics)
        segments = self._segments(openmetrics, join=False)
        published = (segments, *combined_crc(segments))
        self._published[openmetrics] = (-1, published)
        return published

    def publish(self, openmetrics: bool) -> Published:
        """Publish what is rendered now, unless that is already published."""
        found = self._published.get(openmetrics)
        if found is not None and found[0] == self._generation:
            return found[1]
        generation, segments = self._generation, self._segments(openmetrics)
        published = (segments, *combined_crc(segments))
        self._published[openmetrics] = (generation, published)
        return published

    def publish_again(self) -> None:
        """`publish` every format published before, as rendered now."""
        for openmetrics in list(self._published):
            self.publish(openmetrics)

    async def publish_soon(self) -> None:
        """`publish` every format scraped so far (text at least), the CRC in a worker thread."""
        for openmetrics in (False, True):
            if openmetrics and openmetrics not in self._published:
                continue
            # Chunks that changed during this pass keep their last segment: the next pass
            # (already woken by that change) joins them; the loop is never held for them here.
            generation, segments = -1, self._segments(openmetrics, join=False)
            crc, size = await asyncio.to_thread(combined_crc, segments)
            self._published[openmetrics] = (generation, (segments, crc, size))

    def body(self, tail: bytes, openmetrics: bool) -> bytes:
        """The whole /metrics body as rendered now, then `tail` (counters and self-metrics):
        the same object while neither changed."""
        segments, _, _ = self.publish(openmetrics)
        last = self._bodies.get(openmetrics)
        if last is not None and last[0] == self._generation and last[1] == tail:
            return last[2]
        body = b"".join(s.raw for s in segments) + tail
        self._bodies[openmetrics] = (self._generation, tail, body)
        return body
