"""The /metrics body as cached chunks: joined per family and chunk of Jobs, gzip'd once.

Jobs are placed in chunks of `CHUNK` Jobs (in arrival order; a chunk keeps its Jobs until they
go). For each family and chunk the samples are joined once and compressed once into a raw
deflate segment that ends with a sync flush, so segments can be concatenated into one valid gzip
stream (RFC 1952: one member whose deflate data is the segments plus a final empty block; the
CRC-32 and length of the whole body go in the trailer). A change re-joins and re-compresses only
the (family, chunk) pairs whose lines changed; a scrape only writes the cached parts, raw or
compressed, followed by the small tail (counters and self-metrics) rendered per scrape.
"""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from jobwatch import exposition as ex
from jobwatch.metrics import Metric

CHUNK = 256  # Jobs per chunk: a change re-joins and re-compresses about 256 Jobs' lines
GZIP_LEVEL = 1  # half the CPU of level 6 on a 3 MB body for ~20% more bytes
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no mtime, unknown OS
FINAL_BLOCK = b"\x03\x00"  # an empty final fixed-Huffman block: ends the deflate stream

Pair = tuple[str, int]  # (family name, chunk index)


def deflate(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """A raw deflate segment that can be followed by any other such segment."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


@dataclass(frozen=True, slots=True)
class Segment:
    """One cached part of a body, with its compressed form."""

    raw: bytes
    deflated: bytes

    @classmethod
    def of(cls, raw: bytes) -> Segment:
        return cls(raw, deflate(raw))


@dataclass(frozen=True, slots=True)
class Exposition:
    """A whole /metrics body: cached segments, then a tail rendered for this scrape."""

    segments: tuple[Segment, ...]
    crc: int  # CRC-32 of the segments' raw bytes, in order
    size: int
    tail: bytes

    @classmethod
    def of(cls, raw: bytes) -> Exposition:
        """A body that is all tail (tests, small bodies)."""
        return cls((), 0, 0, raw)

    def parts(self) -> Iterator[bytes]:
        for segment in self.segments:
            yield segment.raw
        yield self.tail

    def gzip_parts(self) -> Iterator[bytes]:
        """The body as one gzip member, from the cached deflate segments."""
        yield GZIP_HEADER
        for segment in self.segments:
            yield segment.deflated
        yield deflate(self.tail) + FINAL_BLOCK
        crc = zlib.crc32(self.tail, self.crc)
        yield struct.pack("<II", crc & 0xFFFFFFFF, (self.size + len(self.tail)) & 0xFFFFFFFF)

    def joined(self) -> bytes:
        return b"".join(self.parts())


def combined_crc(segments: Iterable[Segment]) -> tuple[int, int]:
    """(CRC-32, length) of the segments' raw bytes in order."""
    crc, size = 0, 0
    for segment in segments:
        crc = zlib.crc32(segment.raw, crc)
        size += len(segment.raw)
    return crc, size


class ChunkedFamilies:
    """Per-Job fragments, grouped in chunks, joined and compressed per (family, chunk)."""

    def __init__(self, families: Sequence[Metric], chunk: int = CHUNK) -> None:
        self._families = families
        self._chunk_size = chunk
        # Per chunk, per family: each Job's lines for it, so a join is one C-level b"".join
        # (a Job's own fragments dict is not kept: its lines live only here).
        self._lines: list[dict[str, dict[str, bytes]]] = []
        self._sizes: list[int] = []  # Jobs per chunk
        self._names: dict[str, None] = dict.fromkeys(f.name for f in families)  # and any other
        self._chunk_of: dict[str, int] = {}
        self._free: list[int] = []  # chunks with room, lowest first
        self._segments: dict[Pair, Segment] = {}
        self._stale: set[Pair] = set()
        self._headers = {
            om: {f.name: Segment.of(ex.header(f, om).encode()) for f in families}
            for om in (False, True)
        }

    def __len__(self) -> int:
        return len(self._chunk_of)

    def __contains__(self, uid: object) -> bool:
        return uid in self._chunk_of

    @property
    def stale(self) -> int:
        """(family, chunk) pairs whose lines changed since they were last joined."""
        return len(self._stale)

    def set(self, uid: str, fragments: ex.Fragments | None) -> bool:
        """Install (or with None remove) one Job's fragments; True when a line changed."""
        index = self._chunk_of.get(uid)
        if index is None:
            if fragments is None:
                return False
            index = self._place(uid)
        new = fragments or {}
        for name in new.keys() - self._names.keys():
            self._names[name] = None
        lines = self._lines[index]
        changed = False
        for name in self._names:
            family = lines.get(name)
            line = new.get(name)
            if (family.get(uid) if family is not None else None) == line:
                continue
            changed = True
            self._stale.add((name, index))
            if line is not None:
                lines.setdefault(name, {})[uid] = line
            elif family is not None:
                del family[uid]
        if fragments is None:
            del self._chunk_of[uid]
            self._sizes[index] -= 1
            self._free.append(index)
            self._free.sort()
        return changed

    def _place(self, uid: str) -> int:
        while self._free and self._sizes[self._free[0]] >= self._chunk_size:
            self._free.pop(0)
        if self._free:
            index = self._free[0]
        else:
            index = len(self._sizes)
            self._sizes.append(0)
            self._lines.append({})
            self._free.append(index)
        self._chunk_of[uid] = index
        self._sizes[index] += 1
        return index

    def _join(self, pair: Pair) -> bytes:
        name, index = pair
        lines = self._lines[index].get(name)
        return b"".join(lines.values()) if lines else b""

    def join_stale(self, seconds: float | None = None) -> bool:
        """Re-join and re-compress stale pairs, for about `seconds` at most (None: all of
        them); True once none is left."""
        started = time.perf_counter()
        while self._stale:
            pair = self._stale.pop()
            raw = self._join(pair)
            if raw:
                self._segments[pair] = Segment.of(raw)
            else:
                self._segments.pop(pair, None)
            if seconds is not None and time.perf_counter() - started >= seconds:
                break
        return not self._stale

    async def join_stale_off_loop(self, seconds: float) -> None:
        """`join_stale` until none is left: the joins on the loop, about `seconds` at a time
        with yields between; then every joined chunk compressed in one worker-thread call
        (zlib releases the GIL), so a pass that re-compresses most of a 30 MB body neither
        holds the loop nor waits its turn for the loop's core."""
        while self._stale:
            batch: list[tuple[Pair, bytes]] = []
            started = time.perf_counter()
            while self._stale:
                pair = self._stale.pop()
                raw = self._join(pair)
                if raw:
                    batch.append((pair, raw))
                else:
                    self._segments.pop(pair, None)
                if time.perf_counter() - started >= seconds:
                    await asyncio.sleep(0)
                    started = time.perf_counter()
            if not batch:
                continue
            deflated = await asyncio.to_thread(_deflate_all, [raw for _, raw in batch])
            for (pair, raw), compressed in zip(batch, deflated, strict=True):
                # A pair changed again meanwhile is stale again: the next round joins it anew.
                self._segments[pair] = Segment(raw, compressed)
            return  # what went stale during the compression waits for the next pass

    def segments(self, openmetrics: bool, join: bool = True) -> list[Segment]:
        """Every family in declaration order: its header, then its chunks in order. With
        `join`, stale chunks are joined first; without, they keep their last segment."""
        if join:
            self.join_stale()
        out: list[Segment] = []
        headers = self._headers[openmetrics]
        for family in self._families:
            chunks = [
                s
                for index in range(len(self._sizes))
                if (s := self._segments.get((family.name, index))) is not None
            ]
            if chunks:
                out.append(headers[family.name])
                out.extend(chunks)
        return out


def _deflate_all(raws: list[bytes]) -> list[bytes]:
    return [deflate(raw) for raw in raws]
