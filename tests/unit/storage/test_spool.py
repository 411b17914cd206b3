"""The writer's disk spool, and the writer using it: a failing store's batches wait on
disk, go first and in order once it answers, survive a restart, and the size limit drops
by the configured policy, counted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netgauge.errors import RetryableStorageError
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.base import Refusal, SinkHealth
from netgauge.storage.spool import DiskSpool
from netgauge.storage.writer import BatchWriter


def samples(n: int, start: int = 1) -> list[Sample]:
    return [Sample(DEVICE_METRICS, "gw", "m", float(i), i) for i in range(start, start + n)]


class FlakySink:
    name = "remote"

    def __init__(self) -> None:
        self.down = False
        self.written: list[float] = []

    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        if self.down:
            raise RetryableStorageError("connection refused")
        self.written += [s.value for s in batch]
        return []

    async def health(self) -> SinkHealth:
        return SinkHealth(self.name, not self.down, len(self.written), None)

    async def close(self) -> None:
        return None


def test_batches_come_back_in_order_and_survive_reopening(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path / "s.db")
    spool.append(samples(3, 1))
    spool.append(samples(2, 4))
    spool.close()
    again = DiskSpool(tmp_path / "s.db")
    oldest = again.oldest()
    assert oldest is not None and [s.value for s in oldest[1]] == [1.0, 2.0, 3.0]
    again.remove(oldest[0])
    assert [s.ts_ns for s in again.oldest()[1]] == [4, 5]  # type: ignore[index]
    assert again.stats().samples == 2


def test_the_size_limit_drops_by_policy_and_counts(tmp_path: Path) -> None:
    one = len(samples(10)) * 40  # roughly the bytes of a 10-sample batch
    oldest = DiskSpool(tmp_path / "o.db", max_bytes=one * 2, policy="drop_oldest")
    for start in (1, 11, 21, 31):
        assert oldest.append(samples(10, start))
    kept = oldest.oldest()
    assert kept is not None and kept[1][0].value > 1.0  # the first batches went
    assert oldest.stats().dropped_samples >= 10
    newest = DiskSpool(tmp_path / "n.db", max_bytes=one * 2, policy="drop_newest")
    results = [newest.append(samples(10, start)) for start in (1, 11, 21, 31)]
    assert results[0] and not results[-1]
    first = newest.oldest()
    assert first is not None and first[1][0].value == 1.0  # the oldest stayed
    dropped = newest.stats().dropped_samples
    newest.close()
    assert DiskSpool(tmp_path / "n.db").stats().dropped_samples == dropped  # persisted


async def test_a_failing_store_spools_then_replays_in_order(tmp_path: Path) -> None:
    sink = FlakySink()
    spool = DiskSpool(tmp_path / "remote.db")
    writer = BatchWriter([sink], batch_size=4, flush_interval_s=3600, spools={"remote": spool})
    sink.down = True
    writer.submit(samples(6, 1))
    await writer.flush(force=True)
    assert spool.stats().samples == 6 and writer.pending() == {"remote": 6}
    writer.submit(samples(3, 7))  # still down: joins the queue behind the spooled ones
    await writer.flush(force=True)
    sink.down = False
    writer.submit(samples(2, 10))
    await writer.flush(force=True)
    assert sink.written == [float(i) for i in range(1, 12)]  # everything, once, in order
    assert spool.stats().samples == 0 and writer.pending() == {"remote": 0}


async def test_a_restart_resumes_the_replay(tmp_path: Path) -> None:
    sink = FlakySink()
    sink.down = True
    first = BatchWriter(
        [sink], flush_interval_s=3600, spools={"remote": DiskSpool(tmp_path / "r.db")}
    )
    first.submit(samples(5))
    await first.close(timeout_s=2)  # the store is down: the samples wait on disk
    sink.down = False
    second = BatchWriter(
        [sink], flush_interval_s=3600, spools={"remote": DiskSpool(tmp_path / "r.db")}
    )
    await second.flush(force=True)
    assert sink.written == [1.0, 2.0, 3.0, 4.0, 5.0]
    await second.close(timeout_s=2)
