"""A labelled synthetic fleet with known failure hazards (seeded), for the risk bench and tests.

Each device has a kind, and the kind's hazards decide its outages; every outage is kept
with its cause, so the truth comes from here, never from the code under test. Time runs in
15-minute steps; a device online is polled every step (cpu, memory, disk, temperature,
uptime); offline, it is silent.

Kinds (share of the fleet) and what precedes their outages:

* ``healthy`` (55 %): nothing — rare random outages (1 per 60 days), like every device;
* ``leaky`` (10 %): memory grows 0.3–1.2 points/h from 35–55 %; at 96–99 % the device
  crashes (outage, then a reboot: uptime and memory reset); above 85 % an operator restarts
  it first with probability 2 % per step (a reboot, no outage);
* ``changes`` (10 %): configuration changes every 2 days on average (other kinds: 7 days);
  each is followed by an outage 1–12 h later with probability 0.45 (others: 0.10);
* ``unstable`` (10 %): spontaneous reboots every 3 days on average (uptime resets, not
  seen as offline); each is followed by an outage 4–24 h later with probability 0.5;
* ``flappy`` (8 %): flap episodes every 2 days (online/degraded/flapping within an hour);
  each is followed by an outage 6–30 h later with probability 0.4;
* ``hot`` (7 %): heat episodes every 5 days: temperature climbs 1.5–3 °C/h; at 85 °C the
  device shuts down (outage).

Every kind also has noise that precedes nothing: degraded blips (every 5 days) and
planned reboots (every 20 days). Outages last 15 min–3 h.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from netgauge.analytics.risk.features import DeviceHistory, history_of

STEP_S = 900.0
HOUR = 3600.0
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
KINDS: tuple[tuple[str, float], ...] = (
    ("healthy", 0.55),
    ("leaky", 0.10),
    ("changes", 0.10),
    ("unstable", 0.10),
    ("flappy", 0.08),
    ("hot", 0.07),
)


@dataclass
class Device:
    """One simulated device and everything true about it."""

    name: str
    kind: str
    outages: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, cause
    transitions: list[tuple[float, str]] = field(default_factory=list)
    changes: list[float] = field(default_factory=list)
    metrics: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def history(self) -> DeviceHistory:
        """As the risk code reads it."""
        return history_of(self.metrics, self.transitions, self.changes)


@dataclass
class Fleet:
    """The devices, and the time span simulated."""

    devices: dict[str, Device]
    start: float
    end: float

    def histories(self) -> dict[str, DeviceHistory]:
        """Every device as the risk code reads it."""
        return {name: d.history() for name, d in self.devices.items()}

    def write(self, directory: Path, changes: bool = True) -> None:
        """``metrics.csv``, ``states.csv`` (and ``changes.csv``) in the file contract's form."""
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "metrics.csv").open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["device", "metric", "timestamp", "value"])
            for d in self.devices.values():
                for metric, points in d.metrics.items():
                    out.writerows((d.name, metric, _iso(t), f"{v:.3f}") for t, v in points)
        with (directory / "states.csv").open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["device", "timestamp", "state"])
            for d in self.devices.values():
                out.writerows((d.name, _iso(t), s) for t, s in d.transitions)
        if changes:
            with (directory / "changes.csv").open("w", newline="") as f:
                out = csv.writer(f)
                out.writerow(["device", "timestamp"])
                for d in self.devices.values():
                    out.writerows((d.name, _iso(t)) for t in d.changes)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def outage_within(device: Device, times: np.ndarray, horizon_s: float) -> np.ndarray:
    """The truth: 1 where an outage of ``device`` starts in (t, t + horizon]."""
    starts = np.array(sorted(s for s, _, _ in device.outages))
    after = np.searchsorted(starts, times, side="right")
    until = np.searchsorted(starts, times + horizon_s, side="right")
    return (until > after).astype(float)


def generate(devices: int = 100, days: float = 45.0, seed: int = 1) -> Fleet:
    """A fleet of ``devices`` simulated for ``days`` from 2026-01-05, reproducible by seed."""
    rng = random.Random(seed)
    names = [f"dev-{i:04d}" for i in range(devices)]
    kinds = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS], k=devices)
    fleet = {
        n: _simulate(n, k, days, random.Random(rng.random()))
        for n, k in zip(names, kinds, strict=True)
    }
    return Fleet(fleet, START, START + days * 86400.0)


@dataclass
class _State:
    """A device's simulated condition."""

    memory_base: float
    memory: float
    leak: float
    crash_at: float
    disk: float
    temp_base: float
    heat: float = 0.0  # °C/h while a heat episode lasts
    temp_extra: float = 0.0
    booted: float = 0.0
    down_until: float | None = None
    pending: list[tuple[float, str]] = field(default_factory=list)  # outage due, cause
    blips: list[tuple[float, str]] = field(default_factory=list)  # state rows to come


def _per_step(rate_per_day: float) -> float:
    return rate_per_day * STEP_S / 86400.0


def _simulate(name: str, kind: str, days: float, rng: random.Random) -> Device:
    device = Device(name, kind, metrics={m: [] for m in _METRICS})
    s = _State(
        memory_base=rng.uniform(35, 55),
        memory=0.0,
        leak=rng.uniform(0.3, 1.2) if kind == "leaky" else 0.0,
        crash_at=rng.uniform(96, 99),
        disk=rng.uniform(20, 70),
        temp_base=rng.uniform(35, 50),
        booted=START - rng.uniform(1, 60) * 86400.0,
    )
    s.memory = s.memory_base + (rng.uniform(0, 30) if kind == "leaky" else 0.0)
    device.transitions.append((START, "online"))
    for step in range(int(days * 86400.0 / STEP_S)):
        t = START + step * STEP_S
        if s.down_until is not None:
            if t >= s.down_until:
                _recover(device, s, t, rng)
            continue
        _hazards(device, s, t, rng)
        if s.down_until is None:
            _poll(device, s, t, rng)
    return device


def _go_down(device: Device, s: _State, t: float, cause: str, rng: random.Random) -> None:
    end = t + rng.uniform(0.25, 3.0) * HOUR
    device.outages.append((t, end, cause))
    device.transitions.append((t, "offline"))
    s.down_until, s.pending, s.blips = end, [], []


def _recover(device: Device, s: _State, t: float, rng: random.Random) -> None:
    device.transitions.append((t, "online"))
    s.down_until, s.booted = None, t
    s.memory, s.heat, s.temp_extra = s.memory_base + rng.uniform(-3, 3), 0.0, 0.0


def _reboot(s: _State, t: float, rng: random.Random) -> None:
    s.booted = t - rng.uniform(30, 300)  # back up within minutes: no poll saw it down
    s.memory = s.memory_base + rng.uniform(-3, 3)


def _hazards(device: Device, s: _State, t: float, rng: random.Random) -> None:
    kind = device.kind
    while s.blips and s.blips[0][0] <= t:
        device.transitions.append(s.blips.pop(0))
    if rng.random() < _per_step(1 / 2 if kind == "changes" else 1 / 7):
        device.changes.append(t)
        if rng.random() < (0.45 if kind == "changes" else 0.10):
            s.pending.append((t + rng.uniform(1, 12) * HOUR, "change"))
    if kind == "unstable" and rng.random() < _per_step(1 / 3):
        _reboot(s, t, rng)
        if rng.random() < 0.5:
            s.pending.append((t + rng.uniform(4, 24) * HOUR, "reboots"))
    if kind == "flappy" and not s.blips and rng.random() < _per_step(1 / 2):
        _flap(s, t, rng)
        if rng.random() < 0.4:
            s.pending.append((t + rng.uniform(6, 30) * HOUR, "flaps"))
    _noise(s, t, rng)
    s.memory += s.leak * STEP_S / HOUR
    if kind == "leaky" and s.memory > 85 and rng.random() < 0.02:
        _reboot(s, t, rng)
    if kind == "hot" and s.heat == 0.0 and rng.random() < _per_step(1 / 5):
        s.heat = rng.uniform(1.5, 3.0)
    s.temp_extra += s.heat * STEP_S / HOUR
    cause = _due(s, t) or ("memory" if s.memory >= s.crash_at else None)
    cause = cause or ("heat" if s.temp_base + s.temp_extra >= 85 else None)
    if cause is None and rng.random() < _per_step(1 / 60):
        cause = "random"
    if cause is not None:
        _go_down(device, s, t, cause, rng)


def _noise(s: _State, t: float, rng: random.Random) -> None:
    """Signs that precede nothing: degraded blips and planned reboots."""
    if not s.blips and rng.random() < _per_step(1 / 5):
        s.blips = [(t + 60, "degraded"), (t + rng.uniform(5, 40) * 60, "online")]
    if rng.random() < _per_step(1 / 20):
        _reboot(s, t, rng)


def _flap(s: _State, t: float, rng: random.Random) -> None:
    at, rows = t + 30, []
    for _ in range(rng.randint(2, 4)):
        rows += [(at, "degraded"), (at + 240, "online")]
        at += rng.uniform(5, 12) * 60
    rows += [(at, "flapping"), (at + 1200, "online")]
    s.blips = rows


def _due(s: _State, t: float) -> str | None:
    due = [c for at, c in s.pending if at <= t]
    s.pending = [(at, c) for at, c in s.pending if at > t]
    return due[0] if due else None


_METRICS = (
    "cpu_percent",
    "memory_percent",
    'disk_percent{mount="/"}',
    'temperature_celsius{sensor="cpu"}',
    "uptime_seconds",
)


def _poll(device: Device, s: _State, t: float, rng: random.Random) -> None:
    day = np.sin(2 * np.pi * ((t % 86400.0) / 86400.0))
    values = (
        min(100.0, max(0.0, 25 + 15 * day + rng.gauss(0, 8))),
        min(100.0, max(0.0, s.memory + rng.gauss(0, 1.5))),
        min(100.0, s.disk + (t - START) / 86400.0 * 0.05 + rng.gauss(0, 0.2)),
        s.temp_base + s.temp_extra + 3 * day + rng.gauss(0, 1),
        t - s.booted,
    )
    for metric, value in zip(_METRICS, values, strict=True):
        device.metrics[metric].append((t, value))
