"""Remote collectors: throughput and cost against one ``serve`` alone, takeover, a cut link.

    sudo ./scripts/bench collectors [--targets 1000 4000] [--window 30] [--interval 5]
    .venv/bin/python bench/collectors.py [...]

Everything is real: ``netgauge serve`` bound to the first lab's root-side veth address,
``netgauge collector`` processes spawned inside lab network namespaces (tests/lab), ICMP
to answering lab hosts (addresses assigned in those namespaces), so every packet stays on
this machine. Measured in one run:

1. **Scaling**: N targets checked every ``--interval`` s (ping count 1, pace 0): by the
   serve alone (no collectors, its hosts in one namespace), then by 1..4 collectors (each
   its own site and namespace, the N hosts split across them). Over a fixed window after
   warm-up: results stored per second (counted in the store file itself, after the serve
   stopped: one ``status`` sample per result), the central's CPU seconds per 1,000 results
   (utime+stime from /proc/<pid>/stat before/after the window) and the collectors'.
2. **Kill**: a site with 2 collectors, one SIGKILLed: time until the other's first sample
   of each of its targets, and the longest gap of each target's series (goal <= 2
   intervals), with scaled settings (poll 1 s, dead-after 3 s, interval 10 s).
3. **Cut**: at the same time another site's link to the central is cut (iptables OUTPUT
   DROP in its namespace) for 60 s: results lost and stored twice (expected 0 / 0).
4. A paper sizing for 100,000 targets every minute across 50 sites, from the measured
   per-result costs (an extrapolation, labelled as such).

The store is read raw (head rows and blocks, without the store's own de-duplication of a
(series, time) written twice), so a result stored twice is counted twice. Labs, processes
and iptables rules are removed at the end, even on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.lab when run as a script

from tests.conftest import NetgaugeServe, wait_for  # noqa: E402
from tests.lab.netns import Lab, missing_requirement, run  # noqa: E402

from netgauge.scheduler import phase_offset  # noqa: E402
from netgauge.storage.embedded.blocks import decode  # noqa: E402
from netgauge.storage.embedded.head import unpack  # noqa: E402
from netgauge.storage.embedded.layout import RAW, Catalog, table  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PING = "{count: 1, timeout: 1, pace_ms: 0}"
HOSTS_PER_20 = 4000  # a /20 lab holds 4,080 hosts
Stamps = dict[tuple[str, str], list[int]]  # (target, series name) -> timestamps, raw


# -- the pieces ---------------------------------------------------------------------------------
def cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (the kernel's own count, /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def config_text(sites: dict[str, list[str]], interval: float) -> str:
    """Sites, one target per host (named after its site), one ICMP job per site."""
    lines = ["sites:"] + [f"  - {{name: {s}}}" for s in sites] + ["targets:"]
    for site, hosts in sites.items():
        lines += [
            f"  - {{name: {site}-{i}, address: {a}, site: {site}}}" for i, a in enumerate(hosts)
        ]
    lines.append("jobs:")
    for site in sites:
        lines.append(
            f"  - {{name: ping-{site}, kind: icmp, params: {PING}, "
            f"selector: {{site: {site}}}, interval: {interval}}}"
        )
    return "\n".join(lines) + "\n"


class Bed:
    """Labs (one per site), the central on the first lab's address, collectors in the labs."""

    def __init__(self, stack: ExitStack, tmp: Path, hosts: Sequence[int], env: dict[str, str]):
        self.stack, self.tmp = stack, tmp
        prefix = 20 if max(hosts) <= HOSTS_PER_20 else 18 if max(hosts) <= 4 * HOSTS_PER_20 else 16
        self.labs = [stack.enter_context(Lab(ipv6=False, block_prefix=prefix)) for _ in hosts]
        self.sites = {
            f"s{i}": lab.add_hosts(n)
            for i, (lab, n) in enumerate(zip(self.labs, hosts, strict=True))
        }
        first = self.labs[0].block4
        assert first is not None
        self.address = str(first[1])
        self.collectors: dict[str, subprocess.Popen[str]] = {}
        self.env = env

    def start_central(self, interval: float) -> NetgaugeServe:
        cfg = self.tmp / "central.yaml"
        cfg.write_text(config_text(self.sites, interval))
        central = NetgaugeServe(self.tmp / "data", cfg, args=["--host", self.address], env=self.env)
        central.url = f"http://{self.address}:{central.port}"
        central.http = httpx.Client(base_url=central.url, timeout=30)
        central.start(timeout=120)
        self.stack.callback(central.stop)
        self.central = central
        return central

    def add_collector(self, name: str, site_index: int) -> subprocess.Popen[str]:
        site = f"s{site_index}"
        r = self.central.http.post("/api/v1/collectors", json={"name": name, "site": site})
        if r.status_code != 201:
            raise RuntimeError(f"creating collector {name}: {r.status_code} {r.text}")
        token = self.tmp / f"{name}.token"
        token.write_text(r.json()["token"])
        token.chmod(0o600)
        proc = self.labs[site_index].spawn(
            sys.executable, "-m", "netgauge", "collector", "--server", self.central.url,
            "--token-file", str(token), "--data-dir", str(self.tmp / name), ready=None,
        )  # fmt: skip
        self.collectors[name] = proc
        return proc

    def listing(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.central.http.get("/api/v1/collectors").json()}

    def assigned(self, expected: dict[str, int] | None = None) -> bool:
        """Every collector online; with ``expected``, each site's targets all assigned."""
        rows = self.listing()
        if len(rows) != len(self.collectors) or any(c["state"] != "online" for c in rows.values()):
            return False
        per_site: dict[str, int] = defaultdict(int)
        for c in rows.values():
            per_site[c["site"]] += c["targets"]
        return expected is None or all(per_site[s] == n for s, n in expected.items())

    def drained(self) -> bool:
        return all(
            c["spool_pending"] == 0 and c["state"] == "online" for c in self.listing().values()
        )

    def in_site(self, index: int, *command: str) -> None:
        run("ip", "netns", "exec", self.labs[index].name, *command)


def reread_s(inventory: Path, job: str) -> float:
    """Wall time of what the central does per results request and job: read the job and
    every one of its targets from the inventory (collectors/results.py ``_job``), best of 3."""
    from netgauge.inventory import Inventory, make_engine
    from netgauge.inventory.repository import job_config

    inv = Inventory(make_engine(f"sqlite:///{inventory}"))
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        inv.job_targets(job_config(inv.get_job(job)))
        best = min(best, time.perf_counter() - start)
    return best


def raw_stamps(db: Path, want: str | None = None) -> Stamps:
    """Every stored timestamp of every series (named ``want``, or all), duplicates kept."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    found: Stamps = defaultdict(list)
    try:
        conn.execute("BEGIN")
        keys = {
            int(sid): (str(device), str(name))
            for sid, device, name in conn.execute("SELECT id, device_id, metric_name FROM series")
            if want is None or name == want
        }
        catalog = Catalog()
        catalog.load([str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")])
        for start in catalog.parts[RAW.name]:
            for sid, n, data in conn.execute(f"SELECT series_id, n, data FROM {table(RAW, start)}"):
                if int(sid) in keys:
                    found[keys[int(sid)]].extend(decode(data, n)[0])
        for sids, ts, vals in conn.execute("SELECT sids, ts, vals FROM head"):
            for sid, t, _ in zip(*unpack(sids, ts, vals), strict=True):
                if sid in keys:
                    found[keys[sid]].append(t)
    finally:
        conn.close()
    for stamps in found.values():
        stamps.sort()
    return found


# -- 1. scaling ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """One measured setup."""

    setup: str
    targets: int
    expected: int
    stored: int
    twice: int
    window_s: float
    central_cpu: float
    collectors_cpu: float
    backlog: int  # results spooled at the collectors, not yet stored, at the window's end
    reread_s: float  # what the central spends reading site s0's job per results request
    per_job: int  # targets of site s0's job

    def saturated(self) -> bool:
        return self.stored < 0.95 * self.expected

    def rate(self) -> float:
        return self.stored / self.window_s

    def per_1000(self, cpu: float) -> float:
        return 1000 * cpu / self.stored if self.stored else math.nan


def scale_run(n: int, collectors: int, interval: float, window: float, workdir: Path) -> Scale:
    """N targets, by the serve alone (``collectors=0``) or by that many collectors."""
    sites = max(collectors, 1)
    hosts = [n // sites + (i < n % sites) for i in range(sites)]
    env = {"NETGAUGE_COLLECTOR_POLL_S": "10", "NETGAUGE_COLLECTOR_DEAD_AFTER_S": "30"}  # defaults
    with ExitStack() as stack, tempfile.TemporaryDirectory(dir=workdir) as tmp:
        bed = Bed(stack, Path(tmp), hosts, env)
        central = bed.start_central(interval)
        for i in range(collectors):
            bed.add_collector(f"c{i}", i)
        if collectors:
            expect = {f"s{i}": h for i, h in enumerate(hosts)}
            wait_for(lambda: bed.assigned(expect), timeout=120, interval=0.5,
                     what="collectors online with every target assigned")  # fmt: skip
        time.sleep(2 * interval)  # warm-up: two rounds
        pids = [p.pid for p in bed.collectors.values()]
        c0, k0, t0 = cpu_s(central.pid), sum(cpu_s(p) for p in pids), time.time_ns()
        time.sleep(window)
        c1, k1, t1 = cpu_s(central.pid), sum(cpu_s(p) for p in pids), time.time_ns()
        backlog = sum(c["spool_pending"] for c in bed.listing().values())
        time.sleep(interval + 2)  # the window's last round reaches the central
        if collectors:
            try:
                wait_for(bed.drained, timeout=30, interval=0.5, what="spools drained")
            except AssertionError:
                pass  # not drained: what is stored is counted, the rest is not
        for name in list(bed.collectors):
            bed.labs[int(name[1:])].stop_spawned(bed.collectors.pop(name))
        central.stop()
        stamps = raw_stamps(Path(tmp) / "data" / "metrics.db", "status")
        reread = reread_s(Path(tmp) / "data" / "inventory.db", "ping-s0") if collectors else 0.0
    expected, stored, twice = by_tick(stamps, interval, t0, t1)
    setup = "serve alone" if not collectors else f"{collectors} collector{'s' * (collectors > 1)}"
    return Scale(setup, n, expected, stored, twice,
                 (t1 - t0) / 1e9, c1 - c0, k1 - k0, backlog, reread, hosts[0])  # fmt: skip


def by_tick(stamps: Stamps, interval: float, t0: int, t1: int) -> tuple[int, int, int]:
    """Expected, stored and stored-twice results of the ticks in [t0, t1).

    A job runs at epoch + phase(job) + k * interval (scheduler/timing.py) and its results
    carry the time they were measured, a little after the tick: each result is counted for
    its tick, so a window edge never cuts a round in two."""
    step = int(interval * 1e9)
    expected = stored = twice = 0
    for (target, _), ts in stamps.items():
        phase = int(phase_offset(f"ping-{target.split('-')[0]}", interval) * 1e9)
        ticks = range(-((phase - t0) // step), -((phase - t1) // step))  # phase + k*step in window
        expected += len(ticks)
        per_tick: dict[int, int] = defaultdict(int)
        for t in ts:
            per_tick[(t - phase) // step] += 1
        stored += sum(1 for k in ticks if per_tick.get(k))
        twice += sum(per_tick[k] - 1 for k in ticks if per_tick.get(k, 0) > 1)
    return expected, stored, twice


def print_scaling(rows: list[Scale], interval: float) -> None:
    print(f"\n1. Scaling: ICMP count 1 pace 0 every {interval:g} s; results counted in the store")
    print("   (this machine has", os.cpu_count(), "cores: the collectors compete with the central")
    print("   for them, so collectors' CPU here is CPU the central could not use)")
    print("   expected = one result per target per scheduled tick in the window; stored = ticks")
    print("   with a result in the store (read after the serve stopped); twice = results beyond")
    print("   one per tick (a result stored twice, or a tick run twice); backlog = results in")
    print(
        "   the collectors' spools at the window's end; cpu s/1k = CPU s per 1,000 results stored"
    )
    head = f"   {'setup':<13} {'targets':>7} {'expected':>8} {'stored':>7} {'twice':>5} "
    print(head + f"{'results/s':>9} {'backlog':>7} {'central cpu s':>13} {'cpu s/1k':>8} "
          f"{'collectors cpu s':>16} {'cpu s/1k':>8}")  # fmt: skip
    for r in rows:
        print(f"   {r.setup:<13} {r.targets:>7} {r.expected:>8} {r.stored:>7} {r.twice:>5} "
              f"{r.rate():>9.1f} {r.backlog:>7} {r.central_cpu:>13.2f} "
              f"{r.per_1000(r.central_cpu):>8.3f} {r.collectors_cpu:>16.2f} "
              f"{r.per_1000(r.collectors_cpu):>8.3f}{'  SATURATED' * r.saturated()}")  # fmt: skip


# -- 2 and 3. kill and cut ----------------------------------------------------------------------
@dataclass(frozen=True)
class Failover:
    """What the kill and the cut did to the series."""

    takeover_s: list[float]
    gaps_max_s: float
    gaps_over_2: int
    moved: int
    cut_expected: int
    cut_stored: int
    lost: int
    twice: int
    cut_s: float


def failover_run(hosts: int, cut_s: float, workdir: Path) -> Failover:
    """Site s0: 2 collectors, one SIGKILLed; site s1: 1 collector, its link cut, both at once."""
    interval, env = 10.0, {"NETGAUGE_COLLECTOR_POLL_S": "1", "NETGAUGE_COLLECTOR_DEAD_AFTER_S": "3"}
    with ExitStack() as stack, tempfile.TemporaryDirectory(dir=workdir) as tmp:
        bed = Bed(stack, Path(tmp), [hosts, hosts], env)
        central = bed.start_central(interval)
        victim = bed.add_collector("k1", 0)
        bed.add_collector("k2", 0)
        bed.add_collector("x1", 1)
        wait_for(lambda: bed.assigned({"s0": hosts, "s1": hosts}), timeout=60, interval=0.5,
                 what="3 collectors online")  # fmt: skip
        time.sleep(2.5 * interval)
        cut = ("iptables", "-w", "-A", "OUTPUT", "-d", bed.address, "-j", "DROP")
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time_ns()
        bed.in_site(1, *cut)
        cut_at = time.time_ns()
        try:
            time.sleep(cut_s)
        finally:
            bed.in_site(1, "iptables", "-w", "-D", *cut[3:])
        restored_at = time.time_ns()
        wait_for(lambda: bed.listing()["x1"]["state"] == "online"
                 and bed.listing()["x1"]["spool_pending"] == 0, timeout=60, interval=0.5,
                 what="x1 back and drained")  # fmt: skip
        time.sleep(interval + 2)
        for name in ("k2", "x1"):
            bed.labs[0 if name[0] == "k" else 1].stop_spawned(bed.collectors.pop(name))
        central.stop()
        stamps = raw_stamps(Path(tmp) / "data" / "metrics.db")
    return _failover(stamps, interval, killed_at, cut_at, restored_at)


def _failover(stamps: Stamps, interval: float, killed: int, cut: int, restored: int) -> Failover:
    step = int(interval * 1e9)
    by_vantage: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for (target, name), ts in stamps.items():
        if name.startswith("icmp.") and 'vantage="' in name:
            vantage = name.split('vantage="', 1)[1].split('"', 1)[0]
            by_vantage[vantage][target] = sorted(set(by_vantage[vantage][target]) | set(ts))
    moved = [t for t, ts in by_vantage["k1"].items() if any(x < killed for x in ts)]
    takeover = []
    for target in moved:
        after = [t for t in by_vantage["k2"].get(target, []) if t >= killed]
        takeover.append((after[0] - killed) / 1e9 if after else math.inf)
    gaps = []
    for (target, name), ts in stamps.items():
        if name == "status" and target.startswith("s0-"):
            unique = sorted(set(ts))
            gaps += [(b - a) / 1e9 for a, b in zip(unique, unique[1:], strict=False)]
    expected = stored = twice = 0
    for (target, name), ts in stamps.items():
        if not (target.startswith("s1-") and (name == "status" or "vantage=" in name)):
            continue
        twice += len(ts) - len(set(ts))
        if name != "status":
            continue
        before = [t for t in ts if t < cut]
        if not before:
            continue
        first = before[-1] + step * math.ceil((cut - before[-1]) / step)
        expected += len(range(first, restored, step))
        stored += len({t for t in ts if cut <= t < restored})
    return Failover(takeover, max(gaps, default=math.nan),
                    sum(g > 2 * interval + 0.5 for g in gaps), len(moved), expected, stored,
                    expected - stored, twice, (restored - cut) / 1e9)  # fmt: skip


def print_failover(f: Failover, hosts: int) -> None:
    interval, poll, dead = 10.0, 1.0, 3.0
    print(f"\n2. Kill -9 of one of a site's 2 collectors ({hosts} targets in the site;"
          f" interval {interval:g} s, poll {poll:g} s, dead-after {dead:g} s)")  # fmt: skip
    finite = [t for t in f.takeover_s if math.isfinite(t)]
    print(f"   its targets: {f.moved}, taken over: {len(finite)}; takeover (kill -> first sample"
          f" by the other) median {statistics.median(finite) if finite else math.nan:.1f} s,"
          f" max {max(finite, default=math.nan):.1f} s")  # fmt: skip
    print(f"   longest gap in any target's series: {f.gaps_max_s:.1f} s"
          f" = {f.gaps_max_s / interval:.2f} intervals (goal <= 2); gaps > 2 intervals:"
          f" {f.gaps_over_2}")  # fmt: skip
    print("   worst case: gap <= I * ceil((I + D + P + 1 s) / I)  (I interval, D dead-after,")
    print("   P poll, 1 s the central's fleet cache): here 10*ceil(15/10) = 20 s = 2 intervals;")
    print("   with the defaults I=60 D=30 P=10: 60*ceil(101/60) = 120 s = 2 intervals, takeover")
    print("   <= D + P + 1 + I = 101 s after the kill")
    print(f"\n3. Link of a site ({hosts} targets, 1 collector) cut {f.cut_s:.0f} s by iptables in"
          f" its namespace (OUTPUT -d central DROP)")  # fmt: skip
    print(f"   expected results in the cut: {f.cut_expected}, stored: {f.cut_stored},"
          f" lost: {f.lost}, stored twice: {f.twice}  (expected 0 / 0)")  # fmt: skip


# -- 4. paper sizing ----------------------------------------------------------------------------
def print_sizing(rows: list[Scale]) -> None:
    alone = [r for r in rows if r.setup == "serve alone" and r.stored]
    remote = [r for r in rows if r.setup != "serve alone" and r.stored and not r.saturated()]
    if not remote:
        return
    best = max(remote, key=lambda r: (r.targets, r.per_job))
    central, collector = best.per_1000(best.central_cpu), best.per_1000(best.collectors_cpu)
    rate = 100_000 / 60
    per_site = rate / 50
    print("\n4. Paper sizing (an EXTRAPOLATION from the costs above, not a measurement):")
    print(f"   per result measured at {best.targets} targets with {best.setup}: central"
          f" {central:.3f} ms CPU, collectors {collector:.3f} ms CPU")  # fmt: skip
    if alone:
        top = max(alone, key=lambda r: r.targets)
        print(f"   (serve alone at {top.targets} targets: {top.per_1000(top.central_cpu):.3f} ms"
              " CPU per result, checks included)")  # fmt: skip
    print(f"   100,000 targets every 60 s across 50 sites = {rate:,.0f} results/s"
          f" ({per_site:.1f}/s per site, 2,000 targets per site)")  # fmt: skip
    print(f"   central CPU = {central:.3f} ms x {rate:,.0f}/s = {central * rate / 1000:.2f} cores"
          " (ingest, folding, storing; the API and alerting besides)")  # fmt: skip
    reread = [r for r in rows if r.reread_s > 0]
    if reread:  # was per results request until the central kept an index (read on change)
        big = max(reread, key=lambda r: r.per_job)
        print(f"   reading a job's {big.per_job} targets takes {big.reread_s * 1000:.0f} ms: the"
              " central does it when the inventory changes, not per request")  # fmt: skip
    print(f"   per site: {collector:.3f} ms x {per_site:.1f}/s = {collector * per_site / 1000:.3f}"
          " cores for its checks: one collector is enough, a second one for takeover")  # fmt: skip


def main() -> int:
    """Build, measure, print, remove."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[2000])
    parser.add_argument("--collectors", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--extra", nargs="*", default=["16000:0", "8000:1"],
        help="more runs as TARGETS:COLLECTORS (0: the serve alone), after the grid",
    )  # fmt: skip
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--failover-hosts", type=int, default=100)
    parser.add_argument("--cut", type=float, default=60.0)
    parser.add_argument("--skip-failover", action="store_true")
    args = parser.parse_args()
    reason = missing_requirement(iptables=True)
    if reason:
        print(f"bench: {reason}", file=sys.stderr)
        return 2
    started = time.monotonic()
    rows: list[Scale] = []
    runs = [(n, k) for n in args.targets for k in args.collectors]
    runs += [(int(n), int(k)) for n, k in (extra.split(":") for extra in args.extra)]
    with tempfile.TemporaryDirectory(prefix="ng-bench-collectors-") as work:
        for n, k in runs:
            rows.append(scale_run(n, k, args.interval, args.window, Path(work)))
            r = rows[-1]
            print(f"   measured: {r.setup}, {n} targets: {r.rate():.1f} results/s", flush=True)
        failover = None
        if not args.skip_failover:
            failover = failover_run(args.failover_hosts, args.cut, Path(work))
    print_scaling(rows, args.interval)
    if failover is not None:
        print_failover(failover, args.failover_hosts)
    print_sizing(rows)
    print(f"\n(bench took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
