"""An alert that ended while netgauge stopped before telling anyone is still told after
the restart: the resolution was stored with the alert's end, the notification of it is
decided by the next process (a real webhook receiver on loopback, the real store)."""

from __future__ import annotations

from pathlib import Path

from netgauge.alerting.model import TargetInfo
from netgauge.alerting.service import Alerting
from netgauge.alerting.store import AlertStore
from netgauge.clock import SystemClock
from netgauge.config.alerts import AlertRuleConfig, NotifierConfig
from netgauge.inventory import make_engine, migrate
from netgauge.models import ProbeResult, ProbeStatus
from tests.lab.receivers import WebhookReceiver


def make(path: Path, url: str, group_interval: str) -> Alerting:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    rule = AlertRuleConfig.model_validate(
        {
            "name": "down",
            "condition": {"state": "down"},
            "group_wait": "0s",
            "group_interval": group_interval,
        }
    )
    hook = NotifierConfig.model_validate({"name": "hook", "kind": "webhook", "url": url})
    return Alerting(
        [rule],
        [hook],
        AlertStore(engine),
        SystemClock(),
        state_of=lambda _t: None,
        load_targets=lambda: [TargetInfo("gw")],
        default_gap=False,
    )


def result(up: bool) -> ProbeResult:
    return ProbeResult("gw", "icmp", 1, ProbeStatus.OK if up else ProbeStatus.FAILED)


async def test_a_resolution_stored_but_not_told_is_told_after_a_restart(tmp_path: Path) -> None:
    hook = WebhookReceiver().start()
    try:
        first = make(tmp_path / "inv.db", hook.url, group_interval="1h")
        await first.start()
        first.observe("ping", result(False), "down")
        await wait_for_async(lambda: len(hook.received) == 1)
        first.observe("ping", result(True), "up")  # ends; the next look at the group: 1 h
        await first.stop()  # its end is stored, nobody was told
        assert len(hook.received) == 1

        second = make(tmp_path / "inv.db", hook.url, group_interval="1h")
        await second.start()
        try:
            await wait_for_async(lambda: len(hook.received) == 2)
        finally:
            await second.stop()
        told = hook.payloads()[1]
        assert told["status"] == "resolved" and told["alerts"][0]["labels"]["target"] == "gw"
        assert told["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    finally:
        hook.stop()


async def wait_for_async(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
