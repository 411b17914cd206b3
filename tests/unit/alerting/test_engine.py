"""The rule engine over results and time (a fake clock; no I/O)."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netgauge.alerting.engine import FLAP_WINDOW_S, GAP_STEP_MAX_S, AlertEngine
from netgauge.alerting.model import Alert, AlertState, TargetInfo
from netgauge.alerting.rules import DEFAULT_GAP_RULE, OPS, compile_rules
from netgauge.config.alerts import AlertRuleConfig
from netgauge.models import ProbeResult, ProbeStatus, TargetType
from tests.fakes import FakeClock

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def rule(**kw: Any) -> AlertRuleConfig:
    return AlertRuleConfig.model_validate(kw)


class Harness:
    def __init__(self, *rules: AlertRuleConfig, default_gap: bool = False) -> None:
        self.clock = FakeClock(T0)
        self.engine = AlertEngine(compile_rules(rules, default_gap=default_gap), self.clock)
        self.events: list[tuple[str, str]] = []
        self.engine.listeners.append(lambda a, e: self.events.append((e, a.labels["target"])))
        self.engine.set_targets(
            [
                TargetInfo("gw"),
                TargetInfo("sw1", TargetType.DEVICE, "berlin", ("core",), "gw"),
                TargetInfo("srv", TargetType.DEVICE),
            ]
        )

    def result(
        self,
        target: str,
        up: bool = True,
        prefixed: bool = False,
        labelled: Mapping[str, float] | None = None,
        **metrics: float,
    ) -> None:
        """A result of ``target`` with ``metrics`` (and ``labelled``: metrics whose names are
        no keywords, such as ``disk_percent{mount="/"}``)."""
        metrics = {**metrics, **(labelled or {})}
        status = ProbeStatus.OK if up else ProbeStatus.FAILED
        res = ProbeResult(target, "snmp", 1, status, metrics, prefixed=False)
        self.engine.observe("job", res, "online" if up else "offline")

    def at(self, seconds: float) -> None:
        self.clock.set_now(datetime.fromtimestamp(T0.timestamp() + seconds, UTC))
        self.engine.tick()

    def state(self) -> dict[str, str]:
        return {a.labels["target"]: a.state.value for a in self.engine.alerts.values()}


def test_a_state_rule_is_pending_for_its_for_then_fires_then_resolves() -> None:
    h = Harness(rule(name="down", condition={"state": "down"}, **{"for": "2s"}))
    h.result("srv", up=False)
    assert h.state() == {"srv": "pending"}
    h.at(1.9)
    assert h.state() == {"srv": "pending"}
    h.at(2.0)
    assert h.state() == {"srv": "firing"}
    h.result("srv", up=True)
    assert h.state() == {}
    assert h.events == [("pending", "srv"), ("firing", "srv"), ("resolved", "srv")]


def test_a_pending_alert_that_clears_is_dropped_and_never_fires() -> None:
    h = Harness(rule(name="down", condition={"state": "offline"}, **{"for": "10s"}))
    h.result("srv", up=False)
    h.at(5)
    h.result("srv", up=True)
    h.at(20)
    assert h.events == [("pending", "srv"), ("dropped", "srv")]


def test_a_threshold_recovers_only_below_its_recovery_value() -> None:
    h = Harness(
        rule(
            name="hot",
            condition={"metric": "cpu_percent", "op": ">", "value": 90, "recover_below": 80},
        )
    )
    h.result("srv", cpu_percent=89)
    assert h.state() == {}
    h.result("srv", cpu_percent=95)
    assert h.state() == {"srv": "firing"}
    h.result("srv", cpu_percent=85)  # below 90 but not below 80: still a problem
    assert h.state() == {"srv": "firing"}
    h.result("srv", cpu_percent=79.9)
    assert h.state() == {}


def test_a_labelled_selector_watches_only_that_series() -> None:
    h = Harness(
        rule(
            name="root-full",
            condition={"metric": 'disk_percent{mount="/"}', "op": ">", "value": 90},
        )
    )
    h.result("srv", labelled={'disk_percent{mount="/"}': 95, 'disk_percent{mount="/var"}': 99})
    [alert] = h.engine.alerts.values()
    assert alert.labels["mount"] == "/" and alert.value == 95


def test_every_series_of_a_bare_metric_is_its_own_alert() -> None:
    h = Harness(rule(name="full", condition={"metric": "disk_percent", "op": ">", "value": 90}))
    h.result(
        "srv",
        labelled={
            'disk_percent{mount="C:\\\\"}': 95,
            'disk_percent{mount="/var"}': 99,
            'disk_percent{mount="/"}': 10,
        },
    )
    mounts = sorted(a.labels["mount"] for a in h.engine.alerts.values())
    assert mounts == ["/var", "C:\\"]


def test_a_probe_metric_is_named_with_its_kind() -> None:
    h = Harness(rule(name="loss", condition={"metric": "icmp.loss_pct", "op": ">", "value": 5}))
    res = ProbeResult("gw", "icmp", 1, ProbeStatus.OK, {"loss_pct": 20.0})
    h.engine.observe("ping", res, "up")
    assert h.state() == {"gw": "firing"}


def test_keep_firing_for_holds_a_cleared_alert() -> None:
    h = Harness(rule(name="down", condition={"state": "down"}, keep_firing_for="30s"))
    h.result("srv", up=False)
    h.at(1)
    h.result("srv", up=True)
    h.at(29)
    assert h.state() == {"srv": "firing"}
    h.at(31)
    assert h.state() == {}


def test_a_flapping_alert_keeps_firing_until_quiet_for_a_window() -> None:
    h = Harness(rule(name="down", condition={"state": "down"}))

    def fired() -> int:
        return sum(1 for e, _ in h.events if e == "firing")

    h.result("srv", up=False)
    h.at(10)
    h.result("srv", up=True)  # resolved: first flap
    h.at(20)
    h.result("srv", up=False)  # fires again within the window: now it is flapping
    for t in range(30, 300, 20):
        h.at(t)
        h.result("srv", up=t % 40 == 10)
    assert fired() == 2 and h.state() == {"srv": "firing"}
    last_down = 270  # the loop's last failed check
    h.at(last_down + 599)
    assert h.state() == {"srv": "firing"}
    h.at(last_down + 601)
    assert h.state() == {} and h.events[-1] == ("resolved", "srv")


def test_the_default_gap_rule_fires_for_a_device_silent_five_minutes() -> None:
    h = Harness(default_gap=True)
    assert DEFAULT_GAP_RULE in h.engine.rules
    h.result("srv", cpu_percent=5)
    h.result("gw", cpu_percent=5)  # a destination: not the default rule's business
    fired_at = None
    for tenth in range(2950, 3100, 5):  # ticks every 0.5 s
        h.at(tenth / 10)
        if fired_at is None and h.state():
            fired_at = tenth / 10
    # gaps are checked every 1/60 of the gap (5 s here): late by that much at most
    assert fired_at is not None and 300 < fired_at <= 300 + GAP_STEP_MAX_S
    assert h.state() == {"srv": "firing"}
    h.result("srv", cpu_percent=6)
    h.at(310.5)  # back: resolved at the next tick, not the next gap check
    assert h.state() == {}


def test_a_failed_poll_gives_no_sample_so_the_gap_grows() -> None:
    h = Harness(rule(name="gap", condition={"gap": "1m"}))
    h.result("srv", cpu_percent=5)
    h.at(30)
    h.result("srv", up=False)  # answered nothing: no sample
    h.at(61)
    assert h.state() == {"srv": "firing"}


def test_a_failure_streak_counts_per_job() -> None:
    h = Harness(rule(name="streak", condition={"failures": 3}))
    for _ in range(2):
        h.result("srv", up=False)
    assert h.state() == {}
    h.result("srv", up=False)
    [alert] = h.engine.alerts.values()
    assert alert.labels["job"] == "job" and alert.value == 3


def test_scope_limits_a_rule_to_its_targets() -> None:
    h = Harness(rule(name="core", condition={"state": "down"}, scope={"tags": ["core"]}))
    h.result("srv", up=False)
    h.result("sw1", up=False)
    assert h.state() == {"sw1": "firing"}
    [alert] = h.engine.alerts.values()
    assert alert.labels["site"] == "berlin"


def test_alerts_of_a_removed_target_or_rule_resolve() -> None:
    h = Harness(rule(name="down", condition={"state": "down"}))
    h.result("srv", up=False)
    h.engine.set_targets([TargetInfo("gw")])
    h.at(1)
    assert h.state() == {} and h.events[-1] == ("resolved", "srv")


def test_restored_alerts_continue_without_new_events() -> None:
    h = Harness(rule(name="down", condition={"state": "down"}))
    firing = Alert(
        "f1",
        "down",
        {"alertname": "down", "target": "srv"},
        {},
        AlertState.FIRING,
        T0,
        T0,
        fired_at=T0,
    )
    h.engine.restore([firing], {})
    h.result("srv", up=False)  # same labels? (ours lacks severity/type: a different alert)
    assert ("firing", "srv") in h.events
    h.at(1)
    assert h.engine.alerts["f1"].state is AlertState.FIRING  # restored, untouched by others


@pytest.mark.parametrize(
    "condition, problem",
    [
        ({}, "exactly one of"),
        ({"state": "down", "gap": "5m"}, "exactly one of"),
        ({"metric": "cpu_percent", "op": ">"}, "needs op and value"),
        ({"metric": "cpu_percent", "op": "<", "value": 5, "recover_below": 2}, "recover_below"),
        ({"metric": "cpu percent", "op": ">", "value": 1}, "not a metric name"),
        ({"gap": "0s"}, "between 1s and 7d"),
        ({"state": "down", "value": 3}, "go with metric"),
    ],
)
def test_bad_conditions_are_refused_in_words(condition: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        rule(name="r", condition=condition)


async def test_a_baseline_rule_compares_with_the_same_hour_of_past_weeks() -> None:
    from netgauge.alerting.baseline import Baselines
    from netgauge.storage.base import Point

    asked: list[tuple[str, str, float | None]] = []
    hour = 3600 * 10**9

    async def points(
        target: str, series: str, start: int, end: int, step: float | None
    ) -> list[Point]:
        asked.append((target, series, step))
        # four past weeks: 10 ms at this hour of the week, 50 ms at every other hour
        out = []
        for ts in range(start, end, hour):
            at = datetime.fromtimestamp(ts / 1e9, UTC)
            usual = 10.0 if (at.weekday(), at.hour) == (T0.weekday(), T0.hour) else 50.0
            out.append(Point(ts, usual, usual, usual, 1))
        return out

    h = Harness(rule(name="slow", condition={"baseline": "icmp.rtt_avg_ms", "factor": 2}))
    h.engine.baselines = Baselines(points)

    def ping(ms: float) -> None:
        result = ProbeResult("gw", "icmp", 1, ProbeStatus.OK, {"rtt_avg_ms": ms})
        h.engine.observe("ping", result, "up")

    ping(35.0)  # no baseline yet: nothing is said, a load is queued
    assert h.state() == {}
    assert await h.engine.baselines.load_wanted(T0) == 1
    assert asked == [("gw", "icmp.rtt_avg_ms", 3600.0)]
    ping(19.0)  # under 2 x 10 ms
    assert h.state() == {}
    ping(35.0)  # 3.5 x the usual 10 ms at this hour (though under the 50 ms of others)
    assert h.state() == {"gw": "firing"}


def test_a_tls_certificate_close_to_expiry_is_a_threshold() -> None:
    h = Harness(
        rule(
            name="cert",
            condition={"metric": "http.tls_days_left", "op": "<", "value": 14, "recover_above": 20},
        )
    )

    def res(days: float) -> ProbeResult:
        return ProbeResult("gw", "http", 1, ProbeStatus.OK, {"tls_days_left": days})

    h.engine.observe("web", res(30.0), "up")
    assert h.state() == {}
    h.engine.observe("web", res(13.5), "up")
    assert h.state() == {"gw": "firing"}
    h.engine.observe("web", res(15.0), "up")  # renewed a little: not yet past 20 days
    assert h.state() == {"gw": "firing"}
    h.engine.observe("web", res(89.0), "up")
    assert h.state() == {}


def test_a_path_change_fires_until_the_path_holds_again() -> None:
    h = Harness(rule(name="path", condition={"path_change": True}))

    def trace(*hops: str, up: bool = True) -> ProbeResult:
        return ProbeResult(
            "gw",
            "traceroute",
            1,
            ProbeStatus.OK if up else ProbeStatus.FAILED,
            {},
            details={"path": [{"address": a} for a in hops]},
        )

    h.engine.observe("trace", trace("10.0.0.1", "10.0.1.1"), "up")
    assert h.state() == {}
    h.engine.observe("trace", trace("10.0.0.1", "10.0.9.9", up=False), "down")
    assert h.state() == {}  # a failed trace's partial path is no new path
    h.engine.observe("trace", trace("10.0.0.1", "10.0.2.1"), "up")
    assert h.state() == {"gw": "firing"}
    h.engine.observe("trace", trace("10.0.0.1", "10.0.2.1"), "up")
    assert h.state() == {}


def test_netgauges_own_health_alerts_per_store() -> None:
    h = Harness(rule(name="store", condition={"netgauge": "store_down"}))
    h.engine.health({"store_down": {"influxdb": "writes failing: 403"}})
    [alert] = h.engine.alerts.values()
    assert alert.labels["subject"] == "influxdb" and alert.state is AlertState.FIRING
    h.at(1)  # not a target of the inventory, yet not resolved as a vanished one
    assert len(h.engine.alerts) == 1
    h.engine.health({})
    assert h.engine.alerts == {}


def test_firing_times_of_alerts_long_gone_are_forgotten() -> None:
    h = Harness(rule(name="down", condition={"state": "down"}))
    for i in range(50):  # 50 targets fire and recover once each
        name = f"t{i}"
        h.engine.set_targets([*h.engine.targets.values(), TargetInfo(name)])
        h.result(name, up=False)
        h.result(name, up=True)
    h.at(1)
    assert len(h.engine._fires) == 50  # still within the flap window: kept
    h.at(FLAP_WINDOW_S + 2)
    h.at(2 * FLAP_WINDOW_S + 3)
    assert h.engine._fires == {}


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(
        st.tuples(
            st.sampled_from(sorted(OPS)), st.floats(-5, 5, allow_nan=False).map(lambda x: round(x))
        ),
        min_size=1,
        max_size=6,
    ),
    values=st.lists(
        st.one_of(st.integers(-7, 7).map(float), st.just(math.nan), st.sampled_from([-0.0])),
        min_size=1,
        max_size=12,
    ),
)
def test_thresholds_fire_exactly_when_the_comparison_holds(
    rules: list[tuple[str, float]], values: list[float]
) -> None:
    """The engine skips a series' rules with one comparison when no threshold is crossed;
    whatever the operators and values, the firing alerts are those Python's own
    comparison says are breached (no for, no recovery value: state follows the value)."""
    h = Harness(
        *(
            rule(name=f"r{i}", condition={"metric": "x", "op": op, "value": value})
            for i, (op, value) in enumerate(rules)
        )
    )
    h.engine.flap_window = timedelta(seconds=0.5)  # results 1 s apart: none flaps
    want: set[str] = set()
    for second, value in enumerate(values):
        h.at(second)
        h.result("srv", x=value)
        if not math.isnan(value):  # a NaN says nothing: the alerts stay as they are
            want = {f"r{i}" for i, (op, t) in enumerate(rules) if OPS[op](value, t)}
        assert {a.rule for a in h.engine.alerts.values()} == want


def test_a_new_process_neither_ends_nor_repeats_alerts_it_cannot_judge_yet() -> None:
    """A restart or a new leader: an offline device's state is undecided until it failed
    ``fail_after`` times again, and a failure streak counts from zero. Neither is evidence
    that the outage ended, so the firing alerts stay as they are; a success ends them."""
    first = Harness(
        rule(name="offline", condition={"state": "offline"}),
        rule(name="streak", condition={"failures": 3}),
    )
    for _ in range(3):
        first.result("srv", up=False)
    assert first.state() == {"srv": "firing"} and len(first.engine.alerts) == 2
    persisted = [copy.copy(a) for a in first.engine.alerts.values()]

    second = Harness(
        rule(name="offline", condition={"state": "offline"}),
        rule(name="streak", condition={"failures": 3}),
    )
    second.engine.restore(persisted, {})
    failed = ProbeResult("srv", "snmp", 1, ProbeStatus.FAILED)
    for _ in range(2):  # undecided, streak 1 and 2
        second.engine.observe("job", failed, None)
    second.at(1)
    assert second.events == [] and len(second.engine.alerts) == 2
    second.engine.observe("job", failed, "offline")  # decided again, streak 3: the same
    assert second.events == []
    answered = ProbeResult("srv", "snmp", 1, ProbeStatus.OK)
    second.engine.observe("job", answered, None)  # a success ends the streak's alert only
    assert second.events == [("resolved", "srv")]
    second.engine.observe("job", answered, "online")
    assert sorted(second.events) == [("resolved", "srv")] * 2 and second.engine.alerts == {}
