"""API throughput: netgauge's routes next to a bare FastAPI endpoint, with ``wrk``.

    sudo ./scripts/bench api [--duration 3] [--connections 16] [--rounds 2]
    .venv/bin/python bench/api.py

Every server runs on 127.0.0.1, one uvicorn worker each, started here and stopped at the
end; ``wrk`` (Debian's) drives it from one thread. Measured, in one run:

* a bare FastAPI app: ``async def health(): return {"status": "ok"}`` — the ceiling;
* ``netgauge serve``: ``GET /api/v1/health`` (open), ``GET /api/v1/targets`` and a metrics
  query of one hour of one-minute samples (60 points; a viewer's API token checked on every
  request), with the request log on (the default) and off
  (``NETGAUGE_AUDIT_REQUESTS=false``), so its cost shows as the difference.

Printed: requests/s, the mean latency, and each row's ratio to the bare endpoint. The bare
app keeps running through the whole run and is measured again just before each row, which
is compared with that measurement (on a shared machine the load drifts over a minute; a
ratio of two measurements taken seconds apart does not drift with it); with ``--rounds N``
each pair is measured N times and the medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.conftest when run as a script

from tests.conftest import free_port  # noqa: E402

PASSWORD = "bench-admin-password"
DEVICE = "bench-device"
METRICS_QUERY = f"/api/v1/metrics?target={DEVICE}&metric=cpu_percent"


def wait_up(url: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {deadline_s:.0f} s")


@contextmanager
def bare_server(work: Path) -> Iterator[str]:
    app = work / "bare_app.py"
    app.write_text(
        textwrap.dedent(
            """
            from fastapi import FastAPI
            app = FastAPI()

            @app.get("/health")
            async def health() -> dict[str, str]:
                return {"status": "ok"}
            """
        )
    )
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=work)
    try:
        wait_up(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def netgauge_server(work: Path, audit: bool) -> Iterator[tuple[str, str]]:
    port = free_port()
    data = work / f"data-{audit}"
    config = work / "bench.yaml"
    config.write_text(f"targets:\n  - {{name: {DEVICE}, address: 127.0.0.1, type: device}}\n")
    env = {**os.environ, "NETGAUGE_ADMIN_PASSWORD": PASSWORD, "NETGAUGE_LOG_LEVEL": "warning"}
    env["NETGAUGE_AUDIT_REQUESTS"] = "true" if audit else "false"
    cmd = [sys.executable, "-m", "netgauge", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data), "--config", str(config)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/api/v1/health")
        token, admin = viewer_token(url)
        seed_hour(url, admin)
        yield url, token
    finally:
        proc.terminate()
        proc.wait(30)


def post(url: str, body: dict[str, Any] | None, token: str | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as r:
        answer: dict[str, Any] = json.loads(r.read())
        return answer


def viewer_token(url: str) -> tuple[str, str]:
    """A viewer's API token, and an admin's access token."""
    access = post(f"{url}/api/v1/auth/login", {"username": "admin", "password": PASSWORD})
    admin = access["access_token"]
    made = post(f"{url}/api/v1/tokens", {"name": "bench", "role": "viewer"}, admin)
    return made["token"], admin


def seed_hour(url: str, admin: str) -> None:
    """The device's last hour, one CPU sample a minute, through its agent's ingest route:
    the metrics query then reads 60 points."""
    agent = post(f"{url}/api/v1/devices/{DEVICE}/agent-token", None, admin)["token"]
    now = time.time_ns()
    batches = [
        {
            "seq": i + 1,
            "ts_ns": now - (60 - i) * 60 * 10**9,
            "metrics": [{"name": "cpu_percent", "value": 20.0 + i % 7}],
        }
        for i in range(60)
    ]
    post(f"{url}/api/v1/ingest", {"batches": batches}, agent)


def wrk(url: str, args: argparse.Namespace, token: str | None = None) -> tuple[float, str]:
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Latency\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} answers were not 2xx")
    return rate, latency


Row = tuple[str, float, str, float]  # label, requests/s, latency, × bare


def paired(
    label: str, url: str, bare: str, args: argparse.Namespace, token: str | None = None
) -> tuple[Row, list[tuple[float, str]]]:
    """``url`` measured ``args.rounds`` times, each just after the bare endpoint: the row
    (medians; the ratio is the median of the pairs' ratios) and the bare measurements."""
    bares, runs = [], []
    for _ in range(args.rounds):
        bares.append(wrk(f"{bare}/health", args))
        runs.append(wrk(url, args, token))
    rate = statistics.median(rate for rate, _ in runs)
    latency = sorted(runs)[len(runs) // 2][1]
    ratio = statistics.median(r / b for (r, _), (b, _) in zip(runs, bares, strict=True))
    return (label, rate, latency, ratio), bares


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=3, help="seconds per measurement")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2, help="measurements of each pair")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        print("skipped: wrk is not installed (Debian package wrk)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="netgauge-bench-api-"))
    rows: list[Row] = []
    bare_runs: list[tuple[float, str]] = []
    try:
        with bare_server(work) as bare:
            for audit in (True, False):
                with netgauge_server(work, audit) as (url, token):
                    label = "request log on" if audit else "request log off"
                    for what, path, auth in (
                        ("GET /api/v1/health", "/api/v1/health", None),
                        ("GET /api/v1/targets + token", "/api/v1/targets", token),
                        ("GET /api/v1/metrics (60 points) + token", METRICS_QUERY, token),
                    ):
                        row, bares = paired(
                            f"netgauge {what}, {label}", url + path, bare, args, auth
                        )
                        rows.append(row)
                        bare_runs += bares
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rate = statistics.median(r for r, _ in bare_runs)
    latency = sorted(bare_runs)[len(bare_runs) // 2][1]
    print(f"{'':62} {'req/s':>9} {'latency':>9} {'× bare':>7}")
    for label, rate_, latency_, ratio in [("bare FastAPI GET /health", rate, latency, 1.0), *rows]:
        print(f"{label:62} {rate_:9,.0f} {latency_:>9} {ratio:6.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
