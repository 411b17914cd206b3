"""netgauge's SNMP client next to Prometheus snmp_exporter, polling real snmpd agents.

    sudo ./scripts/bench snmp [--processes 4] [--ports 25] [--duration 10] [--profile]
    .venv/bin/python bench/snmp.py [--processes 4] [--ports 25] [--duration 10] [--no-wait-cpu]

The load is net-snmp itself: ``--processes`` snmpd processes (tests/lab/snmpd.py's agent,
random community) each listening on ``--ports`` UDP ports of 127.0.0.1, so 100 agents by
default. Nothing is sent anywhere but 127.0.0.1. Before measuring, every port must answer
and every process must serve hrProcessorLoad (snmpd has it about a minute after it starts;
``--no-wait-cpu`` skips that wait, and the walks then find that column empty).

Workloads, each for ``--duration`` seconds, round-robin over every agent:

* ``get``: one GET of the same 10 scalar OIDs (sysUpTime, UCD memory and ssCpuRaw counters).
* ``walk``: a GETBULK walk (max-repetitions 25) of ifDescr, ifInOctets, ifOutOctets,
  ifHCInOctets, ifHCOutOctets, hrProcessorLoad and hrStorage type/descr/units/size/used.
* ``poll`` (netgauge only): ``SnmpPoller.poll``, the full device poll of the service.

netgauge runs in a child process (``--worker``) keeping ``--concurrency`` requests in flight
on one ``SnmpClient`` (timeout 1 s, 1 retry). snmp_exporter (Debian's
prometheus-snmp-exporter; its ``snmp.yml`` is written here by hand, the same OIDs, the same
timeout and retries, since its generator needs MIB files this machine cannot download) is
started fresh for each workload and driven by a child process keeping
``--exporter-concurrency`` keep-alive HTTP requests ``/snmp?target=127.0.0.1:PORT&module=M``
in flight; an answer counts when it is a 200 carrying the module's samples.

Printed per run: completed device polls per second, OIDs (values returned) per second, the
CPU seconds and peak RSS of the poller process (netgauge: ``os.wait4`` of the worker, start-up
included; snmp_exporter: ``/proc/PID/stat`` and ``VmHWM`` of the exporter), CPU µs per poll
inside the measured window, the UDP datagrams the kernel dropped on full receive buffers
(``drops``, host-wide; netgauge's own socket's share is named under its row), the CPU the
snmpd agents and the HTTP driver spent (overhead the exporter's users would not have), and
the ratio netgauge / snmp_exporter of polls/s.
``--profile`` then runs each netgauge workload again under cProfile and prints where the
time goes. Every wait is bounded; the agents and the exporter are stopped at the end, even
on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.lab when run as a script

from tests.lab.snmpd import (  # noqa: E402
    HR_PROCESSOR_LOAD,
    SYS_UPTIME,
    Snmpd,
    SnmpError,
    missing_snmpd,
)

EXPORTER = shutil.which("prometheus-snmp-exporter") or "/usr/bin/prometheus-snmp-exporter"
RUN_GRACE_S = 60.0  # a worker still running this long after its duration is killed
READY_TIMEOUT_S = 30.0  # every agent port answering / the exporter serving
CPU_WAIT_S = 90.0  # hrProcessorLoad appears about 60 s after snmpd starts
SNMP_TIMEOUT_S = 1.0  # both tools: per-try timeout and retries
SNMP_RETRIES = 1
MAX_REPETITIONS = 25

# name, numeric OID of the object (the GET adds .0), Prometheus type
GET_OBJECTS: tuple[tuple[str, str, str], ...] = (
    ("sysUpTime", "1.3.6.1.2.1.1.3", "gauge"),
    ("memTotalSwap", "1.3.6.1.4.1.2021.4.3", "gauge"),
    ("memAvailSwap", "1.3.6.1.4.1.2021.4.4", "gauge"),
    ("memTotalReal", "1.3.6.1.4.1.2021.4.5", "gauge"),
    ("memAvailReal", "1.3.6.1.4.1.2021.4.6", "gauge"),
    ("ssCpuRawUser", "1.3.6.1.4.1.2021.11.50", "counter"),
    ("ssCpuRawNice", "1.3.6.1.4.1.2021.11.51", "counter"),
    ("ssCpuRawSystem", "1.3.6.1.4.1.2021.11.52", "counter"),
    ("ssCpuRawIdle", "1.3.6.1.4.1.2021.11.53", "counter"),
    ("ssCpuRawWait", "1.3.6.1.4.1.2021.11.54", "counter"),
)
# name, numeric OID of the column, Prometheus type, index label
WALK_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("ifDescr", "1.3.6.1.2.1.2.2.1.2", "DisplayString", "ifIndex"),
    ("ifInOctets", "1.3.6.1.2.1.2.2.1.10", "counter", "ifIndex"),
    ("ifOutOctets", "1.3.6.1.2.1.2.2.1.16", "counter", "ifIndex"),
    ("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter", "ifIndex"),
    ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter", "ifIndex"),
    ("hrProcessorLoad", HR_PROCESSOR_LOAD, "gauge", "hrDeviceIndex"),
    ("hrStorageType", "1.3.6.1.2.1.25.2.3.1.2", "DisplayString", "hrStorageIndex"),
    ("hrStorageDescr", "1.3.6.1.2.1.25.2.3.1.3", "DisplayString", "hrStorageIndex"),
    ("hrStorageAllocationUnits", "1.3.6.1.2.1.25.2.3.1.4", "gauge", "hrStorageIndex"),
    ("hrStorageSize", "1.3.6.1.2.1.25.2.3.1.5", "gauge", "hrStorageIndex"),
    ("hrStorageUsed", "1.3.6.1.2.1.25.2.3.1.6", "gauge", "hrStorageIndex"),
)
WORKLOADS = {"get": "GET 10 OIDs", "walk": "walk 11 columns", "poll": "full device poll"}
EXPORTER_MODULES = {"get": "get10", "walk": "walk"}


def _oid(text: str) -> tuple[int, ...]:
    return tuple(int(arc) for arc in text.split("."))


# -- the load: snmpd processes listening on many ports ----------------------------------------


def free_udp_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct UDP ports free on ``host`` right now (all bound at once, then freed)."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


class MultiPortSnmpd(Snmpd):
    """tests/lab's snmpd listening on ``count`` loopback ports (one comma-separated agent
    address list); :attr:`port` (the one its own readiness check and snmpwalk use) is the
    first. A port taken meanwhile makes the lab pick new ones and start again."""

    def __init__(self, count: int, community: str) -> None:
        super().__init__()
        self.community = community  # one for all: the exporter's module carries it
        self.count = count
        self.ports = [self.port]

    def _launch(self) -> None:
        self.ports = [self.port]
        while len(self.ports) < self.count:
            self.ports += [p for p in free_udp_ports(self.count) if p not in self.ports]
        self.ports = self.ports[: self.count]
        super()._launch()

    def command(self) -> list[str]:
        argv = super().command()
        argv[-1] = ",".join(f"udp:{self.address}:{port}" for port in self.ports)
        return argv

    def answers(self, port: int) -> bool:
        """Whether the agent answers a v2c GET of sysUpTime on ``port``."""
        target = f"udp:{self.address}:{port}"
        args = ["-v2c", "-c", self.community, "-t", "0.5", "-r", "1", target, SYS_UPTIME]
        try:
            return bool(self._run("snmpget", args, 5.0))
        except SnmpError:
            return False

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid


def start_agents(processes: int, ports: int) -> list[MultiPortSnmpd]:
    """Start the snmpd processes; wait (bounded) until every port answers."""
    agents: list[MultiPortSnmpd] = []
    community = secrets.token_hex(8)
    try:
        for _ in range(processes):
            agent = MultiPortSnmpd(ports, community)
            agents.append(agent)
            agent.start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        for agent in agents:
            for port in agent.ports:
                while not agent.answers(port):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"snmpd not answering on 127.0.0.1:{port}")
                    time.sleep(0.2)
    except BaseException:
        stop_all(agents)
        raise
    return agents


def stop_all(agents: Sequence[Snmpd]) -> None:
    for agent in agents:
        agent.stop()


# -- snmp_exporter ----------------------------------------------------------------------------


def exporter_config(community: str) -> str:
    """snmp.yml for snmp_exporter 0.21 (modules at the top level, auth inside each), as its
    generator would write it for these OIDs."""
    common = [
        "  version: 2",
        f"  max_repetitions: {MAX_REPETITIONS}",
        f"  retries: {SNMP_RETRIES}",
        f"  timeout: {SNMP_TIMEOUT_S:g}s",
        "  auth:",
        f"    community: {community}",
    ]
    lines = ["# written by bench/snmp.py", "get10:", "  get:"]
    lines += [f"  - {oid}.0" for _name, oid, _type in GET_OBJECTS]
    lines.append("  metrics:")
    for name, oid, kind in GET_OBJECTS:
        lines += [f"  - name: {name}", f"    oid: {oid}", f"    type: {kind}"]
    lines += common
    lines += ["walk:", "  walk:"]
    lines += [f"  - {oid}" for _name, oid, _type, _index in WALK_COLUMNS]
    lines.append("  metrics:")
    for name, oid, kind, index in WALK_COLUMNS:
        lines += [
            f"  - name: {name}",
            f"    oid: {oid}",
            f"    type: {kind}",
            "    indexes:",
            f"    - labelname: {index}",
            "      type: gauge",
        ]
    lines += common
    return "\n".join(lines) + "\n"


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Exporter:
    """One snmp_exporter process on 127.0.0.1:<free port>; a context manager."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_tcp_port()
        self._log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    EXPORTER,
                    f"--config.file={config}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=error",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fetch(self, path: str, timeout: float = 10.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout) as answer:
                return int(answer.status), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"snmp_exporter exited: {self._log.read_text()[-800:]}")
            with contextlib.suppress(OSError):
                if self.fetch("/", timeout=1.0)[0] == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"snmp_exporter not serving after {READY_TIMEOUT_S:g} s")
            time.sleep(0.1)

    def cpu_s(self) -> float:
        """user + system CPU seconds of the exporter so far."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> Exporter:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def check_exporter(exporter: Exporter, port: int) -> None:
    """One scrape per module must carry every metric with real values."""
    for module, names in (
        ("get10", [name for name, _oid, _type in GET_OBJECTS]),
        ("walk", ["ifHCInOctets", "hrStorageSize", "ifDescr"]),
    ):
        status, body = exporter.fetch(f"/snmp?target=127.0.0.1:{port}&module={module}")
        missing = [n for n in names if not re.search(rf"^{n}(\{{.*\}})? \d", body, re.MULTILINE)]
        if status != 200 or missing:
            raise RuntimeError(
                f"snmp_exporter module {module}: HTTP {status}, missing {missing}:\n{body[:800]}"
            )


# -- workers (child processes) ----------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    port: int
    community: str


def own_udp_drops() -> int:
    """Datagrams the kernel dropped on this process's UDP sockets (their receive buffer was
    full): the ``drops`` column of /proc/net/udp for the inodes of our open sockets."""
    inodes: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    drops += int(fields[-1])
    return drops


def _window_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def netgauge_worker(
    workload: str, agents: Sequence[Agent], duration: float, concurrency: int
) -> dict[str, Any]:
    """Keep ``concurrency`` netgauge requests in flight for ``duration`` seconds."""
    from netgauge.pollers.snmp import SnmpPoller
    from netgauge.pollers.snmp_ber import V2C, Value
    from netgauge.pollers.snmp_client import Credentials, Endpoint, Oid, SnmpClient, SnmpError
    from netgauge.pollers.snmp_profiles import load_profiles

    get_oids = [_oid(f"{oid}.0") for _name, oid, _type in GET_OBJECTS]
    columns = [_oid(oid) for _name, oid, _type, _index in WALK_COLUMNS]
    targets = [
        (f"agent-{a.port}", Endpoint("127.0.0.1", a.port), Credentials(V2C, a.community.encode()))
        for a in agents
    ]
    counted = {"oids": 0}

    class Counting:
        """The SnmpQueries the poller uses, counting the values returned."""

        def __init__(self, client: SnmpClient) -> None:
            self._client = client

        async def get(
            self, endpoint: Endpoint, credentials: Credentials, oids: Sequence[Oid]
        ) -> dict[Oid, Value]:
            values = await self._client.get(endpoint, credentials, oids)
            counted["oids"] += len(values)
            return values

        async def walk(
            self,
            endpoint: Endpoint,
            credentials: Credentials,
            columns: Sequence[Oid],
            *,
            max_repetitions: int = MAX_REPETITIONS,
        ) -> dict[Oid, dict[Oid, Value]]:
            tables = await self._client.walk(
                endpoint, credentials, columns, max_repetitions=max_repetitions
            )
            counted["oids"] += sum(map(len, tables.values()))
            return tables

    async with SnmpClient(timeout=SNMP_TIMEOUT_S, retries=SNMP_RETRIES) as client:
        poller = SnmpPoller(Counting(client), load_profiles())

        async def one(device: str, endpoint: Endpoint, credentials: Credentials) -> int:
            """One poll: the number of values it returned (get, walk), 1 for a poll that
            found the device online (its values are counted by ``Counting``); 0: failed."""
            if workload == "get":
                values = await client.get(endpoint, credentials, get_oids)
                return sum(isinstance(v, int) for v in values.values())
            if workload == "walk":
                tables = await client.walk(
                    endpoint, credentials, columns, max_repetitions=MAX_REPETITIONS
                )
                return sum(map(len, tables.values()))
            reading = await poller.poll(device, endpoint, credentials)
            return int(reading.state.value == "online")

        # check every agent once (and prime the poller's per-device state)
        for device, endpoint, credentials in targets:
            found = await one(device, endpoint, credentials)
            if found < (len(get_oids) if workload == "get" else 1):
                raise RuntimeError(f"{endpoint}: {workload} returned {found} values")
        if workload == "poll":  # the first poll of a device has no rates nor CPU ticks yet
            for device, endpoint, credentials in targets:
                reading = await poller.poll(device, endpoint, credentials)
            if reading.errors:  # expected: ssCpuRaw* ticks do not move within 5 s
                print(f"worker: second poll of {device}: {reading.errors}", file=sys.stderr)
        if workload == "walk":
            check = await client.walk(targets[0][1], targets[0][2], columns)
            empty = [c for c in columns if not check[c]]
            if empty:
                print(f"worker: empty columns {empty}", file=sys.stderr)

        cycle = itertools.cycle(targets)
        done = oids = 0
        deadline = time.monotonic() + duration

        failures: collections.Counter[str] = collections.Counter()

        async def loop() -> None:
            nonlocal done, oids
            while time.monotonic() < deadline:
                try:
                    found = await one(*next(cycle))
                except SnmpError as exc:
                    failures[type(exc).__name__] += 1
                    continue
                if found:
                    done += 1
                    oids += found
                else:
                    failures["incomplete answer"] += 1

        cpu0, start, counted0 = _window_cpu(), time.monotonic(), counted["oids"]
        drops0 = own_udp_drops()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed, cpu = time.monotonic() - start, _window_cpu() - cpu0
        if own_udp_drops() > drops0:
            failures["(replies dropped: client socket buffer full)"] = own_udp_drops() - drops0
        if workload == "poll":
            oids = counted["oids"] - counted0
    return {
        "done": done,
        "oids": oids,
        "errors": sum(n for kind, n in failures.items() if not kind.startswith("(")),
        "error_kinds": dict(failures),
        "elapsed": elapsed,
        "cpu": cpu,
    }


def count_samples(body: bytes) -> int:
    """The exporter's samples of SNMP values: lines not comments nor snmp_scrape_*."""
    return sum(
        1 for line in body.split(b"\n") if line and line[0] != 35 and not line.startswith(b"snmp_")
    )


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    match = re.search(rb"content-length:\s*(\d+)", lower)
    return await reader.readexactly(int(match.group(1))) if match else b""


async def exporter_driver(
    workload: str, agents: Sequence[Agent], duration: float, concurrency: int, http_port: int
) -> dict[str, Any]:
    """Keep ``concurrency`` keep-alive HTTP scrapes of snmp_exporter in flight."""
    module = EXPORTER_MODULES[workload]
    minimum = len(GET_OBJECTS) if workload == "get" else 1
    requests = [
        (
            f"GET /snmp?target=127.0.0.1:{a.port}&module={module} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{http_port}\r\n\r\n"
        ).encode()
        for a in agents
    ]
    cycle = itertools.cycle(requests)
    done = oids = errors = 0
    deadline = time.monotonic() + duration

    async def loop() -> None:
        nonlocal done, oids, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", http_port)
        try:
            while time.monotonic() < deadline:
                writer.write(next(cycle))
                async with asyncio.timeout(10 * SNMP_TIMEOUT_S * (SNMP_RETRIES + 1)):
                    head = await reader.readuntil(b"\r\n\r\n")
                    body = await _read_body(reader, head)
                found = count_samples(body) if head[9:12] == b"200" else 0
                if found >= minimum:
                    done += 1
                    oids += found
                else:
                    errors += 1
        finally:
            writer.close()

    cpu0, start = _window_cpu(), time.monotonic()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed, cpu = time.monotonic() - start, _window_cpu() - cpu0
    return {"done": done, "oids": oids, "errors": errors, "elapsed": elapsed, "cpu": cpu}


def worker_main(args: argparse.Namespace) -> int:
    """``--worker``: run one workload, print its counts as one JSON line."""
    agents = [Agent(**entry) for entry in json.loads(Path(args.agents_file).read_text())]
    kind, _sep, workload = args.worker.partition(":")
    if kind == "exporter":
        coro = exporter_driver(
            workload, agents, args.duration, args.exporter_concurrency, args.http_port
        )
    else:
        coro = netgauge_worker(workload, agents, args.duration, args.concurrency)
    if args.profile_out:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        result = profile.runcall(asyncio.run, coro)
        with open(args.profile_out, "w") as out:
            stats = pstats.Stats(profile, stream=out).sort_stats("tottime")
            print(f"polls: {result['done']} in {result['elapsed']:.1f} s", file=out)
            stats.print_stats(25)
    else:
        result = asyncio.run(coro)
    print(json.dumps(result))
    return 0


# -- the parent: spawn, measure, print --------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One measured workload."""

    polls_s: float
    oids_s: float
    errors: int
    cpu_s: float  # of the poller process
    cpu_us_per_poll: float  # inside the measured window
    rss_mb: float
    agents_cpu_s: float  # the snmpd processes, during the run
    driver_cpu_s: float | None = None  # the HTTP driver (exporter runs)
    error_kinds: str = ""
    drops: int = 0  # UDP datagrams the kernel dropped on full receive buffers (whole host)


def udp_rcvbuf_errors() -> int:
    """The host's count of UDP datagrams dropped because a socket's buffer was full."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    names, values = [line for line in lines if line[0] == "Udp:"][:2]
    return int(values[names.index("RcvbufErrors")])


def proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn_worker(
    worker: str, common: list[str], extra: Sequence[str] = ()
) -> tuple[dict[str, Any], resource.struct_rusage]:
    """Run ``bench/snmp.py --worker WORKER``; its JSON result and its rusage (os.wait4)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", worker, *common, *extra]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        pid = os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
        )
        duration = float(common[common.index("--duration") + 1])
        status, usage = _wait(pid, time.monotonic() + duration + RUN_GRACE_S)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not stdout.strip():
        raise RuntimeError(f"worker {worker} exited {code}: {stderr.strip()[-1500:]}")
    if stderr.strip():
        print(f"  ({worker}: {stderr.strip()[-300:]})", file=sys.stderr)
    return json.loads(stdout.strip().splitlines()[-1]), usage


def _wait(pid: int, deadline: float) -> tuple[int, resource.struct_rusage]:
    """wait4 the child, polling so that a hung one is killed at ``deadline``."""
    try:
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done == pid:
                return status, usage
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker pid {pid} still running after its bound: killed")
            time.sleep(0.02)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
        raise


def run_netgauge(workload: str, common: list[str], agents: Sequence[MultiPortSnmpd]) -> Run:
    snmpd0, drops0 = sum(proc_cpu_s(a.pid) for a in agents), udp_rcvbuf_errors()
    result, usage = spawn_worker(f"netgauge:{workload}", common)
    snmpd = sum(proc_cpu_s(a.pid) for a in agents) - snmpd0
    return Run(
        result["done"] / result["elapsed"],
        result["oids"] / result["elapsed"],
        result["errors"],
        usage.ru_utime + usage.ru_stime,
        1e6 * result["cpu"] / max(result["done"], 1),
        usage.ru_maxrss / 1024,
        snmpd,
        error_kinds=", ".join(f"{k}: {n}" for k, n in result["error_kinds"].items()),
        drops=udp_rcvbuf_errors() - drops0,
    )


def run_exporter(
    workload: str, common: list[str], agents: Sequence[MultiPortSnmpd], work: Path
) -> Run:
    with Exporter(work / "snmp.yml", work / "exporter.log") as exporter:
        check_exporter(exporter, agents[0].ports[0])
        cpu0 = exporter.cpu_s()
        snmpd0, drops0 = sum(proc_cpu_s(a.pid) for a in agents), udp_rcvbuf_errors()
        extra = ["--http-port", str(exporter.port)]
        result, usage = spawn_worker(f"exporter:{workload}", common, extra)
        snmpd = sum(proc_cpu_s(a.pid) for a in agents) - snmpd0
        cpu = exporter.cpu_s() - cpu0
        rss = exporter.peak_rss_mb()
        drops = udp_rcvbuf_errors() - drops0
    return Run(
        result["done"] / result["elapsed"],
        result["oids"] / result["elapsed"],
        result["errors"],
        cpu,
        1e6 * cpu / max(result["done"], 1),
        rss,
        snmpd,
        usage.ru_utime + usage.ru_stime,
        drops=drops,
    )


HEADER = (
    f"{'tool':<14} {'workload':<17} {'polls/s':>8} {'OIDs/s':>9} {'errors':>6} {'drops':>5} "
    f"{'cpu s':>6} "
    f"{'µs/poll':>7} {'rss MB':>7} {'snmpd s':>7} {'driver s':>8}  netgauge/exporter"
)


def row(tool: str, workload: str, run: Run, ratio: str = "") -> str:
    driver = f"{run.driver_cpu_s:8.2f}" if run.driver_cpu_s is not None else f"{'-':>8}"
    return (
        f"{tool:<14} {WORKLOADS[workload]:<17} {run.polls_s:8.0f} {run.oids_s:9.0f} "
        f"{run.errors:6d} {run.drops:5d} {run.cpu_s:6.2f} {run.cpu_us_per_poll:7.0f} "
        f"{run.rss_mb:7.1f} {run.agents_cpu_s:7.2f} {driver}  {ratio}"
    ) + (f"\n{'':<14} errors: {run.error_kinds}" if run.error_kinds else "")


def wait_for_cpu_load(agents: Sequence[MultiPortSnmpd]) -> None:
    start = time.monotonic()
    print("waiting for hrProcessorLoad on every snmpd (about a minute)...", flush=True)
    for agent in agents:
        remaining = max(CPU_WAIT_S - (time.monotonic() - start), 1.0)
        agent.wait_for_hr_processor_load(deadline_s=remaining)
    print(f"hrProcessorLoad served after {time.monotonic() - start:.0f} s", flush=True)


def bench(args: argparse.Namespace, work: Path) -> None:
    agents = start_agents(args.processes, args.ports)
    try:
        community = agents[0].community
        print(
            f"{len(agents)} snmpd processes x {args.ports} ports = "
            f"{sum(len(a.ports) for a in agents)} agents on 127.0.0.1; "
            f"concurrency netgauge {args.concurrency}, exporter {args.exporter_concurrency}; "
            f"{args.duration:g} s per run",
            flush=True,
        )
        if not args.no_wait_cpu:
            wait_for_cpu_load(agents)
        agents_file = work / "agents.json"
        agents_file.write_text(
            json.dumps(
                [{"port": p, "community": a.community} for a in agents for p in a.ports],
            )
        )
        (work / "snmp.yml").write_text(exporter_config(community))
        common = [
            "--agents-file",
            str(agents_file),
            "--duration",
            str(args.duration),
            "--concurrency",
            str(args.concurrency),
            "--exporter-concurrency",
            str(args.exporter_concurrency),
        ]
        floor = spawn_floor()
        print(f"rss floor (/bin/true spawned from here): {floor:.1f} MB")
        with_exporter = os.access(EXPORTER, os.X_OK)
        if not with_exporter:
            print("bench: snmp_exporter not found (Debian package prometheus-snmp-exporter)")
        print(HEADER, flush=True)
        for workload in args.workloads:
            ours = run_netgauge(workload, common, agents)
            print(row("netgauge", workload, ours), flush=True)
            if workload in EXPORTER_MODULES and with_exporter:
                theirs = run_exporter(workload, common, agents, work)
                ratio = f"{ours.polls_s / max(theirs.polls_s, 1e-9):5.2f}x"
                print(row("snmp_exporter", workload, theirs, ratio), flush=True)
        if args.profile:
            for workload in args.workloads:
                out = work / f"profile-{workload}.txt"
                spawn_worker(f"netgauge:{workload}", common, ["--profile-out", str(out)])
                print(f"\n== cProfile of the netgauge {workload} worker (top by tottime) ==")
                print(out.read_text())
    finally:
        stop_all(agents)


def spawn_floor() -> float:
    pid = os.posix_spawn("/bin/true", ["/bin/true"], dict(os.environ))
    _status, usage = _wait(pid, time.monotonic() + 10)
    return usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--processes", type=int, default=4, help="snmpd processes")
    parser.add_argument("--ports", type=int, default=25, help="ports per snmpd process")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--concurrency", type=int, default=256, help="netgauge in flight")
    parser.add_argument(
        "--exporter-concurrency", type=int, default=128, help="HTTP scrapes in flight"
    )
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--no-wait-cpu", action="store_true", help="skip the hrProcessorLoad wait")
    parser.add_argument("--profile", action="store_true", help="cProfile the netgauge workers")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--agents-file", help=argparse.SUPPRESS)
    parser.add_argument("--http-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)
    if not 1 <= args.duration <= 600:
        parser.error("--duration is 1..600 seconds")
    reason = missing_snmpd()
    if reason:
        print(f"bench: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="netgauge-bench-snmp-") as work:
        bench(args, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
