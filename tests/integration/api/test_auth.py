"""Authentication and roles over a real service: every route of the route table with each
role, logins (throttled), refresh and logout, browser sessions with CSRF, API tokens hashed
at rest and revocable, the first admin, and what the open health route may say."""

from __future__ import annotations

import os
import re
import sqlite3
from typing import Any

import pytest
import structlog.testing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from netgauge import web
from netgauge.api import create_app
from netgauge.api.security import CSRF_COOKIE, CSRF_HEADER, required_role
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.passwords import ARGON2_PROFILE_ENV, INSECURE_TEST_PROFILE
from netgauge.auth.roles import Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from netgauge.web import is_page
from tests.integration.conftest import StartApp

PASSWORD = "correct horse battery staple"
CONFIG = """
targets:
  - {name: secret-router, address: 127.0.0.1, site: hq}
sites:
  - {name: hq}
"""


def make_client(settings: Settings) -> TestClient:
    service = Service(settings, load_config_text(CONFIG, "auth.yaml").config, "auth.yaml")
    return TestClient(create_app(service), raise_server_exceptions=False)


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    return start_app(
        CONFIG, name="auth.yaml", raise_server_exceptions=False, login=None, admin_password=PASSWORD
    )


def token_for(client: TestClient, role: Role) -> str:
    token, _ = client.app.state.service.accounts.create_api_token(  # type: ignore[attr-defined]
        f"matrix-{role}", role, FIRST_ADMIN, "tests"
    )
    return str(token)


def login(client: TestClient, username: str = FIRST_ADMIN, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def concrete(path: str) -> str:
    """A route template with values that name nothing (so no call changes anything)."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "999999" if "id" in m.group(1) else "nobody", path)


def test_every_route_gives_each_role_exactly_its_rights(client: TestClient) -> None:
    tokens = {role: token_for(client, role) for role in Role}
    # every operation of the API (the schema lists them all) and the two outside it
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = [(m.upper(), p) for p, item in paths.items() for m in item]
    # and every route outside the schema: /metrics and each page of the console
    hidden = [r for module in web.PAGES for r in module.router.routes if isinstance(r, APIRoute)]
    operations += [(m, r.path) for r in hidden for m in sorted(r.methods or ())] + [
        ("GET", "/metrics")
    ]
    pages = {(m, p) for m, p in operations if is_page(p)}
    assert {("GET", "/"), ("GET", "/destinations"), ("GET", "/admin/users")} <= pages
    checked = 0
    for method, template in operations:
        if True:
            url = concrete(template)
            needed = required_role(method, url)
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None

            def call(
                headers: dict[str, str],
                method: str = method,
                url: str = url,
                body: Any = body,
            ) -> int:
                kw: dict[str, Any] = {"headers": headers, "follow_redirects": False}
                if body is not None:
                    kw["json"] = body
                response = client.request(method, url, **kw)
                location = response.headers.get("location", "")
                if response.status_code == 303 and location.startswith("/login?next="):
                    assert is_page(url)  # only pages send browsers there
                    return 401
                return int(response.status_code)  # httpx's answers are untyped (Any) here

            anonymous = call({})
            if (method, template) in {
                ("POST", "/api/v1/ingest"),
                ("POST", "/api/v1/collector/sync"),
                ("POST", "/api/v1/collector/results"),
            }:
                # agents and collectors only: their own token, never a user's credentials
                statuses = [call({"Authorization": f"Bearer {t}"}) for t in tokens.values()]
                assert anonymous == 401 and statuses == [401] * len(tokens), statuses
                continue
            if needed is None:
                assert anonymous not in (401, 403), (method, template, anonymous)
            else:
                assert anonymous == 401, (method, template, anonymous)
            for role, token in tokens.items():
                status = call({"Authorization": f"Bearer {token}"})
                if needed is None or role.allows(needed):
                    assert status not in (401, 403), (method, template, role, status)
                else:
                    assert status == 403, (method, template, role, status)
                checked += 1
    assert checked >= 3 * 40  # the whole table, not a sample


def test_the_rules_give_admin_users_operator_changes_viewer_reads() -> None:
    assert required_role("GET", "/api/v1/targets") is Role.VIEWER
    assert required_role("POST", "/api/v1/targets") is Role.OPERATOR
    assert required_role("GET", "/api/v1/users") is Role.ADMIN
    assert required_role("DELETE", "/api/v1/tokens/3") is Role.ADMIN
    assert required_role("GET", "/api/v1/health") is None
    assert required_role("GET", "/api/v1/health/details") is Role.VIEWER
    assert required_role("GET", "/metrics") is Role.VIEWER


def test_login_refresh_and_logout(client: TestClient) -> None:
    r = login(client)
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["role"] == "admin" and tokens["expires_in"] == 15 * 60
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    client.cookies.clear()
    me = client.get("/api/v1/auth/me", headers=bearer).json()
    assert me == {"name": "admin", "role": "admin", "via": "password", "timezone": None}
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 200
    # a refresh token is spent once
    spent = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert spent.status_code == 401
    newest = again.json()["refresh_token"]
    out = client.post("/api/v1/auth/logout", json={"refresh_token": newest})
    assert out.status_code == 204
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": newest}).status_code == 401
    forged = tokens["access_token"][:-4] + "AAAA"
    assert (
        client.get("/api/v1/targets", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )


def test_wrong_passwords_are_throttled_per_user_and_per_address(client: TestClient) -> None:
    for _ in range(5):
        assert login(client, password="wrong wrong wrong").status_code == 401
    locked = login(client)  # the right password, but the account is locked out for now
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    # from this address, other user names are locked out too (guessing across accounts)
    assert login(client, username="someone-else").status_code == 429
    assert login(client, username="nobody", password="x" * 20).status_code == 429


def test_an_unknown_user_and_a_wrong_password_look_the_same(client: TestClient) -> None:
    a, b = login(client, username="nobody"), login(client, password="not the password")
    assert a.status_code == b.status_code == 401 and a.json() == b.json()


def test_a_browser_session_needs_the_csrf_token_to_change_anything(client: TestClient) -> None:
    assert login(client).status_code == 200  # the TestClient keeps the cookies
    assert client.get("/api/v1/targets").status_code == 200
    site = {"name": "branch", "description": "branch office"}
    refused = client.put("/api/v1/sites/branch", json=site)
    assert refused.status_code == 403 and CSRF_HEADER in refused.json()["detail"]
    wrong = client.put("/api/v1/sites/branch", json=site, headers={CSRF_HEADER: "guess"})
    assert wrong.status_code == 403
    odd = client.put("/api/v1/sites/branch", json=site, headers={CSRF_HEADER: "é".encode()})
    assert odd.status_code == 403
    csrf = client.cookies[CSRF_COOKIE]
    made = client.put("/api/v1/sites/branch", json=site, headers={CSRF_HEADER: csrf})
    assert made.status_code in (200, 201), made.text
    set_cookie = login(client).headers.get_list("set-cookie")
    session = next(c for c in set_cookie if c.startswith("ng_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session


def test_api_tokens_are_hashed_at_rest_scoped_and_revocable(
    client: TestClient, settings: Settings
) -> None:
    admin = {"Authorization": f"Bearer {login(client).json()['access_token']}"}
    client.cookies.clear()
    made = client.post(
        "/api/v1/tokens", json={"name": "prometheus", "role": "viewer"}, headers=admin
    )
    assert made.status_code == 201
    token, token_id = made.json()["token"], made.json()["id"]
    db = sqlite3.connect(settings.data_dir / "inventory.db")
    dump = "\n".join(db.iterdump())
    assert token not in dump and PASSWORD not in dump  # only hashes are stored
    scoped = {"Authorization": f"Bearer {token}"}
    assert client.get("/metrics", headers=scoped).status_code == 200
    assert client.put("/api/v1/sites/x", json={"name": "x"}, headers=scoped).status_code == 403
    listed = client.get("/api/v1/tokens", headers=admin).json()
    assert [t["name"] for t in listed if not t["revoked"]] == ["prometheus"]
    assert "token" not in listed[0]
    # a token cannot make tokens, even an admin's: only a logged-in user can
    admin_token = token_for(client, Role.ADMIN)
    by_token = client.post(
        "/api/v1/tokens",
        json={"name": "more", "role": "viewer"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert by_token.status_code == 403 and "logged-in user" in by_token.json()["detail"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=admin).status_code == 204
    assert client.get("/metrics", headers=scoped).status_code == 401


def test_a_demoted_user_loses_rights_at_once_and_the_last_admin_stays(client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {login(client).json()['access_token']}"}
    client.cookies.clear()
    new = {"username": "olga", "password": "operator password 1", "role": "operator"}
    assert client.post("/api/v1/users", json=new, headers=admin).status_code == 201
    olga = {
        "Authorization": f"Bearer {login(client, 'olga', new['password']).json()['access_token']}"
    }
    client.cookies.clear()
    assert client.put("/api/v1/sites/s1", json={"name": "s1"}, headers=olga).status_code in (
        200,
        201,
    )
    r = client.patch("/api/v1/users/olga", json={"role": "viewer"}, headers=admin)
    assert r.status_code == 200
    assert client.put("/api/v1/sites/s2", json={"name": "s2"}, headers=olga).status_code == 403
    client.patch("/api/v1/users/olga", json={"disabled": True}, headers=admin)
    assert client.get("/api/v1/targets", headers=olga).status_code == 401
    last = client.patch("/api/v1/users/admin", json={"role": "viewer"}, headers=admin)
    assert last.status_code == 409 and "last enabled admin" in last.json()["detail"]
    short = {"username": "p", "password": "short", "role": "viewer"}
    bad = client.post("/api/v1/users", json=short, headers=admin)
    assert bad.status_code == 422 and "password" in bad.text


def test_the_first_admin_gets_a_generated_password_shown_once(
    settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    with make_client(settings) as c:
        printed = capfd.readouterr().err
        found = re.search(r"user 'admin', password (\S+) \(shown once", printed)
        assert found is not None, printed
        generated = found.group(1)
        assert login(c, password=generated).status_code == 200
        for default in ("admin", "password", "netgauge", ""):
            assert login(c, password=default or "x").status_code in (401, 422)
    with make_client(settings) as c:  # the second start creates nobody and prints nothing
        assert "password" not in capfd.readouterr().err
    logs = (settings.data_dir / "inventory.db").read_bytes()
    assert generated.encode() not in logs


def test_health_is_open_and_tells_nothing_sensitive(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    text = r.text
    for secret in ("secret-router", "hq", "ping", str(client.app.state.service.settings.data_dir)):  # type: ignore[attr-defined]
        assert secret not in text
    assert "version" not in text.lower() and "error" not in text
    assert client.get("/api/v1/health/details").status_code == 401


def test_responses_carry_security_headers_and_no_cors(client: TestClient) -> None:
    r = client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in r.headers


def test_cors_answers_only_the_configured_origins(settings: Settings) -> None:
    allowed = "https://dash.example.org"
    configured = settings.model_copy(update={"admin_password": PASSWORD, "cors_origins": [allowed]})
    with make_client(configured) as c:
        ask = {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        ok = c.options("/api/v1/targets", headers={"Origin": allowed, **ask})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == allowed
        assert "access-control-allow-credentials" not in ok.headers  # cookies stay same-site
        other = c.options("/api/v1/targets", headers={"Origin": "https://evil.example", **ask})
        assert "access-control-allow-origin" not in other.headers
        got = c.get("/api/v1/health", headers={"Origin": allowed})
        assert got.headers["access-control-allow-origin"] == allowed


def test_the_change_log_names_who_made_each_change(client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {login(client).json()['access_token']}"}
    client.cookies.clear()
    robot = {"Authorization": f"Bearer {token_for(client, Role.OPERATOR)}"}
    client.put("/api/v1/sites/lab", json={"name": "lab"}, headers=admin)
    client.put("/api/v1/sites/lab", json={"name": "lab", "description": "x"}, headers=robot)
    changes = client.get("/api/v1/changes", params={"name": "lab"}, headers=admin).json()
    assert [(c["action"], c["actor"]) for c in changes] == [
        ("update", "token:matrix-operator"),
        ("create", "admin"),
    ]
    users = client.get("/api/v1/changes", params={"entity_type": "user"}, headers=admin).json()
    assert users[-1]["entity_name"] == "admin" and users[-1]["actor"] == "first-start"
    assert users[-1]["changes"] == {"role": "admin"}  # never a password or its hash


def test_requests_errors_and_activity_are_kept_for_admins(settings: Settings) -> None:
    every = settings.model_copy(update={"admin_password": PASSWORD, "audit_read_sample": 1})
    with make_client(every) as client:
        _check_the_trail(client)


def _check_the_trail(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    admin = {"Authorization": f"Bearer {token_for(client, Role.ADMIN)}"}
    viewer = {"Authorization": f"Bearer {token_for(client, Role.VIEWER)}"}
    assert client.get("/api/v1/targets/secret-router", headers=viewer).status_code == 200
    assert client.put("/api/v1/sites/x", json={"name": 5}, headers=admin).status_code == 422
    page = {"kind": "page_view", "page": "/devices/secret-router", "details": {"ms": 12}}
    assert client.post("/api/v1/activity", json=page, headers=viewer).status_code == 204
    assert client.get("/api/v1/logs/requests", headers=viewer).status_code == 403
    service.audit.flush()
    logged = client.get("/api/v1/logs/requests", headers=admin).json()
    read = next(r for r in logged if r["method"] == "GET" and r["status"] == 200)
    # the route, not the name in it; who; how long; how big
    assert read["path"] == "/api/v1/targets/{name}" and read["user"] == "token:matrix-viewer"
    assert read["duration_ms"] > 0 and read["response_bytes"] > 0
    errors = client.get("/api/v1/logs/errors", params={"category": "validation"}, headers=admin)
    assert "body.name" in errors.json()[0]["message"]
    activity = client.get("/api/v1/activity", headers=admin).json()
    assert activity[0]["user"] == "token:matrix-viewer" and activity[0]["details"] == {"ms": 12}
    # retention: a row older than its table's setting goes at the next expiry
    service.audit.retention_days["requests"] = 0.000001
    assert service.audit.expire()["requests"] >= 1


def test_successful_reads_are_sampled_with_their_weight(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    viewer = {"Authorization": f"Bearer {token_for(client, Role.VIEWER)}"}
    admin = {"Authorization": f"Bearer {token_for(client, Role.ADMIN)}"}
    start = service.audit.reads_seen
    for _ in range(30 - start % 10):  # whatever came before, end on a multiple of 10
        client.get("/api/v1/sites", headers=viewer)
    client.get("/api/v1/sites/none-such", headers=viewer)  # a failed read: always logged
    service.audit.flush()
    rows = client.get("/api/v1/logs/requests", params={"limit": 1000}, headers=admin).json()
    sites = [r for r in rows if r["path"] == "/api/v1/sites"]
    assert 2 <= len(sites) <= 3 and all(r["weight"] == 10 for r in sites)
    missing = [r for r in rows if r["path"] == "/api/v1/sites/{name}"]
    assert [(r["status"], r["weight"]) for r in missing] == [(404, 1)]


def test_each_user_keeps_their_own_time_zone(client: TestClient) -> None:
    """A user's zone is theirs (a viewer sets their own; nobody else's changes), checked
    against this machine's tzdata; the console's pages carry it; a token has no account."""
    admin = {"Authorization": f"Bearer {login(client).json()['access_token']}"}
    client.cookies.clear()
    new = {"username": "vera", "password": "viewer password 1", "role": "viewer"}
    assert client.post("/api/v1/users", json=new, headers=admin).status_code == 201
    vera_token = login(client, "vera", new["password"]).json()["access_token"]
    client.cookies.clear()
    vera = {"Authorization": f"Bearer {vera_token}"}
    assert client.get("/api/v1/auth/me", headers=vera).json()["timezone"] is None
    zone = "America/St_Johns"  # a half-hour zone with DST
    r = client.patch("/api/v1/auth/me", json={"timezone": zone}, headers=vera)
    assert r.status_code == 200 and r.json()["timezone"] == zone
    assert client.get("/api/v1/auth/me", headers=vera).json()["timezone"] == zone
    assert client.get("/api/v1/auth/me", headers=admin).json()["timezone"] is None
    page = client.get("/", headers=vera)
    assert f'data-user-tz="{zone}"' in page.text
    for bad in ("Mars/Olympus", "../../etc/passwd", "Europe/Berlin\n", "x" * 65):
        refused = client.patch("/api/v1/auth/me", json={"timezone": bad}, headers=vera)
        assert refused.status_code == 422 and "timezone" in refused.text, bad
    stray = client.patch("/api/v1/auth/me", json={"timezone": None, "role": "admin"}, headers=vera)
    assert stray.status_code == 422 and "role" in stray.text  # nothing else changes here
    assert client.get("/api/v1/auth/me", headers=vera).json()["role"] == "viewer"
    token = {"Authorization": f"Bearer {token_for(client, Role.VIEWER)}"}
    by_token = client.patch("/api/v1/auth/me", json={"timezone": zone}, headers=token)
    assert by_token.status_code == 422 and "API token" in by_token.json()["detail"]
    cleared = client.patch("/api/v1/auth/me", json={"timezone": None}, headers=vera)
    assert cleared.json()["timezone"] is None
    assert 'data-user-tz=""' in client.get("/", headers=vera).text


def test_a_service_hashing_at_the_test_cost_says_so(start_app: StartApp) -> None:
    """The suite's cheap argon2 profile (tests/conftest.py) is never silent: every service
    started with it logs a warning (tests/unit/auth/test_passwords.py: the rest of it)."""
    assert os.environ[ARGON2_PROFILE_ENV] == INSECURE_TEST_PROFILE
    with structlog.testing.capture_logs() as logs:
        start_app(CONFIG, name="auth.yaml")
    warned = [e for e in logs if e["event"] == "auth.argon2_insecure"]
    assert [e["log_level"] for e in warned] == ["warning"], logs
