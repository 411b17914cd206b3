"""Alerting: delivery latency, one notification per outage, no duplicates across kill -9,
and what rules cost the ingest — netgauge next to Alertmanager, measured in the same run.

    sudo ./scripts/bench alerting [latency|outage|crash|cost ...] [--quick]
    .venv/bin/python bench/alerting.py

* ``latency``: 10,000 targets under watch (a result each per second through netgauge's
  rule engine, dispatcher, outbox and a real webhook receiver on loopback); one target at a
  time fails, 30 times: the time from its first failing result to the webhook, with
  ``for: 2s`` and ``group_wait: 1s`` (budget: for + group_wait + 1 s = 4 s, p99). Beside
  it, Debian's Alertmanager with ``group_wait: 1s``: from posting a firing alert to its
  webhook (what Alertmanager adds after Prometheus' own ``for``).
* ``outage``: a gateway and the 500 devices behind it go down, then come back: the
  notifications one webhook receiver gets (netgauge: parents; Alertmanager: the same 501
  alerts, grouped per target as uptime tools notify, no inhibition rules).
* ``crash``: a real ``netgauge serve`` watching 200 targets (TCP to a loopback listener
  that the bench opens and closes: 200 alerts fire or resolve at once, one notification
  each), killed with SIGKILL in the middle of each burst and restarted, 20 times: the
  receiver counts notifications lost and duplicated (raw, and by Idempotency-Key).
* ``cost``: process CPU to fold 100,000 series (10,000 devices x 10 metrics, a minute of
  such a fleet) into storage, rounds without rules, with 1,000 threshold rules, and with
  999 + a gap rule (and that minute's 120 ticks) alternated in one process; and the rule
  engine's own CPU over the same results.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.* when run as a script

import httpx  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.lab.receivers import WebhookReceiver  # noqa: E402

from netgauge.alerting.model import TargetInfo  # noqa: E402
from netgauge.alerting.service import Alerting  # noqa: E402
from netgauge.alerting.store import AlertStore  # noqa: E402
from netgauge.clock import SystemClock  # noqa: E402
from netgauge.config.alerts import AlertRuleConfig, NotifierConfig  # noqa: E402
from netgauge.inventory import make_engine, migrate  # noqa: E402
from netgauge.models import ProbeResult, ProbeStatus, TargetType  # noqa: E402

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rule(**kw: Any) -> AlertRuleConfig:
    return AlertRuleConfig.model_validate(kw)


def alerting(
    tmp: Path,
    rules: list[AlertRuleConfig],
    url: str,
    targets: list[TargetInfo],
    states: dict[str, str],
) -> Alerting:
    engine = make_engine(f"sqlite:///{tmp / 'inventory.db'}")
    migrate(engine)
    hook = NotifierConfig.model_validate({"name": "hook", "kind": "webhook", "url": url})
    return Alerting(
        rules,
        [hook],
        AlertStore(engine),
        SystemClock(),
        state_of=states.get,
        load_targets=lambda: targets,
        default_gap=False,
    )


def result(target: str, up: bool) -> ProbeResult:
    status = ProbeStatus.OK if up else ProbeStatus.FAILED
    return ProbeResult(target, "icmp", time.time_ns(), status, {"loss_pct": 0.0 if up else 100.0})


# -- latency -----------------------------------------------------------------------------------
async def netgauge_latency(n_targets: int, flips: int) -> list[float]:
    hook = WebhookReceiver().start()
    names = [f"t{i}" for i in range(n_targets)]
    infos = [TargetInfo(n) for n in names]
    states = dict.fromkeys(names, "up")
    with tempfile.TemporaryDirectory() as tmp:
        al = alerting(
            Path(tmp),
            [
                rule(
                    name="down",
                    condition={"state": "down"},
                    **{"for": "2s"},
                    group_wait="1s",
                    group_by=["alertname", "target"],
                )
            ],
            hook.url,
            infos,
            states,
        )
        await al.start()
        failing: dict[str, float] = {}
        latencies: list[float] = []

        async def feed() -> None:  # one result per target per second, as 10,000 checks would
            while True:
                started = time.monotonic()
                for i, name in enumerate(names):
                    state = states[name]
                    al.observe("ping", result(name, state == "up"), state)
                    if i % 1000 == 999:  # results arrive as their checks end, not all at once
                        await asyncio.sleep(0)
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

        feeder = asyncio.create_task(feed())
        try:
            for i in range(flips):
                name = names[(i * 331) % n_targets]
                seen = len(hook.received)
                states[name] = "down"
                failing[name] = time.monotonic()  # its next result is the failing one...
                al.observe("ping", result(name, False), "down")  # ...given at once
                deadline = time.monotonic() + 30
                while len(hook.received) == seen and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                latencies.append(time.monotonic() - failing[name])
                states[name] = "up"
                al.observe("ping", result(name, True), "up")
        finally:
            feeder.cancel()
            await al.stop()
            hook.stop()
    return latencies


class Alertmanager:
    """Debian's Alertmanager on loopback, routing to a webhook receiver."""

    def __init__(
        self,
        tmp: Path,
        url: str,
        group_by: list[str],
        group_wait: str = "1s",
        group_interval: str = "5m",
    ) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.config = tmp / "am.yml"
        self.config.write_text(
            f"route: {{receiver: hook, group_by: {group_by}, group_wait: {group_wait}, "
            f"group_interval: {group_interval}, repeat_interval: 4h}}\n"
            f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{url}', "
            "send_resolved: true}]\n",
            encoding="utf-8",
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        assert ALERTMANAGER is not None
        self.proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={self.config}", f"--storage.path={self.tmp / 'am'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
             "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("alertmanager did not start")

    def post(self, alerts: list[dict[str, Any]]) -> None:
        httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def am_alert(target: str, firing: bool = True) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    alert: dict[str, Any] = {"labels": {"alertname": "down", "target": target}, "startsAt": now}
    if not firing:
        alert["endsAt"] = now
    return alert


def alertmanager_latency(flips: int) -> list[float] | None:
    if ALERTMANAGER is None:
        return None
    hook = WebhookReceiver().start()
    with tempfile.TemporaryDirectory() as tmp:
        am = Alertmanager(Path(tmp), hook.url, ["alertname", "target"])
        try:
            latencies = []
            for i in range(flips):
                seen = len(hook.received)
                t0 = time.monotonic()
                am.post([am_alert(f"t{i}")])
                deadline = t0 + 30
                while len(hook.received) == seen and time.monotonic() < deadline:
                    time.sleep(0.005)
                latencies.append(time.monotonic() - t0)
            return latencies
        finally:
            am.stop()
            hook.stop()


def bench_latency(quick: bool) -> None:
    n, flips = (2000, 10) if quick else (10_000, 30)
    ours = asyncio.run(netgauge_latency(n, flips))
    theirs = alertmanager_latency(flips)
    print(f"\n## Delivery latency ({n:,} targets under watch, {flips} failures, one at a time)")
    print("| | what is timed | median s | p99 s | max s |")
    print("|---|---|---|---|---|")
    print(
        f"| netgauge (for 2s, group_wait 1s) | failing result → webhook | "
        f"{statistics.median(ours):.2f} | {pct(ours, 99):.2f} | {max(ours):.2f} |"
    )
    if theirs:
        print(
            f"| Alertmanager 0.25 (group_wait 1s) | alert posted → webhook | "
            f"{statistics.median(theirs):.2f} | {pct(theirs, 99):.2f} | {max(theirs):.2f} |"
        )
    else:
        print("| Alertmanager | not installed (Debian package prometheus-alertmanager) | | | |")
    print(
        f"budget for + group_wait + 1 s = 4.00 s: p99 {'within' if pct(ours, 99) <= 4 else 'OVER'}"
    )


# -- outage -------------------------------------------------------------------------------------
async def netgauge_outage(children: int) -> tuple[int, int]:
    hook = WebhookReceiver().start()
    names = ["gw"] + [f"sw{i}" for i in range(children)]
    infos = [TargetInfo("gw")] + [
        TargetInfo(n, TargetType.DEVICE, "site", (), "gw") for n in names[1:]
    ]
    states = dict.fromkeys(names, "up")
    with tempfile.TemporaryDirectory() as tmp:
        al = alerting(
            Path(tmp),
            [rule(name="down", condition={"state": "down"}, group_wait="1s", group_interval="2s")],
            hook.url,
            infos,
            states,
        )
        await al.start()
        try:
            for name in names:  # the gateway's link fails: every device with it
                states[name] = "down" if name == "gw" else "offline"
                al.observe("ping", result(name, False), states[name])
            await settle(al)
            down = len(hook.received)
            for name in names:
                states[name] = "up" if name == "gw" else "online"
                al.observe("ping", result(name, True), states[name])
            await settle(al)
            return down, len(hook.received) - down
        finally:
            await al.stop()
            hook.stop()


async def settle(al: Alerting) -> None:
    """Until every group has been looked at twice more and the outbox is empty."""
    start = al.dispatcher.flushes
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        due = await asyncio.to_thread(al.store.next_due)
        if al.dispatcher.flushes >= start + 2 and due is None and not al.dispatcher.groups:
            return


def alertmanager_outage(children: int) -> tuple[int, int] | None:
    if ALERTMANAGER is None:
        return None
    hook = WebhookReceiver().start()
    with tempfile.TemporaryDirectory() as tmp:
        am = Alertmanager(Path(tmp), hook.url, ["alertname", "target"])
        try:
            names = ["gw"] + [f"sw{i}" for i in range(children)]
            am.post([am_alert(n) for n in names])
            deadline = time.monotonic() + 120
            while len(hook.received) < len(names) and time.monotonic() < deadline:
                time.sleep(0.1)
            down = len(hook.received)
            return down, -1  # resolutions come a group_interval (5 min) later: not waited
        finally:
            am.stop()
            hook.stop()


def wait_quiet(hook: WebhookReceiver, quiet_s: float = 8.0, limit_s: float = 90.0) -> None:
    """Until the receiver got nothing new for ``quiet_s``."""
    deadline, last, since = time.monotonic() + limit_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(hook.received)
        if n != last:
            last, since = n, time.monotonic()
        elif n and time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.1)


def bench_outage(quick: bool) -> None:
    children = 100 if quick else 500
    ours = asyncio.run(netgauge_outage(children))
    theirs = alertmanager_outage(children)
    print(f"\n## A site outage: a gateway and the {children} devices behind it")
    print("| | notifications when down | when back |")
    print("|---|---|---|")
    print(f"| netgauge (parent: gw) | {ours[0]} | {ours[1]} |")
    if theirs:
        print(
            f"| Alertmanager, per-target groups, no inhibition | {theirs[0]} "
            "| (a group_interval later) |"
        )


# -- crash -----------------------------------------------------------------------------------------
CRASH_CONFIG = """
settings: {{write_flush_interval_s: 1}}
notifiers:
  - {{name: hook, kind: webhook, url: "{url}"}}
alerts:
  - {{name: port-down, condition: {{state: down}}, notify: [hook], group_wait: 0s,
     group_interval: 1s, group_by: [alertname, target]}}
targets:
{targets}
jobs:
  - {{name: tcp, kind: tcp, params: {{port: {port}, timeout: 0.5}}, selector: {{tags: [b]}},
     interval: 1s, concurrency: 256}}
"""


class Serve:
    def __init__(self, tmp: Path, config: Path) -> None:
        self.tmp, self.config = tmp, config
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port()

    def start(self) -> None:
        env = {**os.environ, "NETGAUGE_ADMIN_PASSWORD": "bench-admin-password-42"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netgauge", "serve", "--config", str(self.config),
             "--port", str(self.port), "--data-dir", str(self.tmp / "data")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("netgauge serve did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def bench_crash(quick: bool, rounds: int = 20, n: int = 200) -> None:
    if quick:
        rounds, n = 4, 50
    hook = WebhookReceiver().start()
    port = free_port()
    listener: list[socket.socket] = []

    def serve_port(sock: socket.socket) -> None:
        """Accept and close: a port nobody accepts on fills its backlog, and then the
        checks time out at random (the targets would flap on their own)."""
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # closed: the round's port is down
            conn.close()

    def listen(on: bool) -> None:
        if on and not listener:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(512)
            listener.append(sock)
            threading.Thread(target=serve_port, args=(sock,), daemon=True).start()
        elif not on and listener:
            sock = listener.pop()
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    parsed: list[tuple[str, str, str | None]] = []  # (status, groupKey, Idempotency-Key)

    def this_round(start: int, status: str) -> list[tuple[str, str, str | None]]:
        while len(parsed) < len(hook.received):  # each body parsed once
            item = hook.received[len(parsed)]
            body = item.json()
            parsed.append((body["status"], body["groupKey"], item.headers.get("Idempotency-Key")))
        return [p for p in parsed[start:] if p[0] == status]

    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        targets = "\n".join(f"  - {{name: t{i}, address: 127.0.0.1, tags: [b]}}" for i in range(n))
        config = tmp / "netgauge.yaml"
        config.write_text(CRASH_CONFIG.format(url=hook.url, port=port, targets=targets))
        serve = Serve(tmp, config)
        listen(True)
        serve.start()
        time.sleep(3)  # every target checked and up before the first burst
        try:
            for r in range(rounds):
                status = "firing" if r % 2 == 0 else "resolved"
                start = len(hook.received)
                listen(status == "resolved")  # the port closes: all down; opens: all up
                kill_after = 1 + (r * 37) % (n - 10)  # somewhere inside the burst
                deadline = time.monotonic() + 60
                while len(this_round(start, status)) < kill_after and time.monotonic() < deadline:
                    time.sleep(0.001)
                at_kill = len(this_round(start, status))
                serve.kill()
                serve.start()
                deadline = time.monotonic() + 120
                while (
                    len({x[1] for x in this_round(start, status)}) < n
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.05)
                time.sleep(2)  # anything late (a duplicate) arrives now or never
                got = this_round(start, status)
                groups = Counter(x[1] for x in got)
                keys = Counter(x[2] for x in got)
                rows.append(
                    (
                        r + 1,
                        status,
                        at_kill,
                        len(groups),
                        n - len(groups),
                        len(got) - len(groups),
                        len(keys) - len(groups),
                    )
                )
                print("round", *rows[-1], file=sys.stderr, flush=True)
        finally:
            serve.stop()
            listen(False)
            hook.stop()
    print(f"\n## kill -9 during a burst of {n} notifications, {rounds} times: netgauge")
    print_crash(rows)
    theirs = alertmanager_crash(max(2, rounds // 2), n)
    print(f"\n## The same for Alertmanager 0.25, {max(2, rounds // 2)} times")
    if theirs is None:
        print("not installed (Debian package prometheus-alertmanager)")
    else:
        print(
            "(the alerts re-posted every second, as Prometheus re-sends them; its "
            "notifications carry no Idempotency-Key: by groupKey and status)"
        )
        print_crash(theirs)


def print_crash(rows: list[tuple[Any, ...]]) -> None:
    print(
        "| round | burst | received at the kill | distinct received | lost | "
        "duplicates (raw) | decided twice (distinct Idempotency-Keys) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    print(
        f"total: lost {sum(r[4] for r in rows)}, raw duplicates {sum(r[5] for r in rows)}, "
        f"decided twice {sum(r[6] for r in rows if r[6] != '-')}"
    )


def alertmanager_crash(rounds: int, n: int) -> list[tuple[Any, ...]] | None:
    """Alertmanager killed in the middle of each burst, as netgauge is above: 200 alerts
    posted (firing, then resolved), one group each, kept posted every second."""
    if ALERTMANAGER is None:
        return None
    hook = WebhookReceiver().start()
    current: list[list[dict[str, Any]]] = [[]]
    stop = threading.Event()
    rows: list[tuple[Any, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        am = Alertmanager(Path(tmp), hook.url, ["alertname", "target"], "0s", "1s")

        def repost() -> None:
            while not stop.wait(1.0):
                try:
                    am.post(current[0])
                except httpx.HTTPError:
                    pass  # down (killed): Prometheus would retry too

        poster = threading.Thread(target=repost, daemon=True)
        poster.start()
        try:
            for r in range(rounds):
                status = "firing" if r % 2 == 0 else "resolved"
                start = len(hook.received)
                current[0] = [am_alert(f"t{i}", status == "firing") for i in range(n)]
                am.post(current[0])
                kill_after = 1 + (r * 37) % (n - 10)

                def of_round(start: int = start, status: str = status) -> list[tuple[str, str]]:
                    bodies = (item.json() for item in hook.received[start:])
                    return [(b["status"], b["groupKey"]) for b in bodies if b["status"] == status]

                deadline = time.monotonic() + 60
                while len(of_round()) < kill_after and time.monotonic() < deadline:
                    time.sleep(0.001)
                at_kill = len(of_round())
                am.kill()
                am.start()
                deadline = time.monotonic() + 60
                while len({g for _, g in of_round()}) < n and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(3)  # re-posted alerts notify again now, or never
                got = of_round()
                groups = len({g for _, g in got})
                rows.append((r + 1, status, at_kill, groups, n - groups, len(got) - groups, "-"))
                print("alertmanager round", *rows[-1], file=sys.stderr, flush=True)
        finally:
            stop.set()
            poster.join(5)
            am.stop()
            hook.stop()
    return rows


class SteppedClock(SystemClock):
    """The system clock moved on by hand: a round of results stands for one minute of
    a fleet polled every minute, and its 120 ticks of 0.5 s each see that minute pass."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset, UTC)


def fleet_round(devices: int, r: int) -> list[ProbeResult]:
    """One result of 10 metrics per device: 1 % of them over every threshold all along."""
    ts = time.time_ns()
    return [
        ProbeResult(
            f"d{i}",
            "agent",
            ts,
            ProbeStatus.OK,
            {f"m{j}": 99.5 if i % 100 == 0 else float(40 + (i + j + r) % 40) for j in range(10)},
            prefixed=False,
        )
        for i in range(devices)
    ]


async def paired_rounds(devices: int, cycles: int) -> dict[str, list[float]]:
    """CPU of folding the same rounds into the same storage, the rules switched per round:
    none, 1,000 thresholds, 999 + a gap rule (then the 120 ticks of that minute too).
    One process, one store, one heap: what differs between rounds is the rules alone.
    The heap is large (10,000 targets' state), so a full collection costs seconds; each
    round starts right after one, or which round pays for the next would decide."""
    from netgauge.status.devices import DeviceStates
    from netgauge.status.fold import ResultFolder
    from netgauge.status.hysteresis import Thresholds
    from netgauge.status.tracker import StatusTracker
    from netgauge.storage import BatchWriter
    from netgauge.storage.embedded import EmbeddedStore

    cpu: dict[str, list[float]] = {"none": [], "thresholds": [], "gap": [], "ticks": []}
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(Path(tmp) / "metrics")
        writer = BatchWriter([store], batch_size=50_000, flush_interval_s=0.5)
        writer.start()
        infos = [
            TargetInfo(f"d{i}", TargetType.DEVICE, None, (f"g{i % 100}",)) for i in range(devices)
        ]
        variants: dict[str, Alerting | None] = {"none": None}
        clock = SteppedClock()
        for name, gap in (("thresholds", False), ("gap", True)):
            (Path(tmp) / name).mkdir()
            made = alerting(Path(tmp) / name, cost_rules(gap), "http://127.0.0.1:9/", infos, {})
            made.engine.clock = clock
            made.engine.set_targets(infos)
            variants[name] = made
        folder = ResultFolder(writer, StatusTracker(), DeviceStates(Thresholds(), _no_record))
        for cycle in range(-1, cycles):  # cycle -1 warms up (first alerts, plans): not counted
            for name, al in variants.items():
                batch = fleet_round(devices, cycle)
                folder.rules = al
                gc.collect()  # each round starts from the same collector state (see above)
                cpu0 = time.process_time()
                for res in batch:
                    await folder.fold("agent", res, device=True, interval_s=60)
                await writer.flush()
                spent = time.process_time() - cpu0
                if cycle >= 0:
                    cpu[name].append(spent)
                if name == "gap" and al is not None:
                    cpu0 = time.process_time()
                    for _ in range(120):
                        clock.offset += 0.5
                        al.engine.tick()
                    if cycle >= 0:
                        cpu["ticks"].append(time.process_time() - cpu0)
        await writer.close(timeout_s=120)
        await store.close()
    return cpu


def _no_record(*_args: Any) -> None:
    return None


def cost_rules(gap: bool = False) -> list[AlertRuleConfig]:
    """1,000 threshold rules: 10 metrics x 100 groups of devices (a scope by tag each);
    with ``gap``, the last of them is a 5-minute collection-gap rule instead."""
    rules = [
        rule(
            name=f"r{i}",
            condition={"metric": f"m{i % 10}", "op": ">", "value": 90 + i % 9},
            scope={"tags": [f"g{i % 100}"]},
        )
        for i in range(1000)
    ]
    if gap:
        rules[-1] = rule(name="gap", condition={"gap": "5m"})
    return rules


def engine_cpu(rules: list[AlertRuleConfig], devices: int, rounds: int) -> float:
    """CPU of the rule engine alone over the same results (built beforehand, not timed)."""
    from netgauge.alerting.engine import AlertEngine
    from netgauge.alerting.rules import compile_rules

    engine = AlertEngine(compile_rules(rules, default_gap=False), SystemClock())
    engine.set_targets(
        TargetInfo(f"d{i}", TargetType.DEVICE, None, (f"g{i % 100}",)) for i in range(devices)
    )
    spent = 0.0
    for r in range(-1, rounds):  # round -1 warms up (plans, first alerts): not counted
        batch = fleet_round(devices, r)
        engine.tick()
        cpu0 = time.process_time()
        for res in batch:
            engine.observe("agent", res, "online")
        if r >= 0:
            spent += time.process_time() - cpu0
    return spent


def bench_cost(quick: bool) -> None:
    from netgauge.logs import configure_logging

    configure_logging("error", "console")  # the warm-up's 20,000 "up" lines are not the point
    devices, cycles = (2000, 3) if quick else (10_000, 10)
    series = devices * 10
    cpu = asyncio.run(paired_rounds(devices, cycles))
    alone = statistics.median(engine_cpu(cost_rules(), devices, 1) for _ in range(5))
    alone_gap = statistics.median(engine_cpu(cost_rules(True), devices, 1) for _ in range(5))
    plain = statistics.median(cpu["none"])
    per = series / 1e6  # µs per series
    print(
        f"\n## Rule evaluation cost: {series:,} series a round (one minute of a fleet), "
        f"{cycles} rounds of each, alternated in one process (medians)"
    )
    print("| | CPU s a round | µs per series | added to the fold |")
    print("|---|---|---|---|")
    gap_minute = [f + t for f, t in zip(cpu["gap"], cpu["ticks"], strict=True)]
    for label, value in (
        ("fold into storage, no rules", plain),
        ("fold into storage, 1,000 threshold rules", statistics.median(cpu["thresholds"])),
        ("fold into storage, 999 of them + a gap rule", statistics.median(cpu["gap"])),
        ("the same + that minute's 120 ticks", statistics.median(gap_minute)),
        ("the rule engine alone, 1,000 threshold rules", alone),
        ("the rule engine alone, 999 + a gap rule", alone_gap),
    ):
        added = value if label.startswith("the rule engine") else value - plain
        print(f"| {label} | {value:.3f} | {value / per:.2f} | {100 * added / plain:+.1f} % |")
    pairs = [100 * (r - p) / p for p, r in zip(cpu["none"], cpu["thresholds"], strict=True)] + [
        100 * (g - p) / p for p, g in zip(cpu["none"], gap_minute, strict=True)
    ]
    print(
        f"per round, rules vs none: {', '.join(f'{x:+.0f}' for x in pairs)} % "
        f"(goal: <= 10 %; a round's own noise is in these)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", default=["latency", "outage", "crash", "cost"])
    parser.add_argument("--quick", action="store_true", help="smaller, for a smoke run")
    args = parser.parse_args()
    for name in args.which:
        {
            "latency": bench_latency,
            "outage": bench_outage,
            "crash": bench_crash,
            "cost": bench_cost,
        }[name](args.quick)


if __name__ == "__main__":
    main()
