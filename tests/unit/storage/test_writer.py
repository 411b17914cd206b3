"""The batching writer: batches by size and age, keeps what a failing sink did not take."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from netgauge.errors import (
    PermanentStorageError,
    RetryableStorageError,
    StorageError,
    StoragePermissionError,
)
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.base import Refusal, SinkHealth
from netgauge.storage.writer import BatchWriter


def samples(n: int, start: int = 1) -> list[Sample]:
    return [Sample(DEVICE_METRICS, "gw", "m", float(i), i) for i in range(start, start + n)]


class RecordingSink:
    """A fake sink that records batches and can be told to fail."""

    name = "fake"

    def __init__(self) -> None:
        self.batches: list[list[Sample]] = []
        self.fail_with: Exception | None = None
        self.written = asyncio.Event()

    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        if self.fail_with is not None:
            raise self.fail_with
        refused = [Refusal(s, "odd tag") for s in batch if s.device_id.endswith("\\")]
        self.batches.append([s for s in batch if not s.device_id.endswith("\\")])
        self.written.set()
        return refused

    async def health(self) -> SinkHealth:
        return SinkHealth(self.name, True, sum(map(len, self.batches)), None)

    async def close(self) -> None:
        return None


async def test_flushes_in_batches_of_the_configured_size() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=100, flush_interval_s=3600)
    writer.submit(samples(250))
    await writer.flush(force=True)
    assert [len(b) for b in sink.batches] == [100, 100, 50]


async def test_full_batch_wakes_the_flusher_before_the_interval() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=10, flush_interval_s=3600)
    writer.start()
    writer.submit(samples(10))
    await asyncio.wait_for(sink.written.wait(), 5)
    assert len(sink.batches[0]) == 10
    await writer.close()


async def test_age_flushes_a_partial_batch() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=1000, flush_interval_s=0.05)
    writer.start()
    writer.submit(samples(3))
    await asyncio.wait_for(sink.written.wait(), 5)
    assert len(sink.batches[0]) == 3
    await writer.close()


async def test_retryable_failure_keeps_samples_until_the_sink_returns() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=50, flush_interval_s=3600)
    sink.fail_with = RetryableStorageError("down")
    writer.submit(samples(120))
    await writer.flush(force=True)
    assert writer.pending() == {"fake": 120} and sink.batches == []
    sink.fail_with = None
    await writer.flush(force=True)
    got = [s.ts_ns for b in sink.batches for s in b]
    assert got == list(range(1, 121))  # all of them, in order, once
    assert writer.pending() == {"fake": 0}


async def test_permanent_failure_drops_and_counts_the_batch() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=10, flush_interval_s=3600)
    sink.fail_with = PermanentStorageError("bad data")
    writer.submit(samples(10))
    await writer.flush(force=True)
    assert writer.dropped() == {"fake": 10} and writer.pending() == {"fake": 0}


async def test_close_flushes_everything_and_then_refuses() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=7, flush_interval_s=3600)
    writer.start()
    writer.submit(samples(20))
    await writer.close()
    assert sum(map(len, sink.batches)) == 20
    with pytest.raises(StorageError):
        writer.submit(samples(1))


class SlowSink(RecordingSink):
    """Yields to the loop inside each write, as a real store does (a thread, a socket)."""

    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        await asyncio.sleep(0)
        return await super().write(batch)


async def test_concurrent_flushes_write_each_sample_once() -> None:
    sink = SlowSink()
    writer = BatchWriter([sink], batch_size=10, flush_interval_s=3600)
    writer.submit(samples(25))
    await asyncio.gather(*(writer.flush(force=True) for _ in range(4)))
    written = [s.value for batch in sink.batches for s in batch]
    assert sorted(written) == [float(i) for i in range(1, 26)]  # no sample twice, none lost
    assert writer.pending() == {"fake": 0}


async def test_a_refused_sample_costs_only_itself() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=100, flush_interval_s=3600)
    odd = Sample(DEVICE_METRICS, "C:\\", "m", 1.0, 1)
    writer.submit([*samples(3), odd, *samples(2, start=10)])
    await writer.flush(force=True)
    assert [s.value for s in sink.batches[0]] == [1.0, 2.0, 3.0, 10.0, 11.0]
    assert writer.dropped() == {"fake": 1}
    assert writer.refusals() == {"fake": {"odd tag": 1}}
    assert writer.queued() == {"fake": 0}


async def test_pending_series_names_what_is_accepted_but_not_yet_written() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=100, flush_interval_s=3600)
    writer.submit([Sample(DEVICE_METRICS, "gw", "icmp.rtt_avg_ms", 1.0, 1)])
    writer.submit([Sample(DEVICE_METRICS, "other", "cpu_percent", 2.0, 1)])
    assert writer.pending_series("gw") == {(DEVICE_METRICS, "gw", "icmp.rtt_avg_ms")}
    await writer.flush(force=True)
    assert writer.pending_series("gw") == set()


async def test_a_refused_sample_is_a_loss_with_its_reason_and_time() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=100, flush_interval_s=3600)
    assert writer.losses() == {}
    writer.submit([Sample(DEVICE_METRICS, "odd\\", "m", 1.0, 1), *samples(2)])
    await writer.flush(force=True)
    loss = writer.losses()["fake"]
    assert (loss.reason, loss.total) == ("odd tag", 1) and loss.at_ns > 0
    assert writer.failing() == {}


async def test_a_permission_error_is_failing_and_denied_until_a_write_succeeds() -> None:
    sink = RecordingSink()
    writer = BatchWriter([sink], batch_size=100, flush_interval_s=3600)
    sink.fail_with = StoragePermissionError("influxdb write: permission denied for user 'u'")
    writer.submit(samples(3))
    await writer.flush(force=True)
    assert writer.failing() == {"fake": "influxdb write: permission denied for user 'u'"}
    assert writer.denied("fake") and writer.losses() == {}  # kept, not lost
    sink.fail_with = None
    await writer.flush(force=True)
    assert writer.failing() == {} and not writer.denied("fake")
    assert [len(b) for b in sink.batches] == [3]


async def test_what_others_submit_during_a_flush_is_not_ones_own() -> None:
    """An ingest asks whether *its* samples are stored: samples another task submitted
    while the flush wrote to the second sink wait in the first sink's queue, and must not
    make the ingest answer "not stored yet" (the collector would send its stored results
    again). Its own samples still count until every sink took them."""

    class Interleaved(RecordingSink):
        name = "second"

        def __init__(self, writer_of: list[BatchWriter]) -> None:
            super().__init__()
            self.writer_of = writer_of

        async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
            if not self.batches:  # someone else submits, meanwhile (once)
                self.writer_of[0].submit(samples(2, start=100))
            return await super().write(batch)

    holder: list[BatchWriter] = []
    first, second = RecordingSink(), Interleaved(holder)
    writer = BatchWriter([first, second], batch_size=100, flush_interval_s=3600)
    holder.append(writer)
    writer.submit(samples(3))
    mine = writer.accepted
    await writer.flush(force=True)
    assert writer.in_memory() == {"fake": "not written yet"}  # the others' samples wait
    assert writer.in_memory(through=mine) == {}  # but this ingest's own are stored
    first.fail_with = StorageError("down")
    writer.submit(samples(1, start=50))
    mine = writer.accepted
    await writer.flush(force=True)
    assert writer.in_memory(through=mine) == {"fake": "down"}  # its own are not: 503
