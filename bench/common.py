"""Shared by the benchmarks: interleaved timing loops, medians, progress lines, report sections.

Timings are per call, from `timeit`-style loops (`time.perf_counter` around `number` calls).
Cases that are compared run in the same rounds, one after the other, so a noisy moment hits
both; a ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Case = Callable[[], object]


def progress(message: str) -> None:
    """One line on stderr, so a long run shows where it is."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def per_call(fn: Case, number: int) -> float:
    """Seconds per call of `fn`, over `number` calls."""
    started = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - started) / number


def calibrate(fn: Case, target: float) -> int:
    """How many calls take about `target` seconds (after one warm-up call)."""
    fn()
    once = per_call(fn, 1)
    if once * 10 < target:
        once = per_call(fn, 10)
    return max(1, int(target / max(once, 1e-9)))


@dataclass(frozen=True)
class Timings:
    """Seconds per call, one sample per round, by case name."""

    samples: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def ratio(self, slow: str, fast: str) -> float:
        """Median of the per-round ratios slow/fast (both measured in the same round)."""
        pairs = zip(self.samples[slow], self.samples[fast], strict=True)
        return statistics.median(s / f for s, f in pairs)


def interleaved(cases: dict[str, Case], rounds: int, target: float) -> Timings:
    """Each round runs every case for about `target` seconds, in the same order."""
    numbers = {name: calibrate(fn, target) for name, fn in cases.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(per_call(fn, numbers[name]))
    return Timings(samples)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.2f} MiB"


def fmt_ratio(value: float) -> str:
    return f"{value:.1f}×" if value < 100 else f"{value:.0f}×"


@dataclass
class Section:
    """One benchmark's part of docs/performance.md."""

    title: str
    measures: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    headline: str
    meaning: str
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", f"**What it measures.** {self.measures}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
        lines += ["", f"**Result.** {self.headline}", ""]
        lines.extend(f"- {note}" for note in self.notes)
        if self.notes:
            lines.append("")
        lines += [f"**For users.** {self.meaning}", ""]
        return "\n".join(lines)


REPO = Path(__file__).resolve().parents[1]


class Proc:
    """A child Python process that talks in lines (bench.simproc, bench.exporterproc)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def spawn(cls, *args: str) -> Proc:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            limit=1 << 28,  # a stats line carries every lag sample
        )
        return cls(process)

    async def line(self, within: float = 600) -> str:
        assert self.process.stdout is not None
        return (await asyncio.wait_for(self.process.stdout.readline(), within)).decode().strip()

    async def ask(self, command: str, within: float = 600) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return await self.line(within)

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(b"quit\n")
                await asyncio.wait_for(self.process.wait(), 20)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.process.kill()
                await self.process.wait()
