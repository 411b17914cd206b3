"""A collector's durable spool: results spooled per second, one fsync per result (as until
this change) against one per run (``Spool.append_many``), beside the durable queue a user
would otherwise reach for (SQLite, WAL, ``synchronous=FULL``, one transaction per run) and
the floor (the same lines, one write and one fsync per run, no bookkeeping).

Each run is ``--results`` ICMP results as a collector encodes them (a ``__result__`` header
and 13 metrics); each figure is the median of ``--rounds`` rounds, on this machine's disk
(the temporary directory's, or ``--dir``).

    ./scripts/bench spool [--results 1000] [--rounds 5] [--dir PATH]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from netgauge.agent.spool import Batch as SpoolBatch
from netgauge.agent.spool import Spool, encode_line
from netgauge.collectors.protocol import encode_result
from netgauge.models import ProbeResult, ProbeStatus
from netgauge.pollers.readings import Metric

METRICS = ("rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_mdev_ms", "rtt_median_ms",
           "rtt_p50_ms", "rtt_p90_ms", "rtt_p95_ms", "rtt_p99_ms", "jitter_ms", "loss_pct",
           "sent", "received")  # fmt: skip


def run_of(n: int) -> list[tuple[int, list[Metric]]]:
    now = time.time_ns()
    return [
        (
            now + i,
            encode_result(
                "ping",
                ProbeResult(
                    f"h{i}", "icmp", now + i, ProbeStatus.OK, dict.fromkeys(METRICS, 1.0 + i % 7)
                ),
            ),
        )  # fmt: skip
        for i in range(n)
    ]


def per_result(directory: Path, run: list[tuple[int, list[Metric]]]) -> float:
    with Spool(directory, max_bytes=1 << 30) as spool:
        t = time.perf_counter()
        for ts, metrics in run:
            spool.append(ts, metrics)
        return time.perf_counter() - t


def per_run(directory: Path, run: list[tuple[int, list[Metric]]]) -> float:
    with Spool(directory, max_bytes=1 << 30) as spool:
        t = time.perf_counter()
        spool.append_many(run)
        return time.perf_counter() - t


def sqlite_queue(directory: Path, run: list[tuple[int, list[Metric]]]) -> float:
    db = sqlite3.connect(directory / "queue.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE q (seq INTEGER PRIMARY KEY, line BLOB)")
    t = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO q (line) VALUES (?)",
        [(encode_line(SpoolBatch(i + 1, ts, tuple(m))),) for i, (ts, m) in enumerate(run)],
    )
    db.execute("COMMIT")
    elapsed = time.perf_counter() - t
    db.close()
    return elapsed


def floor(directory: Path, run: list[tuple[int, list[Metric]]]) -> float:
    t = time.perf_counter()
    data = b"".join(encode_line(SpoolBatch(i + 1, ts, tuple(m))) for i, (ts, m) in enumerate(run))
    fd = os.open(directory / "plain.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    if not 1 <= args.results <= 100_000 or not 1 <= args.rounds <= 50:
        parser.error("--results 1..100000, --rounds 1..50")
    ways: dict[str, Callable[[Path, list[tuple[int, list[Metric]]]], float]] = {
        "spool, fsync per result (before)": per_result,
        "spool, fsync per run (append_many)": per_run,
        "SQLite WAL, synchronous=FULL, 1 transaction": sqlite_queue,
        "plain file, 1 write + 1 fsync (floor)": floor,
    }
    timings: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
                timings[name].append(way(Path(tmp), run_of(args.results)))
    print(f"{args.results} results per run, median of {args.rounds} rounds "
          f"({args.dir or tempfile.gettempdir()})")  # fmt: skip
    print(f"{'way':<46} {'results/s':>12} {'ms per run':>11}")
    for name, spent in timings.items():
        median = statistics.median(spent)
        print(f"{name:<46} {args.results / median:>12,.0f} {median * 1000:>11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
