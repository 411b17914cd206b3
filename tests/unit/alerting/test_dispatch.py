"""Grouping, dependencies, silences, filters and the notification log (fake clock and an
in-memory outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from netgauge.alerting.dispatch import Dispatcher
from netgauge.alerting.engine import AlertEngine
from netgauge.alerting.model import TargetInfo
from netgauge.alerting.rules import compile_rules
from netgauge.alerting.silences import Silence
from netgauge.alerting.store import LogEntry
from netgauge.config.alerts import AlertRuleConfig, NotifierConfig
from netgauge.models import ProbeResult, ProbeStatus, TargetType
from tests.fakes import FakeClock

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class World:
    """An engine and a dispatcher over N devices behind one gateway."""

    def __init__(
        self, children: int = 3, notifiers: list[dict[str, Any]] | None = None, **rule_kw: Any
    ) -> None:
        self.clock = FakeClock(T0)
        cfg = AlertRuleConfig.model_validate(
            {
                "name": "host-down",
                "condition": {"state": "down"},
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                **rule_kw,
            }
        )
        self.engine = AlertEngine(compile_rules([cfg], default_gap=False), self.clock)
        self.states: dict[str, str] = {}
        self.silences: list[Silence] = []
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.log_only: list[LogEntry] = []
        targets = [TargetInfo("gw")] + [
            TargetInfo(f"sw{i}", TargetType.DEVICE, "site1", (), "gw") for i in range(children)
        ]
        self.engine.set_targets(targets)
        ncfgs = [
            NotifierConfig.model_validate(n)
            for n in notifiers
            or [{"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/x"}]
        ]
        self.dispatcher = self.make_dispatcher(ncfgs)

    def make_dispatcher(self, ncfgs: list[NotifierConfig]) -> Dispatcher:
        async def enqueue(receiver: str, key: str, status: str, payload: Any, entry: Any) -> int:
            if payload is None:
                self.log_only.append(entry)
                return 0
            self.sent.append((receiver, status, payload))
            return len(self.sent)

        d = Dispatcher(
            ncfgs,
            self.engine.rules,
            self.clock,
            enqueue=enqueue,
            state_of=self.states.get,
            targets=lambda: self.engine.targets,
            silences=lambda: self.silences,
            event=lambda *a: None,
        )
        self.engine.listeners = [d.changed]
        return d

    def check(self, target: str, up: bool) -> None:
        self.states[target] = (
            ("up" if up else "down") if target == "gw" else ("online" if up else "offline")
        )
        status = ProbeStatus.OK if up else ProbeStatus.FAILED
        self.engine.observe("j", ProbeResult(target, "icmp", 1, status), self.states[target])

    async def at(self, seconds: float) -> None:
        self.clock.set_now(T0 + timedelta(seconds=seconds))
        self.engine.tick()
        await self.dispatcher.flush_due()

    def firing_targets(self, n: int) -> list[str]:
        payload = self.sent[n][2]
        return sorted(a["labels"]["target"] for a in payload["alerts"] if a["status"] == "firing")


async def test_a_group_waits_then_sends_once_in_the_v4_shape() -> None:
    w = World()
    w.check("sw0", up=False)
    await w.at(10)
    w.check("sw1", up=False)
    await w.at(29)
    assert w.sent == []
    await w.at(30)
    [(receiver, status, payload)] = w.sent
    assert receiver == "hook" and status == "firing"
    assert payload["version"] == "4" and payload["groupLabels"] == {"alertname": "host-down"}
    assert w.firing_targets(0) == ["sw0", "sw1"]
    alert = payload["alerts"][0]
    assert set(alert) >= {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "fingerprint",
        "generatorURL",
    }
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    await w.at(60)
    assert len(w.sent) == 1


async def test_changes_wait_for_the_group_interval_and_repeats_come_after_4h() -> None:
    w = World()
    w.check("sw0", up=False)
    await w.at(30)
    w.check("sw1", up=False)
    await w.at(31)
    assert len(w.sent) == 1
    await w.at(30 + 300)
    assert len(w.sent) == 2 and w.firing_targets(1) == ["sw0", "sw1"]
    await w.at(330 + 4 * 3600 - 300)  # nothing changed, and not 4 h yet
    assert len(w.sent) == 2
    await w.at(330 + 4 * 3600)  # the 4 h repeat
    assert len(w.sent) == 3
    w.check("sw0", up=True)
    w.check("sw1", up=True)
    await w.at(330 + 4 * 3600 + 300)
    assert w.sent[-1][1] == "resolved" and len(w.sent[-1][2]["alerts"]) == 2
    assert w.dispatcher.groups == {}


async def test_an_outage_behind_a_parent_is_one_notification_and_one_recovery() -> None:
    w = World(children=500)
    w.check("gw", up=False)
    for i in range(500):
        w.check(f"sw{i}", up=False)
    for t in (30, 330, 630):
        await w.at(t)
    assert [w.firing_targets(i) for i in range(len(w.sent))] == [["gw"]]
    children = [a for a in w.engine.alerts.values() if a.target != "gw"]
    assert {a.suppressed for a in children} == {"unreachable via parent gw"}
    w.check("gw", up=True)  # the gateway comes back first, its devices a little later
    await w.at(640)
    for i in range(500):
        w.check(f"sw{i}", up=True)
    await w.at(930)
    assert len(w.sent) == 2 and w.sent[1][1] == "resolved"
    assert [a["labels"]["target"] for a in w.sent[1][2]["alerts"]] == ["gw"]


async def test_a_child_still_down_after_its_parent_recovered_is_its_own_problem() -> None:
    w = World(children=1)
    w.check("gw", up=False)
    w.check("sw0", up=False)
    await w.at(30)
    w.check("gw", up=True)
    await w.at(330)  # the parent is seen up: the grace starts
    await w.at(630)
    await w.at(930)
    assert [w.firing_targets(i) for i in range(len(w.sent))][-1] == ["sw0"]


async def test_a_silence_mutes_matching_alerts() -> None:
    from netgauge.alerting.silences import Matcher

    w = World()
    w.silences.append(
        Silence(
            id="s1",
            matchers=[Matcher(name="target", value="sw[01]", isRegex=True)],
            startsAt=T0,
            endsAt=T0 + timedelta(hours=1),
            createdBy="ops",
            comment="maintenance",
        )
    )
    w.check("sw0", up=False)
    w.check("sw1", up=False)
    w.check("sw2", up=False)
    await w.at(30)
    assert w.firing_targets(0) == ["sw2"]


async def test_the_log_keeps_a_restart_from_telling_the_same_again() -> None:
    w = World()
    w.check("sw0", up=False)
    await w.at(30)
    assert len(w.sent) == 1
    log = dict(w.dispatcher.log)
    # a new process: same alerts (restored), same log, a new dispatcher
    d2 = w.make_dispatcher(list(w.dispatcher.notifiers.values()))
    d2.log = log
    for alert in w.engine.alerts.values():
        d2.changed(alert, "firing")
    w.dispatcher = d2
    await w.at(100)
    assert len(w.sent) == 1


async def test_filters_choose_what_each_notifier_hears() -> None:
    w = World(
        notifiers=[
            {
                "name": "pager",
                "kind": "webhook",
                "url": "http://127.0.0.1:9/p",
                "only": "down",
                "severities": ["critical"],
            },
            {"name": "ups", "kind": "webhook", "url": "http://127.0.0.1:9/u", "only": "up"},
            {"name": "all", "kind": "webhook", "url": "http://127.0.0.1:9/a"},
        ],
        severity="critical",
    )
    w.check("sw0", up=False)
    await w.at(30)
    assert sorted(r for r, _, _ in w.sent) == ["all", "pager"]
    w.check("sw0", up=True)
    await w.at(330)
    assert sorted(r for r, s, _ in w.sent if s == "resolved") == ["all", "ups"]
