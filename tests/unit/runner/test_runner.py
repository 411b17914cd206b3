"""The runner: limits, spreading, timeouts, crashes as data, runs recorded, samples stored."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from netgauge.config.loader import load_config_text
from netgauge.config.model import JobConfig
from netgauge.inventory import Inventory, make_engine, sync_inventory
from netgauge.models import ProbeResult, ProbeStatus, Target, TargetType, now_ns
from netgauge.pollers.readings import DeviceState
from netgauge.probes.base import ProbeParams
from netgauge.runner.checks import spread_gap
from netgauge.runner.runner import JobRunner, outcome_of
from netgauge.status import StatusTracker
from netgauge.storage import BatchWriter, EmbeddedStore


class NoParams(ProbeParams):
    pass


class ScriptedProbe:
    """Answers per target name: 'ok', 'down', 'hang', 'boom'; tracks concurrency."""

    kind: ClassVar[str] = "scripted"
    params_model: ClassVar[type[ProbeParams]] = NoParams

    def __init__(self, script: dict[str, str], release: asyncio.Event | None = None) -> None:
        self.script, self.release = script, release
        self.in_flight = self.max_in_flight = 0

    async def run(self, target: Target, params: Any) -> ProbeResult:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            action = self.script.get(target.name, "ok")
            if self.release is not None:
                await self.release.wait()
            if action == "hang":
                await asyncio.Event().wait()
            if action == "boom":
                raise RuntimeError("probe bug")
            status = ProbeStatus.OK if action == "ok" else ProbeStatus.FAILED
            error = None if action == "ok" else "no answer"
            return ProbeResult(target.name, self.kind, now_ns(), status, {"x": 1.0}, error)
        finally:
            self.in_flight -= 1


class RecordingClock:
    """Records the sleeps the runner asks for instead of waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def targets(n: int) -> list[Target]:
    return [Target(f"t{i:04d}", "127.0.0.1") for i in range(n)]


Parts = tuple[Inventory, EmbeddedStore, BatchWriter]


@pytest.fixture
def parts(migrated_sqlite: str, tmp_path: Path) -> Iterator[Parts]:
    engine = make_engine(migrated_sqlite)
    store = EmbeddedStore(tmp_path / "m.db")
    writer = BatchWriter([store], batch_size=1000, flush_interval_s=3600)
    yield Inventory(engine), store, writer
    engine.dispose()


def job(**kw: Any) -> JobConfig:
    return JobConfig.model_validate({"name": "j", "kind": "scripted", "targets": ["x"], **kw})


def runner_with(parts: Parts, probe: Any, clock: Any = None, **kw: Any) -> JobRunner:
    inv, _, writer = parts
    return JobRunner(inv, writer, StatusTracker(), clock=clock, probes={"scripted": probe}, **kw)


async def test_timeout_and_crash_become_results(parts: Parts) -> None:
    probe = ScriptedProbe({"t0001": "hang", "t0002": "boom", "t0003": "down"})
    runner = runner_with(parts, probe)
    results = await runner.run_checks(job(timeout=0.2), targets(4))
    got = [(r.target, r.status.value) for r in results]
    assert got == [("t0000", "ok"), ("t0001", "timeout"), ("t0002", "failed"), ("t0003", "failed")]
    assert results[1].error == "check timed out after 0.2s"
    assert results[2].error == "internal error: RuntimeError: probe bug"
    out = outcome_of(results)
    assert (out.status, out.targets_ok, out.targets_failed) == ("partial", 1, 3)


async def test_per_job_and_global_concurrency_are_bounded(parts: Parts) -> None:
    release = asyncio.Event()
    probe = ScriptedProbe({}, release)
    runner = runner_with(parts, probe, max_concurrency=50)
    task = asyncio.create_task(runner.run_checks(job(concurrency=7), targets(40)))
    while probe.in_flight < 7:
        await asyncio.sleep(0)
    for _ in range(50):  # give any extra task every chance to start
        await asyncio.sleep(0)
    assert probe.in_flight == 7
    release.set()
    assert len(await task) == 40 and probe.max_in_flight == 7

    probe2 = ScriptedProbe({}, asyncio.Event())
    runner2 = runner_with(parts, probe2, max_concurrency=3)
    task2 = asyncio.create_task(runner2.run_checks(job(concurrency=100), targets(20)))
    while probe2.in_flight < 3:
        await asyncio.sleep(0)
    for _ in range(50):
        await asyncio.sleep(0)
    assert probe2.in_flight == 3
    assert probe2.release is not None
    probe2.release.set()
    await task2


async def test_starts_of_a_large_run_are_spread(parts: Parts) -> None:
    clock = RecordingClock()
    runner = runner_with(parts, ScriptedProbe({}), clock=clock)
    await runner.run_checks(job(interval=60), targets(1000))
    offsets = sorted(clock.sleeps)
    assert len(set(offsets)) == 1000  # no two targets share a start instant
    assert offsets[1] - offsets[0] == pytest.approx(spread_gap(1000, 60))
    assert offsets[-1] <= 60 * 0.25


def test_spread_gap_bounds() -> None:
    assert spread_gap(1, 60) == 0.0
    assert spread_gap(1000, 60) == 0.002  # capped at 2 ms apart
    assert spread_gap(1000, 1) == pytest.approx(0.25 / 1000)  # never more than 1/4 interval


async def test_results_become_samples_and_status(parts: Parts) -> None:
    inv, store, writer = parts
    status = StatusTracker()
    runner = JobRunner(inv, writer, status, probes={"scripted": ScriptedProbe({"t0001": "down"})})
    await runner.run_checks(job(), targets(2))
    await writer.flush(force=True)
    latest = {v.device_id: v.value for v in await store.latest("device_status")}
    assert latest == {"t0000": 1.0, "t0001": 0.0}
    assert [v.metric_name for v in await store.latest("device_metrics", "t0000")] == ["scripted.x"]
    assert status.get("t0000").state == "up" and status.get("t0001").state == "down"  # type: ignore[union-attr]


async def test_execute_records_the_run_against_real_tcp(parts: Parts) -> None:
    inv, store, writer = parts
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    open_port = listener.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]  # bound, not listening: connects are refused
    text = f"""
targets: [{{name: a, address: 127.0.0.1}}]
jobs:
  - {{name: open, kind: tcp, params: {{port: {open_port}}}, targets: [a]}}
  - {{name: closed, kind: tcp, params: {{port: {closed_port}}}, targets: [a]}}
"""
    sync_inventory(inv, load_config_text(text).config, "yaml:t")
    runner = JobRunner(inv, writer, StatusTracker())
    at = datetime.now(UTC)
    assert (await runner.execute("open", at)).status == "ok"
    runner.mark_manual("closed")
    bad = await runner.execute("closed", at)
    assert (bad.status, bad.targets_failed) == ("failed", 1)
    assert bad.error is not None and "refused" in bad.error.lower()
    runs = {r.job_name: r for r in inv.list_runs().items}
    assert runs["open"].status == "ok" and runs["open"].trigger == "schedule"
    assert runs["closed"].status == "failed" and runs["closed"].trigger == "manual"
    missing = await runner.execute("no-such-job", at)
    assert missing.status == "failed" and "not found" in (missing.error or "")
    listener.close()
    closed.close()


def _sequence(rs: Sequence[ProbeResult]) -> list[str]:
    return [r.status.value for r in rs]


class UnprivilegedBatchProbe:
    """A batch probe on a machine that permits no socket for it."""

    kind: ClassVar[str] = "scripted"
    params_model: ClassVar[type[ProbeParams]] = NoParams

    async def run(self, target: Target, params: Any) -> ProbeResult:
        raise AssertionError("the runner must use run_batch")

    async def run_batch(self, targets: Sequence[Target], params: Any) -> list[ProbeResult]:
        from netgauge.errors import ProbeSetupError

        raise ProbeSetupError("no ICMP socket: run as root or set net.ipv4.ping_group_range")

    def batch_duration(self, n_targets: int, params: Any) -> float:
        return 1.0


async def test_a_probe_that_cannot_run_here_fails_its_targets_with_the_reason(parts: Parts) -> None:
    runner = runner_with(parts, UnprivilegedBatchProbe())
    results = await runner.run_checks(job(), targets(3))
    assert [r.status.value for r in results] == ["failed"] * 3
    assert results[0].error == (
        "cannot run scripted probes here: no ICMP socket: run as root or set "
        "net.ipv4.ping_group_range"
    )


class PathProbe:
    """Reports the next scripted path for every target (like a traceroute)."""

    kind: ClassVar[str] = "scripted"
    params_model: ClassVar[type[ProbeParams]] = NoParams

    def __init__(self, paths: list[list[str | None]], up: bool = True) -> None:
        self.paths, self.up = paths, up

    async def run(self, target: Target, params: Any) -> ProbeResult:
        status = ProbeStatus.OK if self.up else ProbeStatus.FAILED
        return ProbeResult(
            target.name, self.kind, now_ns(), status, {}, None, {"path": self.paths.pop(0)}
        )


async def test_path_changes_become_events(parts: Parts) -> None:
    inv = parts[0]
    a: list[str | None] = ["198.19.240.1", "198.19.240.9"]
    b: list[str | None] = ["198.19.240.1", None, "198.19.240.9"]
    runner = runner_with(parts, PathProbe([a, a, b]))
    for _ in range(3):
        await runner.run_checks(job(), targets(1))
    events = inv.list_events(target="t0000")
    assert [(e.kind, e.data) for e in events] == [("path_change", {"old": a, "new": b})]


async def test_a_failed_trace_does_not_replace_the_path(parts: Parts) -> None:
    inv = parts[0]
    full: list[str | None] = ["198.19.240.1", "198.19.240.9"]
    partial: list[str | None] = ["198.19.240.1", None]
    await runner_with(parts, PathProbe([full])).run_checks(job(), targets(1))
    await runner_with(parts, PathProbe([partial], up=False)).run_checks(job(), targets(1))
    assert inv.current_path("j", "t0000") == full and inv.list_events() == []


class PollProbe(ScriptedProbe):
    """A device poll: the runner backs off while the device is offline, one poll at a time."""

    kind: ClassVar[str] = "poll"
    device_poll: ClassVar[bool] = True

    def __init__(self, script: dict[str, str], release: asyncio.Event | None = None) -> None:
        super().__init__(script, release)
        self.polled: list[str] = []

    async def run(self, target: Target, params: Any) -> ProbeResult:
        self.polled.append(target.name)
        return await super().run(target, params)


def device(name: str) -> Target:
    return Target(name, "127.0.0.1", type=TargetType.DEVICE)


async def test_an_offline_device_is_polled_less_often_until_it_is_back(parts: Parts) -> None:
    probe = PollProbe({"sw1": "down"})
    runner = JobRunner(parts[0], parts[2], StatusTracker(), probes={"poll": probe})
    cfg = job(kind="poll")
    for _ in range(3):  # three failed checks in a row: offline
        await runner.run_checks(cfg, [device("sw1")])
    assert runner.devices.state("sw1") is DeviceState.OFFLINE
    probe.polled.clear()
    for _ in range(8):
        await runner.run_checks(cfg, [device("sw1")])
    assert len(probe.polled) == 3  # runs 1, 3 and 7 of 8, not all of them
    probe.script["sw1"] = "ok"
    runner.devices.forget("sw1")  # e.g. the status job saw it answer again
    probe.polled.clear()
    for _ in range(3):
        await runner.run_checks(cfg, [device("sw1")])
    assert probe.polled == ["sw1"] * 3


async def test_two_jobs_never_poll_one_device_at_once(parts: Parts) -> None:
    release = asyncio.Event()
    probe = PollProbe({}, release)
    runner = JobRunner(parts[0], parts[2], StatusTracker(), probes={"poll": probe})
    runs = [
        asyncio.create_task(runner.run_checks(job(name=name, kind="poll"), [device("sw1")]))
        for name in ("a", "b")
    ]
    while not probe.polled:
        await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)
    assert probe.max_in_flight == 1  # the second waits for the device
    release.set()
    await asyncio.gather(*runs)
    assert probe.polled == ["sw1", "sw1"] and probe.max_in_flight == 1


async def test_kind_concurrency_bounds_one_kind(parts: Parts) -> None:
    release = asyncio.Event()
    probe = ScriptedProbe({}, release)
    runner = runner_with(parts, probe, kind_concurrency={"scripted": 3})
    task = asyncio.create_task(runner.probe(job(concurrency=50), targets(20)))
    while probe.in_flight < 3:
        await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)
    assert probe.max_in_flight == 3
    release.set()
    assert len(await task) == 20


def test_a_runs_outcome_counts_the_samples_refused_by_validation() -> None:
    results = [
        ProbeResult("a", "snmp", 0, ProbeStatus.OK, {}, None, {"rejected": 2}),
        ProbeResult("b", "snmp", 0, ProbeStatus.OK, {}, None, {"rejected": 1}),
        ProbeResult("c", "icmp", 0, ProbeStatus.OK, {}, None),
    ]
    assert outcome_of(results).samples_rejected == 3


class SlowPoll(PollProbe):
    """A poll whose own timeouts add up to more than the runner's default."""

    def check_timeout(self, params: Any) -> float:
        return 30.0


async def test_a_poll_kind_sets_its_own_check_timeout(parts: Parts) -> None:
    seen: list[float] = []
    runner = JobRunner(parts[0], parts[2], StatusTracker(), probes={"poll": SlowPoll({})})

    async def guarded(probe: Any, target: Target, params: Any, timeout: float) -> ProbeResult:
        seen.append(timeout)
        return ProbeResult(target.name, "poll", now_ns(), ProbeStatus.OK, {})

    runner._guarded = guarded  # type: ignore[method-assign]
    await runner.probe(job(kind="poll"), [device("sw1")])
    await runner.probe(job(kind="poll", timeout="7s"), [device("sw1")])
    assert seen == [30.0, 7.0]  # the kind's own bound, unless the job sets one


class HoldingPoll(PollProbe):
    """Polls of sw1 wait for ``release``; others answer at once."""

    async def run(self, target: Target, params: Any) -> ProbeResult:
        self.polled.append(target.name)
        if target.name == "sw1" and self.release is not None:
            await self.release.wait()
        return ProbeResult(target.name, self.kind, now_ns(), ProbeStatus.OK, {})


async def test_a_poll_waiting_for_its_device_holds_no_slot(parts: Parts) -> None:
    release = asyncio.Event()
    probe = HoldingPoll({}, release)
    runner = JobRunner(parts[0], parts[2], StatusTracker(), probes={"poll": probe})
    first = asyncio.create_task(runner.run_checks(job(name="a", kind="poll"), [device("sw1")]))
    while probe.polled != ["sw1"]:
        await asyncio.sleep(0)
    # job b has one slot; its sw1 poll waits for the device, its sw2 poll must still run
    second = asyncio.create_task(
        runner.run_checks(job(name="b", kind="poll", concurrency=1), [device("sw1"), device("sw2")])
    )

    async def sw2_polled() -> None:
        while "sw2" not in probe.polled:
            await asyncio.sleep(0.001)  # (starts are spread by up to 2 ms)

    await asyncio.wait_for(sw2_polled(), timeout=5)
    assert probe.polled == ["sw1", "sw2"]
    release.set()
    await asyncio.gather(first, second)
    assert probe.polled == ["sw1", "sw2", "sw1"]


async def test_test_now_waits_for_the_global_limit_like_a_scheduled_check(parts: Any) -> None:
    """One way to run a check: Test now (check_once) takes a slot of the global limit as a
    scheduled run does, and says a crash, a timeout, a setup failure in the same words."""
    release = asyncio.Event()
    probe = ScriptedProbe({"t0003": "boom", "t0004": "hang"}, release)
    runner = runner_with(parts, probe, max_concurrency=2)
    scheduled = asyncio.create_task(runner.run_checks(job(), targets(2)))
    while probe.in_flight < 2:
        await asyncio.sleep(0)
    tested = asyncio.create_task(runner.check_once(job(), Target("t0002", "127.0.0.1")))
    for _ in range(50):  # give it every chance to start past the limit
        await asyncio.sleep(0)
    assert probe.in_flight == 2 and not tested.done()
    release.set()
    await scheduled
    assert (await tested).status is ProbeStatus.OK
    boom = await runner.check_once(job(), Target("t0003", "127.0.0.1"))
    scheduled_boom = (await runner.run_checks(job(), [Target("t0003", "127.0.0.1")]))[0]
    assert boom.error == scheduled_boom.error == "internal error: RuntimeError: probe bug"
    hang = await runner.check_once(job(timeout=0.1), Target("t0004", "127.0.0.1"))
    assert (hang.status, hang.error) == (ProbeStatus.TIMEOUT, "check timed out after 0.1s")
    unprivileged = runner_with(parts, UnprivilegedBatchProbe())
    setup = await unprivileged.check_once(job(), Target("t0005", "127.0.0.1"))
    assert setup.error is not None and setup.error.startswith("cannot run scripted probes here")
