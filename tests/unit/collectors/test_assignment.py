"""Who checks what: rendezvous hashing over a site's live collectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from netgauge.collectors.assignment import Fleet, assignment_of, owner
from netgauge.config.model import JobConfig
from netgauge.inventory.collectors import CollectorInfo
from netgauge.models import Target

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def collector(name: str, site: str, seen_s_ago: float | None = 1.0) -> CollectorInfo:
    seen = None if seen_s_ago is None else NOW - timedelta(seconds=seen_s_ago)
    return CollectorInfo(name, site, seen)


def targets(site: str | None, n: int) -> list[Target]:
    return [Target(f"{site}-{i}", "127.0.0.1", site=site) for i in range(n)]


def test_only_a_dead_collectors_targets_move_and_they_come_back() -> None:
    names = [f"c{i}" for i in range(4)]
    hosts = [f"t{i}" for i in range(2000)]
    before = {t: owner(t, names) for t in hosts}
    counts = {c: sum(1 for o in before.values() if o == c) for c in names}
    assert all(400 <= n <= 600 for n in counts.values()), counts  # spread evenly
    after = {t: owner(t, names[1:]) for t in hosts}
    moved = {t for t in hosts if before[t] != after[t]}
    assert moved == {t for t in hosts if before[t] == "c0"}  # c0's targets only
    assert {t: owner(t, names) for t in hosts} == before  # back: the same owners again
    assert owner("t1", []) is None


def test_a_site_with_collectors_is_theirs_only_and_vantage_jobs_run_from_each_site() -> None:
    fleet = Fleet.of(
        [collector("a1", "a"), collector("a2", "a", seen_s_ago=60), collector("b1", "b"),
         collector("z1", "z", seen_s_ago=None)],
        NOW, dead_after_s=30,
    )  # fmt: skip
    assert fleet.alive == {"a1", "b1"}
    job = JobConfig(name="j", kind="tcp", targets=["x"])
    a, hq, z = targets("a", 5), targets("hq", 2), targets("z", 2)
    assert all(fleet.runner_of(job, t) == ["a1"] for t in a)  # a2 is dead
    assert all(fleet.central_runs(job, t) and fleet.runner_of(job, t) == [] for t in hq)
    # z has a collector that never synced: nobody runs z's targets (not the central)
    assert all(not fleet.central_runs(job, t) and fleet.runner_of(job, t) == [] for t in z)
    multi = JobConfig(name="m", kind="tcp", targets=["x"], vantage=["a", "b"], quorum=2)
    assert all(sorted(fleet.runner_of(multi, t)) == ["a1", "b1"] for t in hq)
    assert not any(fleet.central_runs(multi, t) for t in hq)
    mine = assignment_of("b1", fleet, [(job, a + hq), (multi, hq)])
    assert [(cfg.name, [t.name for t in ts]) for cfg, ts in mine] == [("m", ["hq-0", "hq-1"])]
