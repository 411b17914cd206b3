"""IcmpParams validation, its engine schedule, batch duration, socket mode selection."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from netgauge.errors import ProbeSetupError
from netgauge.probes.base import PROBES, BatchProbe
from netgauge.probes.icmp import ENV_SOCKET_MODE, IcmpParams, IcmpProbe, SocketMode
from netgauge.probes.icmp_socket import resolve_mode


def test_defaults() -> None:
    params = IcmpParams()
    assert (params.count, params.interval, params.timeout) == (5, 1.0, 1.0)
    assert (params.pace_ms, params.size, params.ttl, params.tos) == (10.0, 56, None, None)
    assert params.socket_mode is SocketMode.AUTO


@pytest.mark.parametrize(
    "bad",
    [
        {"count": 0},
        {"count": 1001},
        {"interval": 0.0001},
        {"timeout": 0},
        {"pace_ms": -1},
        {"size": 70000},
        {"ttl": 0},
        {"tos": 256},
        {"socket_mode": "magic"},
        {"cuont": 3},  # unknown keys are errors, not silently ignored
    ],
)
def test_invalid_params_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IcmpParams.model_validate(bad)


def test_bounds_are_inclusive() -> None:
    IcmpParams(count=1, interval=0.001, pace_ms=0)
    IcmpParams(count=1000, size=0, ttl=255, tos=0)


def test_schedule_is_in_nanoseconds() -> None:
    schedule = (
        IcmpParams(count=3, interval=0.25, timeout=0.5, pace_ms=1.5, size=8).options().schedule()
    )
    assert (schedule.count, schedule.size) == (3, 8)
    assert schedule.interval_ns == 250_000_000
    assert schedule.timeout_ns == 500_000_000
    assert schedule.pace_ns == 1_500_000


def test_probe_is_registered_and_is_a_batch_probe() -> None:
    assert PROBES.get("icmp") is IcmpProbe
    assert isinstance(IcmpProbe(), BatchProbe)
    assert IcmpProbe.params_model is IcmpParams


def test_batch_duration_grows_with_targets_and_covers_the_schedule() -> None:
    probe = IcmpProbe()
    params = IcmpParams(count=5, interval=1.0, timeout=1.0, pace_ms=10)
    assert probe.batch_duration(1, params) >= 4 * 1.0 + 1.0
    # 10 000 targets x 5 packets paced 10 ms apart take at least 500 s.
    assert probe.batch_duration(10_000, params) >= 500.0
    assert probe.batch_duration(10, {"count": 1, "pace_ms": 0}) < 3.0


def test_env_forces_the_socket_mode_only_when_params_say_auto(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_SOCKET_MODE, "dgram")
    assert resolve_mode(SocketMode.AUTO) is SocketMode.DGRAM
    assert resolve_mode(SocketMode.RAW) is SocketMode.RAW
    monkeypatch.delenv(ENV_SOCKET_MODE)
    assert resolve_mode(SocketMode.AUTO) is SocketMode.AUTO


def test_a_bad_env_socket_mode_is_a_setup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SOCKET_MODE, "carrier-pigeon")
    with pytest.raises(ProbeSetupError, match=ENV_SOCKET_MODE):
        resolve_mode(SocketMode.AUTO)
