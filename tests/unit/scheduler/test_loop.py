"""The Scheduler driven by a FakeClock: timing, no overlap, failures, run-now, changes, stop."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, time, timedelta

import pytest
import structlog

from netgauge.scheduler import (
    SKIP_STILL_RUNNING,
    JobSchedule,
    Scheduler,
    TimeWindow,
    next_due,
    opening_offset,
)
from tests.fakes import FakeClock
from tests.unit.scheduler.conftest import START, Recorder


def ticks(name: str, interval_s: float, count: int, after: datetime = START) -> list[datetime]:
    """The first `count` due times of a window-less job after `after`."""
    out: list[datetime] = []
    for _ in range(count):
        due = next_due(name, interval_s, out[-1] if out else after)
        assert due is not None
        out.append(due)
    return out


async def test_runs_at_aligned_instants_on_time(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.set_jobs([JobSchedule("a", 10), JobSchedule("b", 10)])
    await clock.advance(100)
    for name in ("a", "b"):
        expected = ticks(name, 10, 10)
        assert recorder.due_times(name) == expected
    assert all(due == started for _, due, started in recorder.runs)  # never late
    assert recorder.due_times("a")[0] != recorder.due_times("b")[0]  # phases differ


async def test_loop_sleeps_instead_of_busy_waiting(running: Scheduler, clock: FakeClock) -> None:
    running.set_jobs([JobSchedule("a", 60)])
    await clock.settle()
    before = clock.sleep_calls
    await clock.advance(600)
    # one sleep per run, one per max_sleep_s (5 s) to re-read wall time, plus the current one
    assert clock.sleep_calls - before <= 10 + 600 / 5 + 1
    assert clock.sleepers == 1


async def test_overlapping_occurrence_is_skipped_not_queued(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    recorder.durations["slow"] = 25  # each run outlasts two more ticks
    running.upsert(JobSchedule("slow", 10))
    first, *_ = expected = ticks("slow", 10, 7)
    await clock.advance_to(expected[-1])
    assert recorder.due_times("slow") == [expected[0], expected[3], expected[6]]
    assert recorder.skips == [("slow", expected[i], SKIP_STILL_RUNNING) for i in (1, 2, 4, 5)]
    assert first == expected[0]


async def test_raising_job_does_not_kill_the_loop(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    recorder.failing.add("broken")
    running.set_jobs([JobSchedule("broken", 10), JobSchedule("fine", 10)])
    with structlog.testing.capture_logs() as logs:
        await clock.advance(30)
    assert len(recorder.due_times("broken")) == 3
    assert recorder.finished.count("fine") == 3
    assert running.status().running
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert [entry["job"] for entry in errors] == ["broken"] * 3


async def test_failing_on_skip_does_not_kill_the_loop(clock: FakeClock, recorder: Recorder) -> None:
    async def bad_skip(name: str, due: datetime, reason: str) -> None:
        raise RuntimeError("skip store down")

    recorder.durations["slow"] = 15
    scheduler = Scheduler(recorder.execute, bad_skip, clock)
    scheduler.upsert(JobSchedule("slow", 10))
    task = asyncio.create_task(scheduler.run())
    await clock.advance(40)
    assert len(recorder.due_times("slow")) == 2
    assert not task.done()
    stopper = asyncio.create_task(scheduler.stop())
    await clock.advance(30)
    await stopper
    await task


async def test_disabled_job_does_not_run_until_enabled(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.upsert(JobSchedule("off", 10, enabled=False))
    await clock.advance(50)
    assert recorder.runs == []
    assert running.status().jobs[0].next_due is None
    running.set_enabled("off", True)
    await clock.advance(10)
    assert len(recorder.due_times("off")) == 1


async def test_job_runs_only_inside_its_window(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    window = TimeWindow(time(0, 10), time(0, 12))  # START is 00:00 UTC
    running.upsert(JobSchedule("windowed", 30, window))
    await clock.advance(3600)
    dues = recorder.due_times("windowed")
    assert len(dues) == 4  # two minutes of a 30 s cadence
    assert all(window.contains(due) for due in dues)


async def test_run_now_runs_outside_window_and_refuses_overlap(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    recorder.durations["manual"] = 5
    closed = TimeWindow(days=frozenset({6}))  # Sundays only; START is a Monday
    running.upsert(JobSchedule("manual", 60, closed))
    assert await running.run_now("manual") is True
    assert recorder.runs == [("manual", START, START)]
    assert running.status().in_flight == ("manual",)
    assert await running.run_now("manual") is False
    await clock.advance(5)
    assert recorder.finished == ["manual"]
    assert await running.run_now("manual") is True
    assert recorder.skips == []  # a refused manual request is the caller's answer, not a skip


async def test_run_now_unknown_job_raises_key_error(running: Scheduler) -> None:
    with pytest.raises(KeyError):
        await running.run_now("nope")


async def test_scheduled_tick_during_manual_run_is_skipped(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    recorder.durations["job"] = 100
    running.upsert(JobSchedule("job", 10))
    first = ticks("job", 10, 1)[0]
    await clock.advance_to(first - timedelta(seconds=1))
    assert await running.run_now("job")
    await clock.advance(1)
    assert recorder.skips == [("job", first, SKIP_STILL_RUNNING)]


async def test_jobs_added_and_removed_at_runtime(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    await clock.advance(5)  # the loop is asleep with no jobs at all
    running.set_jobs([JobSchedule("new", 10)])
    await clock.advance(20)
    assert recorder.due_times("new") == ticks("new", 10, 2, after=START + timedelta(seconds=5))
    running.set_jobs([])
    await clock.advance(100)
    assert len(recorder.due_times("new")) == 2
    assert running.status().job_count == 0


async def test_remove_unknown_job_raises(running: Scheduler) -> None:
    with pytest.raises(KeyError):
        running.remove("nope")


async def test_interval_change_takes_effect_from_the_next_due_time(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.upsert(JobSchedule("job", 3600))
    assert running.status().jobs[0].next_due > START + timedelta(seconds=35)  # type: ignore[operator]
    await clock.advance(5)
    running.upsert(JobSchedule("job", 10))  # re-aligned now: no waiting out the old hour
    await clock.advance(30)
    fast = ticks("job", 10, 3, after=START + timedelta(seconds=5))
    assert recorder.due_times("job") == fast


async def test_unchanged_upsert_keeps_the_pending_due_time(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    job = JobSchedule("job", 10)
    running.upsert(job)
    due = running.status().jobs[0].next_due
    assert due is not None
    await clock.advance_to(due)
    running.upsert(job)  # same instant as the run: must not fire that occurrence twice
    # Changed, and `due` is on the new grid too: a 24 h window whose first tick is `due`.
    opens = (due - timedelta(seconds=opening_offset("job", 10, 86_400))).time()
    running.upsert(dataclasses.replace(job, window=TimeWindow(opens, opens)))
    await clock.advance(0)
    assert recorder.due_times("job") == [due]
    assert running.status().jobs[0].next_due == due + timedelta(seconds=10)


async def test_readded_job_cannot_overlap_its_old_run(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    recorder.durations["job"] = 100
    running.upsert(JobSchedule("job", 10))
    await clock.advance(10)
    running.remove("job")
    running.upsert(JobSchedule("job", 10))
    await clock.advance(10)
    assert len(recorder.runs) == 1
    assert [reason for *_, reason in recorder.skips] == [SKIP_STILL_RUNNING]


async def test_status_snapshot(running: Scheduler, clock: FakeClock, recorder: Recorder) -> None:
    recorder.durations["busy"] = 100
    running.set_jobs([JobSchedule("busy", 10), JobSchedule("idle", 60, enabled=False)])
    await clock.advance(10)
    status = running.status()
    assert status.running and status.job_count == 2 and status.in_flight == ("busy",)
    busy, idle = status.jobs
    assert busy.name == "busy" and busy.running and busy.enabled and busy.interval_s == 10
    assert busy.last_started == recorder.runs[0][2]
    assert busy.next_due == next_due("busy", 10, clock.now())
    assert idle.next_due is None and idle.last_started is None and not idle.running


async def test_duplicate_names_are_rejected(scheduler: Scheduler) -> None:
    with pytest.raises(ValueError, match="duplicate job names: a"):
        scheduler.set_jobs([JobSchedule("a", 10), JobSchedule("a", 20)])


@pytest.mark.parametrize("interval", [0, -5, float("nan")])
def test_job_schedule_validates(interval: float) -> None:
    with pytest.raises(ValueError, match="interval must be > 0"):
        JobSchedule("job", interval)


async def test_stop_waits_for_runs_in_flight(
    scheduler: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    recorder.durations["job"] = 5
    scheduler.upsert(JobSchedule("job", 10))
    loop_task = asyncio.create_task(scheduler.run())
    await clock.advance_to(ticks("job", 10, 1)[0])
    stopper = asyncio.create_task(scheduler.stop())
    await clock.advance(4)
    assert not stopper.done() and recorder.finished == []
    await clock.advance(1)
    assert stopper.done() and recorder.finished == ["job"]
    assert loop_task.done()
    await clock.advance(100)
    assert len(recorder.runs) == 1  # nothing new after stop
    assert not scheduler.status().running
    assert await scheduler.run_now("job") is False


async def test_stop_is_bounded_and_cancels_stragglers(
    scheduler: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    recorder.durations["stuck"] = 10_000
    scheduler.upsert(JobSchedule("stuck", 10))
    loop_task = asyncio.create_task(scheduler.run())
    await clock.advance_to(ticks("stuck", 10, 1)[0])
    stopper = asyncio.create_task(scheduler.stop())
    await clock.advance(29)
    assert not stopper.done()
    with structlog.testing.capture_logs() as logs:
        await clock.advance(1)
    assert stopper.done() and loop_task.done()
    assert recorder.finished == []
    assert scheduler.status().in_flight == ()
    assert any(entry["log_level"] == "warning" for entry in logs)


async def test_stop_before_run_makes_run_return(scheduler: Scheduler) -> None:
    await scheduler.stop()
    await asyncio.wait_for(scheduler.run(), timeout=1)
    assert not scheduler.status().running


async def test_run_twice_is_an_error(running: Scheduler) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        await running.run()


async def test_daily_windowed_job_runs_at_every_opening(
    clock: FakeClock, recorder: Recorder
) -> None:
    # Under the old epoch-aligned grid a daily tick almost never fell into a 1-hour window.
    # Hourly wake-ups instead of every 5 s keep three fake days fast; the timing is the same.
    running = Scheduler(recorder.execute, recorder.on_skip, clock, max_sleep_s=3600)
    loop = asyncio.create_task(running.run())
    window = TimeWindow(time(9, 0), time(10, 0))
    running.upsert(JobSchedule("daily", 86_400, window))
    await clock.advance(3 * 86_400)
    offset = timedelta(seconds=opening_offset("daily", 86_400, 3600))
    expected = [START + timedelta(days=d, hours=9) + offset for d in range(3)]
    assert recorder.due_times("daily") == expected
    assert [started for *_, started in recorder.runs] == expected  # on time
    assert running.status().jobs[0].next_due == expected[-1] + timedelta(days=1)
    await running.stop()
    await loop


# --- wall-clock steps (NTP, manual change, VM suspend): FakeClock.set_now moves wall time only


async def test_step_back_resumes_the_cadence_from_the_new_time(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.upsert(JobSchedule("job", 60))
    await clock.advance_to(ticks("job", 60, 1)[0] + timedelta(seconds=10))
    assert len(recorder.runs) == 1
    stepped = clock.now() - timedelta(hours=1)
    with structlog.testing.capture_logs() as logs:
        clock.set_now(stepped)
        await clock.advance(185)  # the old code waited an hour of wall time here
    assert recorder.due_times("job")[1:] == ticks("job", 60, 3, after=stepped)
    assert all(due == started for _, due, started in recorder.runs)  # on time, no backlog
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "wall clock stepped, re-planning jobs"
    ]


async def test_step_forward_does_not_oversleep_the_next_tick(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.upsert(JobSchedule("hourly", 3600))
    first, second = ticks("hourly", 3600, 2)
    await clock.advance_to(first)
    clock.set_now(first + timedelta(minutes=50))  # the loop had planned to sleep 60 min
    await clock.advance(10 * 60)
    assert recorder.due_times("hourly") == [first, second]
    assert recorder.runs[-1][2] == second  # not 50 minutes late


async def test_step_forward_past_a_tick_fires_it_once_promptly_then_keeps_cadence(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.upsert(JobSchedule("job", 60))
    first, missed = ticks("job", 60, 2)
    await clock.advance_to(first)
    stepped = first + timedelta(hours=1)  # like a VM resumed after an hour's suspend
    clock.set_now(stepped)
    await clock.advance(5)
    assert recorder.due_times("job") == [first, missed]  # one overdue tick, not sixty
    assert recorder.runs[-1][2] <= stepped + timedelta(seconds=5)
    await clock.advance(180)
    later = ticks("job", 60, 3, after=recorder.runs[1][2])
    assert recorder.due_times("job")[2:] == later
    assert all(due == started for _, due, started in recorder.runs[2:])


async def test_small_step_back_does_not_fire_a_handled_tick_again(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.upsert(JobSchedule("job", 60))
    first, second, third = ticks("job", 60, 3)
    await clock.advance_to(first + timedelta(seconds=10))
    clock.set_now(first - timedelta(seconds=20))  # back 30 s: `first` comes round again
    await clock.advance(150)
    assert recorder.due_times("job") == [first, second, third]


async def test_step_back_does_not_run_a_daily_windowed_job_twice(
    running: Scheduler, clock: FakeClock, recorder: Recorder
) -> None:
    running.upsert(JobSchedule("daily", 86_400, TimeWindow(time(9, 0), time(10, 0))))
    await clock.advance_to(START + timedelta(hours=9, minutes=30))
    assert len(recorder.runs) == 1
    clock.set_now(START + timedelta(hours=8, minutes=30))  # back 1 h, before today's opening
    await clock.advance(2 * 3600)
    assert len(recorder.runs) == 1
    assert running.status().jobs[0].next_due == recorder.runs[0][1] + timedelta(days=1)


def test_max_sleep_must_be_positive(clock: FakeClock, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="max_sleep_s"):
        Scheduler(recorder.execute, recorder.on_skip, clock, max_sleep_s=0)
