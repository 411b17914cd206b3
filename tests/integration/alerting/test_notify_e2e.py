"""Alerting end to end: real ICMP to lab hosts that go away (their address removed), the
service's rules, a real webhook receiver on loopback.

* an outage of a gateway and the device behind it is one notification, and its recovery
  one more; the device's alert says "unreachable via parent gw";
* every body is signed (HMAC-SHA256 checked here with the standard library);
* a restart neither tells the receiver again nor forgets the firing alert;
* a receiver that is down gets the notification once it is back, the attempts visible.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from tests.conftest import as_admin, wait_for
from tests.lab import Lab, missing_requirement
from tests.lab.receivers import Received, WebhookReceiver

pytestmark = [pytest.mark.network, pytest.mark.privileged]
SECRET = "s3cret-for-hmac"


@pytest.fixture
def lab_hosts() -> Iterator[tuple[Lab, list[str]]]:
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        yield lab, lab.add_hosts(2)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def config(gw: str, sw1: str, url: str) -> str:
    return f"""
settings: {{write_flush_interval_s: 1}}
notifiers:
  - {{name: hook, kind: webhook, url: "{url}", hmac_secret_env: NG_TEST_HMAC}}
alerts:
  - {{name: host-down, condition: {{state: down}}, for: 2s, notify: [hook],
     group_wait: 1s, group_interval: 2s}}
targets:
  - {{name: gw, address: {gw}, type: destination}}
  - {{name: sw1, address: {sw1}, type: device, parent: gw}}
jobs:
  - name: ping
    kind: icmp
    params: {{count: 2, interval: 0.05, timeout: 0.4, pace_ms: 0}}
    targets: [gw, sw1]
    interval: 1s
"""


def start(tmp_path: Path, text: str) -> TestClient:
    settings = Settings(data_dir=tmp_path / "data", port=0)
    service = Service(settings, load_config_text(text, "alerts.yaml").config, "alerts.yaml")
    return TestClient(create_app(service))


def alerts(client: TestClient) -> dict[str, dict[str, Any]]:
    return {a["labels"]["target"]: a for a in client.get("/api/v1/alerts").json()}


def signed(received: Received) -> bool:
    expected = hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    return received.headers.get("X-Netgauge-Signature") == f"sha256={expected}"


def test_an_outage_behind_a_parent_is_one_notification_and_one_recovery(
    tmp_path: Path,
    lab_hosts: tuple[Lab, list[str]],
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab, (gw, sw1) = lab_hosts
    monkeypatch.setenv("NG_TEST_HMAC", SECRET)
    with start(tmp_path, config(gw, sw1, receiver.url)) as client:
        as_admin(client)
        service = client.app.state.service  # type: ignore[attr-defined]
        wait_for(lambda: service.state_of("sw1") == "online", timeout=20, what="sw1 online")
        lab.remove_host(sw1)  # the device first, as when its uplink's far end fails...
        lab.remove_host(gw)  # ...and the gateway with it
        first = wait_for(lambda: receiver.payloads(), timeout=30, what="a notification")
        assert [a["labels"]["target"] for a in first[0]["alerts"]] == ["gw"]
        assert first[0]["status"] == "firing" and first[0]["receiver"] == "hook"
        found = wait_for(
            lambda: (a := alerts(client).get("sw1")) and a["state"] == "firing" and a,
            timeout=30,
            what="sw1's alert firing",
        )
        assert found["suppressed"] == "unreachable via parent gw"
        flushed = service.alerting.dispatcher.flushes
        wait_for(
            lambda: service.alerting.dispatcher.flushes >= flushed + 2,
            timeout=20,
            what="two more looks at the group",
        )
        assert len(receiver.received) == 1, "the device behind the parent was notified too"

        lab.restore_host(gw)
        lab.restore_host(sw1)
        wait_for(lambda: len(receiver.received) >= 2, timeout=30, what="the recovery")
        wait_for(lambda: not alerts(client), timeout=30, what="every alert resolved")
        wait_for(lambda: not service.alerting.dispatcher.groups, timeout=20, what="groups done")
        payloads = receiver.payloads()
        assert len(payloads) == 2
        assert payloads[1]["status"] == "resolved"
        assert [a["labels"]["target"] for a in payloads[1]["alerts"]] == ["gw"]
        assert payloads[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        assert all(signed(r) for r in receiver.received)

        incidents = client.get("/api/v1/incidents").json()
        assert {i["target"] for i in incidents["items"]} == {"gw", "sw1"}
        gw_incident = next(i for i in incidents["items"] if i["target"] == "gw")
        acked = client.post(
            f"/api/v1/incidents/{gw_incident['id']}/ack", json={"comment": "ISP ticket 42"}
        )
        assert acked.status_code == 200, acked.text
        kinds = [e["kind"] for e in acked.json()["timeline"]]
        assert kinds[0] == "fired" and "resolved" in kinds and kinds[-1] == "acked"
        assert kinds.count("notified") == 2  # firing, then resolved
        assert acked.json()["acked_by"] == "token:tests"
        sw1_incident = next(i for i in incidents["items"] if i["target"] == "sw1")
        detail = client.get(f"/api/v1/incidents/{sw1_incident['id']}").json()
        assert "suppressed" in [e["kind"] for e in detail["timeline"]]
        assert "notified" not in [e["kind"] for e in detail["timeline"]]


def test_a_restart_neither_notifies_again_nor_forgets(
    tmp_path: Path,
    lab_hosts: tuple[Lab, list[str]],
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab, (gw, sw1) = lab_hosts
    monkeypatch.setenv("NG_TEST_HMAC", SECRET)
    text = config(gw, sw1, receiver.url)
    with start(tmp_path, text) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        wait_for(lambda: service.state_of("gw") == "up", timeout=20, what="gw up")
        lab.remove_host(gw)
        wait_for(lambda: receiver.received, timeout=30, what="the first notification")
        wait_for(lambda: service.alerting.outbox.sent == 1, timeout=10, what="it recorded sent")
    with start(tmp_path, text) as client:
        as_admin(client)
        service = client.app.state.service  # type: ignore[attr-defined]
        assert alerts(client)["gw"]["state"] == "firing", "the firing alert was forgotten"
        wait_for(
            lambda: service.alerting.dispatcher.flushes >= 3,
            timeout=20,
            what="the group looked at after the restart",
        )
        assert len(receiver.received) == 1, "the restart told the receiver again"
        lab.restore_host(gw)
        wait_for(lambda: len(receiver.received) == 2, timeout=30, what="the recovery")
        assert receiver.payloads()[1]["status"] == "resolved"
        incidents = client.get("/api/v1/incidents").json()
        assert incidents["total"] == 1 and incidents["items"][0]["state"] == "resolved"


def test_a_receiver_that_is_down_gets_it_when_back_with_every_attempt_shown(
    tmp_path: Path,
    lab_hosts: tuple[Lab, list[str]],
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab, (gw, sw1) = lab_hosts
    monkeypatch.setenv("NG_TEST_HMAC", SECRET)
    receiver.status = 503
    with start(tmp_path, config(gw, sw1, receiver.url)) as client:
        as_admin(client)
        service = client.app.state.service  # type: ignore[attr-defined]
        wait_for(lambda: service.state_of("gw") == "up", timeout=20, what="gw up")
        lab.remove_host(gw)

        def failing() -> dict[str, Any] | None:
            items = client.get("/api/v1/notifications").json()["items"]
            return next((n for n in items if n["attempts"] >= 2), None)

        seen = wait_for(failing, timeout=40, what="two failed attempts")
        assert seen["state"] == "pending" and "503" in seen["last_error"]
        assert receiver.url not in seen["last_error"]
        receiver.status = 200
        wait_for(lambda: receiver.received, timeout=40, what="delivery once the receiver is back")

        def marked() -> dict[str, Any] | None:  # recorded once the receiver has answered
            items = client.get("/api/v1/notifications").json()["items"]
            found = next(n for n in items if n["id"] == seen["id"])
            return found if found["state"] == "sent" else None

        sent = wait_for(marked, timeout=10, what="the delivery recorded as sent")
        assert sent["attempts"] >= 3
        assert len(receiver.received) == 1
        key = receiver.received[0].headers["Idempotency-Key"]
        assert key == f"netgauge-{seen['id']}"
