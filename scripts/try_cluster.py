"""A whole netgauge cluster on this one machine, as README "Scaling out" describes it.

Run by ``sudo ./scripts/try-cluster`` (which installs what it needs first). It starts:

* a namespace for the central, reached from this machine over a veth pair, holding
  PostgreSQL (the inventory and the leader's lock) and VictoriaMetrics (the series) on its
  own 127.0.0.1, and two ``netgauge serve`` peers sharing both behind HAProxy (the load
  balancer the README asks for);
* N sites, each a network namespace joined to the central's by a veth pair, with a route
  to the central's address only. Each holds its own hosts (addresses inside it: nothing
  outside it can reach them) and its own ``netgauge collector``, registered through the
  API like any collector.

The central pings every site's hosts through that site's collector; a destination every
site checks (the central's own address) is decided by a quorum of 2. The console is at the
HAProxy address it prints; the admin's password is in the work directory.

``--check`` brings it up, waits until every collector delivers, kills the leading ``serve``
with SIGKILL, waits until the other leads and every target is checked again, prints the
figures and takes it all down (exit 0 when every step held, 1 when one did not). Without
``--check`` it runs until Ctrl-C (or ``--max-seconds``), then takes it all down.

Traffic stays inside the namespaces this script made (and this machine's side of their
veth pair); no address outside them is used. Everything it started is stopped, and every
namespace it added is removed, however it ends.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
EXIT_MISSING = 77  # something this machine lacks: the message names it
VICTORIA_METRICS = "/usr/bin/victoria-metrics"
T = TypeVar("T")


class Missing(Exception):
    """A requirement of this machine is not met (the message names it)."""


class Failed(Exception):
    """A step of ``--check`` did not hold."""


def say(text: str) -> None:
    print(f"try-cluster: {text}", flush=True)


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(what: str, check: Callable[[], T | None], timeout: float) -> T:
    """``check()``'s first true answer, polled every 0.25 s; Failed after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (OSError, ValueError, KeyError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.25)


def requirements() -> tuple[str, str]:
    """(PostgreSQL's bin directory, haproxy's path), or Missing naming what lacks."""
    if os.geteuid() != 0:
        raise Missing("needs root (network namespaces): run it with sudo")
    if shutil.which("ip") is None:
        raise Missing("needs ip: Debian package iproute2")
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise Missing("needs a PostgreSQL server: Debian package postgresql")
    if not Path(VICTORIA_METRICS).exists():
        raise Missing("needs VictoriaMetrics: Debian package victoria-metrics")
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise Missing("needs a load balancer: Debian package haproxy")
    if shutil.which("runuser") is None:
        raise Missing("needs runuser (PostgreSQL refuses to run as root): util-linux")
    try:
        import psycopg  # noqa: F401 - the serve peers' PostgreSQL driver
    except ImportError as exc:
        raise Missing("needs psycopg in the venv: pip install '.[postgres]'") from exc
    return str(found[-1].parent), haproxy


def free_block() -> ipaddress.IPv4Network:
    """A /16 of 10.0.0.0/8 that no address or route of this machine touches."""
    used = [
        ipaddress.ip_network(word, strict=False)
        for line in (
            run("ip", "-4", "route", "show", "table", "all") + run("ip", "-4", "-o", "addr")
        ).splitlines()  # fmt: skip
        for word in line.split()
        if word[:1].isdigit() and "." in word
    ]
    for second in range(213, 250):
        block = ipaddress.IPv4Network(f"10.{second}.0.0/16")
        if not any(block.overlaps(u) for u in used if u.prefixlen > 0):
            return block
    raise Missing("no free 10.x.0.0/16 block for the sites")


class Api:
    """The console's API through the load balancer, as the admin."""

    def __init__(self, url: str) -> None:
        self.url, self.token = url, ""

    def call(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - ours
            text = answer.read()
        return json.loads(text) if text else None

    def log_in(self, password: str) -> None:
        answer = self.call("POST", "/api/v1/auth/login",
                           {"username": "admin", "password": password})  # fmt: skip
        self.token = answer["access_token"]


class Cluster:
    """Every part, started in order; ``stack`` takes each down again."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack, work: Path) -> None:
        self.args, self.stack, self.work = args, stack, work
        self.tag = secrets.token_hex(2)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.python = sys.executable

    # -- processes ------------------------------------------------------------------------------
    def spawn(self, name: str, command: list[str], env: dict[str, str] | None = None,
              netns: str | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
        if netns is not None:
            command = ["ip", "netns", "exec", netns, *command]
        log = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                start_new_session=True)  # fmt: skip
        log.close()
        self.procs[name] = proc
        self.stack.callback(self._stop, name, proc)
        return proc

    def _stop(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            tail = (self.work / f"{name}.log").read_text(errors="replace")[-1500:]
            raise Failed(f"{name} exited with {proc.returncode}:\n{tail}")

    # -- parts ----------------------------------------------------------------------------------
    def up(self, pg_bin: str, haproxy: str) -> None:
        block = free_block()
        self.hub = self._hub(block)
        self.sites = self._sites(block)
        database = self._postgres(pg_bin)
        vm_port = free_port()
        self.spawn("victoria-metrics", [
            VICTORIA_METRICS, f"-storageDataPath={self.work / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{vm_port}", "-retentionPeriod=1d"],
            netns=self.hub)  # fmt: skip
        self.password = secrets.token_urlsafe(12)
        (self.work / "admin-password").write_text(self.password + "\n")
        (self.work / "secret-key").write_text(secrets.token_urlsafe(48) + "\n")
        for path in ("admin-password", "secret-key"):
            (self.work / path).chmod(0o600)
        config = self._config()
        self.peers: dict[str, int] = {}
        for peer in ("a", "b"):
            port = free_port()
            self.peers[peer] = port
            self.spawn(f"serve-{peer}", [
                self.python, "-m", "netgauge", "serve", "--host", self.central, "--port",
                str(port), "--data-dir", str(self.work / f"serve-{peer}"), "--config",
                str(config)], env={
                "NETGAUGE_DATABASE_URL": database,
                "NETGAUGE_STORES": json.dumps([{"kind": "victoriametrics",
                                               "url": f"http://127.0.0.1:{vm_port}"}]),
                "NETGAUGE_QUERY_STORE": "victoriametrics",
                "NETGAUGE_SECRET_KEY_FILE": str(self.work / "secret-key"),
                "NETGAUGE_ADMIN_PASSWORD_FILE": str(self.work / "admin-password"),
                "NETGAUGE_COLLECTOR_POLL_S": "2",
                "NETGAUGE_COLLECTOR_DEAD_AFTER_S": "6",
                "NETGAUGE_LEADER_RETRY_S": "1",
            }, netns=self.hub)  # fmt: skip
        self.lb_port = free_port()
        self._haproxy(haproxy)
        self.api = Api(f"http://{self.central}:{self.lb_port}")
        wait_until("the peers to answer through HAProxy",
                   lambda: self.api.call("GET", "/api/v1/health"), timeout=90)  # fmt: skip
        self.api.log_in(self.password)
        for site, (netns, _) in self.sites.items():
            for k in range(1, self.args.collectors + 1):
                name = f"{site}-c{k}"
                token = self.api.call("POST", "/api/v1/collectors", {"name": name, "site": site})
                token_file = self.work / f"{name}.token"
                token_file.write_text(token["token"])
                token_file.chmod(0o600)
                self.spawn(name, [
                    self.python, "-m", "netgauge", "collector", "--server", self.api.url,
                    "--token-file", str(token_file), "--data-dir", str(self.work / name)],
                    netns=netns)  # fmt: skip

    def _netns(self, name: str) -> str:
        """A network namespace of this run (deleted again at the end), its loopback up."""
        run("ip", "netns", "add", name)
        self.stack.callback(subprocess.run, ["ip", "netns", "del", name], capture_output=True)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def _hub(self, block: ipaddress.IPv4Network) -> str:
        """The central's namespace: PostgreSQL, VictoriaMetrics, the peers and HAProxy run
        in it; this machine reaches it over a veth pair (10.x.0.1 here, 10.x.0.2 there),
        and nothing in it reaches anything else."""
        hub = self._netns(f"ngc-{self.tag}-hq")
        base = int(block.network_address)
        here, there = (str(ipaddress.ip_address(base + n)) for n in (1, 2))
        veth = f"ngc{self.tag}hq"
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", hub)
        run("ip", "addr", "add", f"{here}/24", "dev", veth)
        run("ip", "link", "set", veth, "up")
        run("ip", "-n", hub, "addr", "add", f"{there}/24", "dev", "eth0")
        run("ip", "-n", hub, "link", "set", "eth0", "up")
        self.central = there
        return hub

    def _sites(self, block: ipaddress.IPv4Network) -> dict[str, tuple[str, list[str]]]:
        """Each site: (its namespace, its hosts' addresses). A veth pair joins it to the
        central's namespace, with a route to the central's address only."""
        sites = {}
        base = int(block.network_address)
        for i in range(1, self.args.sites + 1):
            site, netns, veth = f"site{i}", self._netns(f"ngc-{self.tag}-s{i}"), f"s{i}"
            gateway = str(ipaddress.ip_address(base + i * 256 + 1))
            inside = str(ipaddress.ip_address(base + i * 256 + 2))
            run("ip", "-n", self.hub, "link", "add", veth, "type", "veth", "peer", "name",
                "eth0", "netns", netns)  # fmt: skip
            run("ip", "-n", self.hub, "addr", "add", f"{gateway}/24", "dev", veth)
            run("ip", "-n", self.hub, "link", "set", veth, "up")
            inns = ("ip", "-n", netns)
            run(*inns, "addr", "add", f"{inside}/24", "dev", "eth0")
            run(*inns, "link", "set", "eth0", "up")
            run(*inns, "route", "add", f"{self.central}/32", "via", gateway)  # that one only
            hosts = [str(ipaddress.ip_address(base + i * 256 + 10 + j))
                     for j in range(self.args.hosts)]  # fmt: skip
            for host in hosts:
                run(*inns, "addr", "add", f"{host}/32", "dev", "lo")
            sites[site] = (netns, hosts)
        return sites

    def _postgres(self, pg_bin: str) -> str:
        base = self.work / "postgres"
        base.mkdir()
        shutil.chown(base, "postgres")
        as_pg = ["ip", "netns", "exec", self.hub, "runuser", "-u", "postgres", "--"]
        port = free_port()
        run(*as_pg, f"{pg_bin}/initdb", "-D", str(base / "data"), "-A", "trust", "-U",
            "netgauge", "--no-sync")  # fmt: skip
        opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base}"
        run(*as_pg, f"{pg_bin}/pg_ctl", "-D", str(base / "data"), "-o", opts, "-l",
            str(base / "log"), "-w", "start")  # fmt: skip
        stop = [*as_pg, f"{pg_bin}/pg_ctl", "-D", str(base / "data"), "-m", "fast", "stop"]
        self.stack.callback(subprocess.run, stop, capture_output=True)
        run("ip", "netns", "exec", self.hub, f"{pg_bin}/createdb", "-h", "127.0.0.1", "-p",
            str(port), "-U", "netgauge", "netgauge")  # fmt: skip
        return f"postgresql+psycopg://netgauge@127.0.0.1:{port}/netgauge"

    def _config(self) -> Path:
        lines = ["sites:"] + [f"  - {{name: {site}}}" for site in self.sites]
        lines.append("targets:")
        names = []
        for site, (_, hosts) in self.sites.items():
            for j, host in enumerate(hosts, 1):
                names.append(f"{site}-h{j}")
                lines.append(f"  - {{name: {site}-h{j}, address: {host}, site: {site}}}")
        lines.append(f"  - {{name: central, address: {self.central}}}")
        every = self.args.interval
        ping = "{count: 3, interval: 0.2, timeout: 1}"
        vantage = ", ".join(self.sites)
        quorum = min(2, len(self.sites))
        lines += [
            "jobs:",
            f"  - {{name: ping, kind: icmp, params: {ping}, targets: [{', '.join(names)}], "
            f"interval: {every}s}}",
            f"  - {{name: ping-central, kind: icmp, params: {ping}, targets: [central], "
            f"interval: {every}s, vantage: [{vantage}], quorum: {quorum}}}",
        ]
        path = self.work / "netgauge.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _haproxy(self, haproxy: str) -> None:
        servers = "\n".join(
            f"    server {peer} {self.central}:{port} check inter 1s fall 2 rise 1"
            for peer, port in self.peers.items()
        )
        path = self.work / "haproxy.cfg"
        path.write_text(f"""global
    log stderr format short local0 notice
defaults
    mode http
    log global
    retries 3
    option redispatch
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend netgauge
    bind {self.central}:{self.lb_port}
    default_backend peers
backend peers
    option httpchk GET /api/v1/health
    http-check expect status 200
{servers}
""")
        self.spawn("haproxy", [haproxy, "-f", str(path), "-db"], netns=self.hub)

    # -- what it shows --------------------------------------------------------------------------
    def collectors(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.api.call("GET", "/api/v1/collectors")}

    def role(self, peer: str) -> str | None:
        url = f"http://{self.central}:{self.peers[peer]}/api/v1/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - ours
                return str(json.loads(answer.read())["role"])
        except (OSError, ValueError, KeyError):
            return None

    def newest(self, target: str) -> dict[str, int]:
        """The newest sample time (ns) of each ``icmp.rtt_avg_ms`` series of ``target``."""
        found = {}
        for row in self.api.call("GET", f"/api/v1/metrics/series?target={target}"):
            metric = row["metric"]
            if metric.startswith("icmp.rtt_avg_ms{vantage="):
                since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
                query = urllib.parse.urlencode({"target": target, "metric": metric,
                                                "from": since})  # fmt: skip
                points = self.api.call("GET", f"/api/v1/metrics?{query}")["points"]
                if points:
                    found[metric] = max(p["ts"] for p in points)
        return found

    def targets(self) -> list[str]:
        names = [f"{site}-h{j}" for site in self.sites for j in range(1, self.args.hosts + 1)]
        return [*names, "central"]

    def by_site(self, seen: dict[str, int], site: str) -> int:
        """The newest of ``seen`` measured by a collector of ``site`` (0: none)."""
        mine = [f'icmp.rtt_avg_ms{{vantage="{site}-c{k}"}}'
                for k in range(1, self.args.collectors + 1)]  # fmt: skip
        return max((seen.get(m, 0) for m in mine), default=0)

    def delivering(self, since_ns: int) -> bool:
        """Every site's hosts measured by a collector of that site, and the central from
        every site, after ``since_ns``."""
        for site in self.sites:
            for j in range(1, self.args.hosts + 1):
                if self.by_site(self.newest(f"{site}-h{j}"), site) <= since_ns:
                    return False
        seen = self.newest("central")
        return all(self.by_site(seen, site) > since_ns for site in self.sites)

    def summary(self) -> None:
        say(f"console: {self.api.url}  (user admin, password in {self.work / 'admin-password'})")
        for peer, port in self.peers.items():
            say(f"serve {peer}: http://{self.central}:{port}  role {self.role(peer)}")
        for name, c in sorted(self.collectors().items()):
            say(f"collector {name} (site {c['site']}): {c['state']}, {c['targets']} targets, "
                f"version {c['version']}")  # fmt: skip
        say(f"work directory (logs, config): {self.work}")

    # -- --check --------------------------------------------------------------------------------
    def check(self) -> None:
        every = self.args.interval
        # its site's hosts and the central from every site, spread over the site's collectors
        expect = self.args.hosts + 1
        wanted = len(self.sites) * self.args.collectors

        def assigned() -> bool:
            found = self.collectors()
            by_site: dict[str, int] = {}
            for c in found.values():
                by_site[c["site"]] = by_site.get(c["site"], 0) + c["targets"]
            return (len(found) == wanted and all(c["state"] == "online" for c in found.values())
                    and all(n == expect for n in by_site.values()))  # fmt: skip

        wait_until("every collector online, with its site's targets", assigned, timeout=60)
        start = time.time_ns()
        wait_until("every target measured by its site's collector",
                   lambda: self.delivering(start), timeout=6 * every + 30)  # fmt: skip
        say(f"{len(self.sites)} sites, {len(self.targets())} targets: every one measured "
            "by its collectors")  # fmt: skip
        state = self.api.call("GET", "/api/v1/status/central")["state"]
        if state != "up":
            raise Failed(f"the quorum target is {state}, not up")
        leader = wait_until("a leader", lambda: next(
            (p for p in self.peers if self.role(p) == "leader"), None), timeout=30)  # fmt: skip
        other = next(p for p in self.peers if p != leader)
        say(f"serve {leader} leads, serve {other} stands by; killing serve {leader} (SIGKILL)")
        self.procs[f"serve-{leader}"].kill()
        killed = time.monotonic()
        killed_ns = time.time_ns()
        wait_until(f"serve {other} to lead", lambda: self.role(other) == "leader",
                   timeout=2 * every)  # fmt: skip
        say(f"serve {other} leads after {time.monotonic() - killed:.2f} s")
        wait_until("every target measured again through the new leader",
                   lambda: self.delivering(killed_ns), timeout=4 * every + 30)  # fmt: skip
        self.alive(f"serve-{other}")
        for name in self.collectors():
            self.alive(name)
        say(f"every target measured again {time.monotonic() - killed:.1f} s after the kill "
            f"(interval {every:g} s)")  # fmt: skip
        retried = sum(
            (self.work / f"{name}.log").read_text(errors="replace").count("answered 503")
            for name in self.collectors()
        )  # fmt: skip
        say(f"deliveries the central asked the collectors to send again: {retried}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="try-cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=3, choices=range(1, 21), metavar="1..20")
    parser.add_argument("--hosts", type=int, default=3, choices=range(1, 51), metavar="1..50",
                        help="hosts per site (default 3)")  # fmt: skip
    parser.add_argument("--collectors", type=int, default=1, choices=range(1, 6),
                        metavar="1..5", help="collectors per site (default 1)")  # fmt: skip
    parser.add_argument("--interval", type=float, default=10.0,
                        help="seconds between checks (default 10)")  # fmt: skip
    parser.add_argument("--check", action="store_true",
                        help="check it, kill the leader, check again, take it down")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="without --check: take it down after this long")  # fmt: skip
    args = parser.parse_args(argv)
    if not 1 <= args.interval <= 300:
        parser.error("--interval: between 1 and 300 seconds")
    try:
        pg_bin, haproxy = requirements()
    except Missing as exc:
        say(str(exc))
        return EXIT_MISSING
    keep = [not args.check]  # the work directory: kept when it runs for you, or fails
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="netgauge-cluster-"))
        work.chmod(0o711)  # PostgreSQL's own user passes through to its directory (only)
        # (taken down last: the processes stop first)
        stack.callback(_remove_unless, keep, work)
        cluster = Cluster(args, stack, work)
        try:
            with _signals():
                cluster.up(pg_bin, haproxy)
                if args.check:
                    cluster.check()
                    cluster.summary()
                    say("check passed")
                    return 0
                cluster.summary()
                say("running; Ctrl-C takes it all down")
                deadline = time.monotonic() + (args.max_seconds or float("inf"))
                while time.monotonic() < deadline:
                    time.sleep(1)
        except (Failed, RuntimeError) as exc:
            keep[0] = True
            say(f"check FAILED: {exc}" if isinstance(exc, Failed) else f"FAILED: {exc}")
            say(f"logs kept in {work}")
            return 1
        except KeyboardInterrupt:
            say("stopping")
    return 0


def _remove_unless(keep: list[bool], work: Path) -> None:
    if not keep[0]:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM ends it like Ctrl-C (everything taken down)."""

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


if __name__ == "__main__":
    sys.exit(main())
