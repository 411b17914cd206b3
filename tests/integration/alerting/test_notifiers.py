"""Each notifier against the real thing, through the console's "send test" (the API):

* email: aiosmtpd on loopback requiring STARTTLS and a login; the message has a text and
  an HTML part and the password came from the environment;
* Alertmanager: Debian's prometheus-alertmanager, which then lists the alert itself;
* every notifier's test goes through the outbox (visible in /api/v1/notifications).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from tests.conftest import as_admin, free_port, wait_for
from tests.lab.http import make_certificate

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def start(tmp_path: Path, text: str) -> TestClient:
    settings = Settings(data_dir=tmp_path / "data", port=0)
    service = Service(settings, load_config_text(text, "n.yaml").config, "n.yaml")
    return TestClient(create_app(service))


def delivered(client: TestClient, nid: int) -> dict[str, Any] | None:
    items = client.get("/api/v1/notifications").json()["items"]
    found = next((n for n in items if n["id"] == nid), None)
    return found if found and found["state"] != "pending" else None


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, list[bytes], Path]]:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    got: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            got.append(envelope.original_content)
            return "250 OK"

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"netgauge",
            b"mail-pass",
        )
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield port, got, cert.cert
    controller.stop()


def test_email_over_starttls_with_a_login(
    tmp_path: Path, smtp_server: tuple[int, list[bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, got, ca = smtp_server
    monkeypatch.setenv("NG_TEST_SMTP_PASSWORD", "mail-pass")
    text = f"""
notifiers:
  - name: mail
    kind: email
    smtp_host: 127.0.0.1
    smtp_port: {port}
    smtp_user: netgauge
    smtp_password_env: NG_TEST_SMTP_PASSWORD
    tls_ca_file: {ca}
    from: netgauge@example.org
    to: [noc@example.org]
"""
    with start(tmp_path, text) as client:
        as_admin(client)
        answer = client.post("/api/v1/notifiers/mail/test")
        assert answer.status_code == 202, answer.text
        done = wait_for(
            lambda: delivered(client, answer.json()["notification"]),
            timeout=20,
            what="the test email",
        )
        assert done["state"] == "sent", done
    [raw] = got
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["To"] == "noc@example.org" and "netgauge-test" in msg["Subject"]
    assert msg["Subject"].startswith("[FIRING:1]")
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert text_part is not None and "a test notification from netgauge" in text_part.get_content()
    assert html_part is not None and "<table" in html_part.get_content()
    assert b"mail-pass" not in raw


def test_without_starttls_the_login_fails_visibly_and_is_retried(
    tmp_path: Path, smtp_server: tuple[int, list[bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, got, _ca = smtp_server
    monkeypatch.setenv("NG_TEST_SMTP_PASSWORD", "mail-pass")
    text = f"""
notifiers:
  - {{name: mail, kind: email, smtp_host: 127.0.0.1, smtp_port: {port}, smtp_user: netgauge,
     smtp_password_env: NG_TEST_SMTP_PASSWORD, starttls: false, from: a@example.org,
     to: [b@example.org]}}
"""
    with start(tmp_path, text) as client:
        as_admin(client)
        nid = client.post("/api/v1/notifiers/mail/test").json()["notification"]

        def failed() -> dict[str, Any] | None:
            items = client.get("/api/v1/notifications").json()["items"]
            return next((n for n in items if n["id"] == nid and n["last_error"]), None)

        seen = wait_for(failed, timeout=20, what="a refused attempt")
        # the server offers no login before TLS: the password never crossed in clear
        assert "AUTH extension not supported" in seen["last_error"]
        assert "mail-pass" not in seen["last_error"] and seen["state"] == "pending"
    assert got == []


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    if ALERTMANAGER is None:
        pytest.skip("needs Alertmanager: Debian package prometheus-alertmanager")
    config = tmp_path / "am.yml"
    config.write_text(
        "route: {receiver: blackhole}\nreceivers:\n  - name: blackhole\n", encoding="utf-8"
    )
    port = free_port()
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None  # died: stop waiting, fail below

    wait_for(ready, timeout=30, what="alertmanager ready")
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_alertmanager_notifier_hands_alerts_to_a_real_alertmanager(
    tmp_path: Path, alertmanager: str
) -> None:
    text = f"""
notifiers:
  - {{name: am, kind: alertmanager, url: "{alertmanager}"}}
"""
    with start(tmp_path, text) as client:
        as_admin(client)
        nid = client.post("/api/v1/notifiers/am/test").json()["notification"]
        done = wait_for(lambda: delivered(client, nid), timeout=20, what="the hand-over")
        assert done["state"] == "sent", done
    listed = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
    [alert] = [a for a in listed if a["labels"].get("alertname") == "netgauge-test"]
    assert alert["labels"]["receiver"] == "am"
    assert alert["annotations"]["summary"].startswith("a test notification")


def test_notifier_urls_are_never_shown_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    monkeypatch.setenv("NG_TEST_SLACK_URL", token_url)
    text = """
notifiers:
  - {name: chat, kind: slack, url_env: NG_TEST_SLACK_URL}
  - {name: hook, kind: webhook, url: "http://user:pw@127.0.0.1:9/path?token=abc"}
"""
    with start(tmp_path, text) as client:
        as_admin(client)
        listed = client.get("/api/v1/notifiers").json()
        assert {n["name"]: n["where"] for n in listed} == {
            "chat": "(URL from the environment)",
            "hook": "http://127.0.0.1:9",
        }
        assert "SECRET" not in client.get("/api/v1/notifiers").text
        assert client.post("/api/v1/notifiers/nope/test").status_code == 404


def test_the_apprise_long_tail_reaches_its_service(tmp_path: Path) -> None:
    """apprise's json:// service to a real receiver on loopback (any apprise service works
    the same way: Telegram, ntfy, Pushover...)."""
    pytest.importorskip("apprise", reason="the apprise extra: pip install 'netgauge[apprise]'")
    from tests.lab.receivers import WebhookReceiver

    hook = WebhookReceiver().start()
    try:
        text = f"""
notifiers:
  - {{name: tail, kind: apprise, url: "json://127.0.0.1:{hook.port}/alerts"}}
"""
        with start(tmp_path, text) as client:
            as_admin(client)
            assert client.get("/api/v1/notifiers").json()[0]["where"] == "json://…"
            nid = client.post("/api/v1/notifiers/tail/test").json()["notification"]
            done = wait_for(lambda: delivered(client, nid), timeout=20, what="the hand-over")
            assert done["state"] == "sent", done
        [got] = hook.payloads()
        assert got["title"].startswith("[FIRING:1]")
        assert "a test notification from netgauge" in got["message"]
    finally:
        hook.stop()
