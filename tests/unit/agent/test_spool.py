"""The agent's spool: durable appends (fsync'd), pending in seq order, acknowledgement
(whole segments deleted, partial ones remembered across restarts), seqs that never go back,
a torn last line after a kill -9, damaged lines, and the size limit (oldest dropped, counted)."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netgauge.agent.spool import (
    SEGMENT_SUFFIX,
    STATE_FILE,
    Batch,
    Spool,
    SpoolError,
    decode_line,
    encode_line,
)
from netgauge.pollers.readings import Metric

CPU = Metric("cpu_percent", 12.5)
DISK = Metric("disk_percent", 40.0, {"mount": "/"})


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SEGMENT_SUFFIX}"))


def seqs(batches: list[Batch]) -> list[int]:
    return [batch.seq for batch in batches]


def fill(spool: Spool, count: int, metrics: tuple[Metric, ...] = (CPU,)) -> list[int]:
    return [spool.append(1_000 + n, metrics).seq for n in range(count)]


def test_appended_batches_are_pending_in_seq_order(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        assert fill(spool, 3, (CPU, DISK)) == [1, 2, 3]
        pending = spool.pending(10)
        assert seqs(pending) == [1, 2, 3]
        assert pending[0].to_json() == {
            "seq": 1,
            "ts_ns": 1_000,
            "metrics": [
                {"name": "cpu_percent", "value": 12.5, "labels": {}},
                {"name": "disk_percent", "value": 40.0, "labels": {"mount": "/"}},
            ],
        }
        assert seqs(spool.pending(2)) == [1, 2]


def test_a_line_is_the_protocol_batch_and_round_trips() -> None:
    batch = Batch(7, 123, (DISK,))
    line = encode_line(batch)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == batch.to_json()
    assert decode_line(line) == batch
    assert decode_line(b'{"seq": 0, "ts_ns": 1, "metrics": []}\n') is None
    assert decode_line(b'{"seq": 1, "ts_ns": 1, "metrics": [{"name": "x"}]}\n') is None
    assert decode_line(b"\x00\x00\x00\n") is None


def test_every_append_is_fsynced_and_a_new_segment_fsyncs_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def record(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    with Spool(tmp_path, max_bytes=4096, segment_bytes=512) as spool:
        monkeypatch.setattr(os, "fsync", record)
        spool.append(1, [CPU])  # creates the first segment
        assert synced == ["file", "dir"]
        synced.clear()
        spool.append(2, [CPU])  # same segment
        assert synced == ["file"]


def test_acknowledge_deletes_whole_segments_only(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=8192, segment_bytes=512) as spool:
        fill(spool, 20)
        files = segments(tmp_path)
        assert len(files) > 2
        first_of_second = int(files[1].name.removesuffix(SEGMENT_SUFFIX))
        spool.acknowledge(first_of_second)  # all of segment 1, one batch of segment 2
        assert segments(tmp_path) == files[1:]
        assert spool.pending(100)[0].seq == first_of_second + 1
        spool.acknowledge(20)
        assert segments(tmp_path) == []
        assert spool.pending(100) == []
        assert spool.append(1, [CPU]).seq == 21


def test_acknowledgement_is_idempotent_and_never_goes_back(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        fill(spool, 5)
        spool.acknowledge(3)
        spool.acknowledge(3)
        spool.acknowledge(1)  # a stale answer
        assert seqs(spool.pending(10)) == [4, 5]
        assert spool.stats().acked_through == 3


def test_a_partial_acknowledgement_survives_a_restart(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        fill(spool, 5)
        spool.pending(10)
        spool.acknowledge(2)
    with Spool(tmp_path) as spool:
        assert seqs(spool.pending(10)) == [3, 4, 5]  # nothing acknowledged is sent again
        assert spool.append(9, [CPU]).seq == 6


def test_seqs_rise_across_restarts_even_when_everything_was_acknowledged(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        fill(spool, 4)
    with Spool(tmp_path) as spool:
        assert fill(spool, 2) == [5, 6]
        spool.acknowledge(6)
    assert segments(tmp_path) == []
    with Spool(tmp_path) as spool:  # no segment left: state.json's acked_through is the floor
        assert fill(spool, 1) == [7]


def test_an_acknowledgement_beyond_the_last_seq_moves_the_next_one(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        fill(spool, 2)
        spool.acknowledge(40)  # the server had more: a reset spool directory
        assert spool.pending(10) == []
        assert spool.append(1, [CPU]).seq == 41


def test_a_torn_last_line_is_cut_on_open_never_a_crash(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        fill(spool, 3)
    last = segments(tmp_path)[-1]
    whole = last.read_bytes()
    with last.open("ab") as file:  # what a kill -9 in the middle of a write leaves
        file.write(encode_line(Batch(4, 1, (CPU, DISK)))[:25])
    with Spool(tmp_path) as spool:
        assert last.read_bytes() == whole
        assert seqs(spool.pending(10)) == [1, 2, 3]
        assert spool.append(5, [DISK]).seq == 4  # the torn batch was never handed out
    with Spool(tmp_path) as spool:
        assert seqs(spool.pending(10)) == [1, 2, 3, 4]


def test_a_segment_with_only_a_torn_line_keeps_the_seqs_rising(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=4096, segment_bytes=512) as spool:
        fill(spool, 6)
        spool.acknowledge(6)
    torn = tmp_path / f"{7:020d}{SEGMENT_SUFFIX}"
    torn.write_bytes(b'{"seq":7,"ts_')
    with Spool(tmp_path, max_bytes=4096, segment_bytes=512) as spool:
        assert spool.pending(10) == []
        assert fill(spool, 1) == [7]
        assert seqs(spool.pending(10)) == [7]


def test_a_damaged_complete_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Spool(tmp_path) as spool:
        fill(spool, 3)
    path = segments(tmp_path)[0]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b"\x00" * (len(lines[1]) - 1) + b"\n" + lines[2])
    with caplog.at_level(logging.WARNING), Spool(tmp_path) as spool:
        assert seqs(spool.pending(10)) == [1, 3]
        assert spool.append(1, [CPU]).seq == 4
    assert "damaged line" in caplog.text


def test_a_damaged_state_file_falls_back_to_the_segments(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        fill(spool, 3)
        spool.acknowledge(1)
    (tmp_path / STATE_FILE).write_text("{not json")
    with Spool(tmp_path) as spool:
        assert seqs(spool.pending(10)) == [1, 2, 3]  # sent again: the server ignores 1
        assert spool.append(1, [CPU]).seq == 4


def test_at_the_size_limit_the_oldest_segment_is_dropped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    line = len(encode_line(Batch(10, 1_000, (CPU, DISK))))
    with (
        caplog.at_level(logging.WARNING),
        Spool(tmp_path, max_bytes=2048, segment_bytes=512) as spool,
    ):
        appended = fill(spool, 60, (CPU, DISK))
        stats = spool.stats()
        assert stats.bytes <= 2048
        assert stats.dropped_batches > 0 and stats.dropped_samples == 2 * stats.dropped_batches
        pending = seqs(spool.pending(1000))
        assert pending == appended[-len(pending) :]  # the newest are kept, in order
        assert stats.dropped_batches + len(pending) == 60
        assert len(pending) * line > 2048 - 2 * 512  # at most one segment's worth lost
    assert "spool full" in caplog.text
    with Spool(tmp_path, max_bytes=2048, segment_bytes=512) as spool:  # counts persist
        assert spool.stats().dropped_batches == stats.dropped_batches
        assert spool.stats().dropped_samples == stats.dropped_samples
        assert spool.append(1, [CPU]).seq == 61


def test_acknowledged_batches_are_not_counted_as_dropped(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=2048, segment_bytes=512) as spool:
        fill(spool, 5)
        spool.acknowledge(2)  # a partly acknowledged first segment
        fill(spool, 60)
        stats = spool.stats()
        assert stats.dropped_batches + len(spool.pending(1000)) == 65 - 2


def test_limits_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match="too small"):
        Spool(tmp_path, max_bytes=1000, segment_bytes=512)
    with Spool(tmp_path, max_bytes=4096, segment_bytes=512) as spool:
        with pytest.raises(SpoolError, match="more than a spool segment"):
            spool.append(1, [Metric("disk_percent", 1.0, {"mount": "x" * 600})])
        with pytest.raises(SpoolError, match="cannot be spooled"):
            spool.append(1, [Metric("cpu_percent", float("nan"))])
        with pytest.raises(ValueError):
            spool.pending(0)
        assert spool.append(1, [CPU]).seq == 1  # refused batches use no seq


def test_one_agent_per_spool_directory(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(SpoolError, match="in use by another agent"):
        Spool(tmp_path)
    Spool(tmp_path).close()  # released


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from netgauge.agent.spool import Spool
    from netgauge.pollers.readings import Metric

    spool = Spool(Path(sys.argv[1]), max_bytes=1 << 20, segment_bytes=4096)
    metrics = [Metric("disk_percent", 1.0, {"mount": "/m%d" % n}) for n in range(40)]
    while True:
        batch = spool.append(1, metrics)
        print(batch.seq, flush=True)
    """
)


@pytest.mark.timeout(60)
def test_kill_9_loses_no_batch_whose_append_returned(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    try:
        returned = [int(writer.stdout.readline()) for _ in range(150)]  # bounded: 150 lines
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()
    with Spool(tmp_path, max_bytes=1 << 20, segment_bytes=4096) as spool:
        found = seqs(spool.pending(10_000))
        assert found[: len(returned)] == returned == list(range(1, 151))
        assert found == list(range(1, len(found) + 1))
        assert spool.append(1, [CPU]).seq == len(found) + 1


class ManyInterfaces:
    """A collector on a host with more metrics than one batch may carry."""

    problems: list[str] = []

    def collect(self) -> list[Metric]:
        return [Metric("net_in_bytes_per_sec", 1.0, {"interface": f"if{i}"}) for i in range(12_001)]


def test_a_collection_larger_than_a_batch_is_split_into_several(tmp_path: Path) -> None:
    from netgauge.agent.main import MAX_METRICS_PER_BATCH, spool_one

    spool = Spool(tmp_path)
    try:
        spool_one(ManyInterfaces(), spool)  # type: ignore[arg-type]
        batches = spool.pending(10)
    finally:
        spool.close()
    assert [len(b.metrics) for b in batches] == [5_000, 5_000, 2_001]
    assert max(len(b.metrics) for b in batches) == MAX_METRICS_PER_BATCH
    assert len({b.ts_ns for b in batches}) == 1  # one collection, one time


def test_many_batches_at_once_cost_one_fsync_per_segment_and_come_back_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector's run: one fsync of each segment written, not one per result; every
    batch is pending afterwards in seq order, across a segment boundary and a restart."""
    synced: list[str] = []
    real_fsync = os.fsync

    def record(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    with Spool(tmp_path, max_bytes=1 << 16, segment_bytes=1024) as spool:
        spool.append(1, [CPU])
        monkeypatch.setattr(os, "fsync", record)
        written = spool.append_many((10 + n, [CPU, DISK]) for n in range(20))
        assert seqs(written) == list(range(2, 22))
        files = len(segments(tmp_path))
        assert files >= 2  # the run crossed into new segments
        # one fsync per segment written, plus the directory's for each new one
        assert synced.count("file") == files and synced.count("dir") == files - 1
    with Spool(tmp_path, max_bytes=1 << 16, segment_bytes=1024) as spool:
        again = spool.pending(100)
        assert seqs(again) == list(range(1, 22))
        assert again[5] == written[4] and again[5].metrics == (CPU, DISK)
