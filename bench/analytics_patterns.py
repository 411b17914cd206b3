"""Error patterns: throughput and grouping quality, beside drain3 and a plain baseline.

Two labelled sets:
* ``hand``: tests/unit/analytics/data/patterns_labelled.tsv, 118 lines labelled by hand;
* ``generated``: a seeded stream of LINES messages from 31 generator templates (netgauge's
  own probe/poll/job errors, Linux kernel/sshd/systemd/cron, Cisco IOS), each filled with
  random addresses, ports, numbers, names; the label is the generator's template.

Contenders, all single-threaded, on the same lines:
* ``netgauge``: netgauge.analytics.patterns (masks + Drain, depth 4, similarity 0.4);
* ``drain3``: the drain3 library with the same masks and the same depth/similarity, run in
  its own venv (``DRAIN3_PYTHON``, default /tmp/drain3-venv/bin/python; skipped if absent —
  ``python -m venv /tmp/drain3-venv && /tmp/drain3-venv/bin/pip install drain3``);
* ``exact``: what one writes by hand: replace numbers with <NUM>, group identical texts.

Rates are lines per second of CPU time of the process doing the work (``process_time``):
the bench machine is shared, and wall time there measures the neighbours as much as the
code. Run: ``PYTHONPATH=src python bench/analytics_patterns.py [LINES]`` (default 200,000).
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from netgauge.analytics.patterns import _MASKS, TemplateMiner, grouping_scores, mask, mine

HAND = Path(__file__).parent.parent / "tests/unit/analytics/data/patterns_labelled.tsv"
DRAIN3_PYTHON = os.environ.get("DRAIN3_PYTHON", "/tmp/drain3-venv/bin/python")

USERS = ["admin", "root", "netops", "backup", "oracle", "test", "pi", "jdoe", "svc-mon"]
HOSTS = ["core-sw1", "edge-rtr-07", "fw2", "printer", "win-fs01", "ap-3f-12", "dist-sw4"]
IFACES = ["eth0", "eth1", "enp3s0", "ens18", "wlan0", "bond0"]
JOBS = ["ping-core", "snmp-edge", "http-portal", "ssh-linux", "winrm-servers"]
REASONS = ["Connection lost", "Connection reset by peer", "timed out"]
SERVICES = ["snmpd", "nginx", "sshd", "chronyd", "netgauge"]


# what each {slot} of a generator template is filled with
SLOTS: dict[str, Callable[[random.Random], object]] = {
    "ip": lambda r: f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}",
    "v6": lambda r: f"2001:db8:{r.randrange(65536):x}::{r.randrange(1, 65536):x}",
    "port": lambda r: r.choice([22, 80, 161, 443, 3389, 5985, 8080, r.randrange(1024, 65536)]),
    "high": lambda r: r.randint(1024, 65535),
    "pid": lambda r: r.randint(300, 65000),
    "small": lambda r: r.randint(1, 10),
    "secs": lambda r: r.choice([1, 2, 3, 5, 10, 30]),
    "long": lambda r: r.randint(60, 4000),
    "pct": lambda r: f"{r.uniform(100.1, 400):.1f}",
    "status": lambda r: r.choice([500, 502, 503, 504]),
    "uptime": lambda r: f"{r.uniform(1, 1e6):.6f}",
    "user": lambda r: r.choice(USERS),
    "host": lambda r: r.choice(HOSTS),
    "iface": lambda r: r.choice(IFACES),
    "job": lambda r: r.choice(JOBS),
    "service": lambda r: r.choice(SERVICES),
    "reason": lambda r: r.choice(REASONS),
    "updown": lambda r: r.choice(["up", "down"]),
    "db": lambda r: r.choice(["metrics", "spool", "inventory"]),
    "uuid": lambda r: f"{r.getrandbits(128):032x}",
    "dot": lambda r: ".".join(f"{r.randrange(65536):04x}" for _ in range(3)),
}
# (label, template): the label is the template's name, the truth of the grouping
GENERATORS: list[tuple[str, str]] = [
    ("tcp_timeout", "Connection to {ip}:{port} timed out after {secs}.0 s"),
    ("tcp_timeout6", "Connection to [{v6}]:{port} timed out"),
    ("snmp_timeout", "SNMP timeout from {ip}"),
    ("snmp_noanswer", "no SNMP answer from {ip} after {small} tries of {secs} s"),
    ("icmp", "no echo reply within {secs} s ({small} sent)"),
    ("icmp_partial", "{small} of 10 sends failed: No route to host"),
    ("refused", "cannot reach {ip}:{port}: Connection refused"),
    ("noroute", "cannot reach {ip}:{port}: No route to host"),
    ("resolve", "cannot resolve {host}.example.net: Name or service not known"),
    ("http", "GET https://{ip}:{port}/status returned {status}"),
    ("http_timeout", "timed out after {secs}s waiting for the response headers"),
    ("ssh_auth", "authentication failed: {ip}:22 refused user '{user}' (password)"),
    # the free text at the end varies in length: Drain (same token count) cannot join these
    ("ssh_handshake", "SSH handshake with {ip}:22 failed: {reason}"),
    # a host name leading the line: Drain routes by the first tokens, so it splits by host
    ("bgp_flap", "{host}: BGP session to {ip} flapped {small} times"),
    ("agent", "no batch from the agent for {long} s"),
    ("refused_metric", "refused cpu_percent = {pct}: above 100"),
    ("skipped", "previous run of job {job} still running (started {long} s ago)"),
    (
        "sshd_fail",
        "sshd[{pid}]: Failed password for invalid user {user} from {ip} port {high} ssh2",
    ),
    ("sshd_ok", "sshd[{pid}]: Accepted publickey for {user} from {ip} port {high} ssh2"),
    ("sshd_close", "sshd[{pid}]: Connection closed by {ip} port {high} [preauth]"),
    ("link_down", "kernel: [{uptime}] e1000e: {iface} NIC Link is Down"),
    ("link_up", "kernel: [{uptime}] e1000e: {iface} NIC Link is Up 1000 Mbps Full Duplex"),
    ("oom", "kernel: [{uptime}] Out of memory: Killed process {pid} ({service})"),
    ("systemd", "systemd[1]: Started {service}.service."),
    ("cron", "CRON[{pid}]: pam_unix(cron:session): session closed for user {user}"),
    ("ios_updown", "%LINK-3-UPDOWN: Interface Gi{small}/{pid}, changed state to {updown}"),
    ("ios_bgp", "%BGP-5-ADJCHANGE: neighbor {ip} Down BGP Notification sent"),
    ("ios_dup", "%IP-4-DUPADDR: Duplicate address {ip} on Vlan{pid}, sourced by {dot}"),
    ("disk_full", "write /var/lib/netgauge/{db}.db: No space left on device"),
    ("uuid_run", "run {uuid} of job {job} failed"),
    ("store", "write to influxdb failed: HTTP {status} after {long} ms"),
]
_FIELDS = [[f for _, f, _, _ in string.Formatter().parse(t) if f] for _, t in GENERATORS]


def _message(r: random.Random, index: int) -> str:
    return GENERATORS[index][1].format(**{f: SLOTS[f](r) for f in _FIELDS[index]})


def generated(n: int, seed: int = 16) -> tuple[list[str], list[str]]:
    """``n`` messages and their labels; template frequencies skewed as in real logs."""
    r = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(len(GENERATORS))]  # Zipf-like
    picks = r.choices(range(len(GENERATORS)), weights=weights, k=n)
    return [_message(r, i) for i in picks], [GENERATORS[i][0] for i in picks]


def hand() -> tuple[list[str], list[str]]:
    """The hand-labelled lines: messages and labels."""
    rows = [
        line.split("\t", 1)
        for line in HAND.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [m for _, m in rows], [label for label, _ in rows]


def run_netgauge(messages: list[str], cache_size: int = 100_000) -> tuple[list[str], float]:
    start = time.process_time()
    ids = mine(messages, TemplateMiner(cache_size=cache_size)).ids
    return ids, time.process_time() - start


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def run_exact(messages: list[str]) -> tuple[list[str], float]:
    start = time.process_time()
    ids = [_NUMBER.sub("<NUM>", m) for m in messages]
    return ids, time.process_time() - start


_DRAIN3 = r"""
import json, sys, time
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from drain3.masking import MaskingInstruction
masks, path = json.loads(sys.argv[1]), sys.argv[2]
cfg = TemplateMinerConfig()
cfg.drain_depth, cfg.drain_sim_th, cfg.drain_max_children = 4, 0.4, 100
cfg.masking_instructions = [MaskingInstruction(p, name) for p, name in masks]
cfg.mask_prefix, cfg.mask_suffix = "<", ">"
cfg.profiling_enabled = False
miner = TemplateMiner(config=cfg)
lines = open(path, encoding="utf-8").read().split("\n")
start = time.process_time()
ids = [miner.add_log_message(line)["cluster_id"] for line in lines]
elapsed = time.process_time() - start
print(json.dumps({"ids": [str(i) for i in ids], "seconds": elapsed}))
"""


def run_drain3(messages: list[str]) -> tuple[list[str], float] | None:
    if not Path(DRAIN3_PYTHON).exists():
        return None
    masks = [(p.pattern, name.strip("<>")) for p, name, _ in _MASKS]
    with tempfile.NamedTemporaryFile("w", suffix=".log", encoding="utf-8") as handle:
        handle.write("\n".join(messages))
        handle.flush()
        done = subprocess.run(
            [DRAIN3_PYTHON, "-c", _DRAIN3, json.dumps(masks), handle.name],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
    answer = json.loads(done.stdout)
    return answer["ids"], answer["seconds"]


def report(name: str, messages: list[str], labels: list[str]) -> None:
    distinct = len({mask(m) for m in messages})
    print(  # noqa: T201
        f"\n{name}: {len(messages):,} lines, {len(set(labels))} labelled templates, "
        f"{distinct:,} distinct texts after masking"
    )
    timed = len(messages) >= 10_000  # below, a rate measures start-up more than the work
    print(f"{'':18} {'lines/s':>10} {'GA':>6} {'P':>6} {'R':>6} {'F1':>6} {'groups':>7}")  # noqa: T201
    runs = [
        ("netgauge", run_netgauge(messages)),
        ("netgauge, no cache", run_netgauge(messages, cache_size=1)),
        ("drain3", run_drain3(messages)),
        ("exact", run_exact(messages)),
    ]
    for who, result in runs:
        if result is None:
            print(f"{who:18} (not installed: see the module's text)")  # noqa: T201
            continue
        ids, seconds = result
        s = grouping_scores(ids, labels)
        rate = f"{len(messages) / seconds:>10,.0f}" if timed else f"{'-':>10}"
        print(  # noqa: T201
            f"{who:18} {rate} {s.grouping_accuracy:>6.3f} {s.template_precision:>6.3f} "
            f"{s.template_recall:>6.3f} {s.template_f1:>6.3f} {len(set(ids)):>7}"
        )


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    report("hand-labelled", *hand())
    report("generated (seed 16)", *generated(lines))


if __name__ == "__main__":
    main()
