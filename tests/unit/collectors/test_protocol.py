"""One check result through the collector's spool format and back."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from netgauge.agent.spool import Batch, decode_line, encode_line
from netgauge.collectors.protocol import SyncAnswer, SyncRequest, decode_result, encode_result
from netgauge.config.model import JobConfig
from netgauge.models import ProbeResult, ProbeStatus


@pytest.mark.parametrize(
    "result",
    [
        ProbeResult("r1", "icmp", 10**18, ProbeStatus.OK, {"rtt_avg_ms": 1.5, "loss_pct": 0.0}),
        ProbeResult(
            "r1",
            "traceroute",
            10**18,
            ProbeStatus.FAILED,
            {},
            'bad "hop"\\',
            {"path": ["10.0.0.1", None]},
        ),  # fmt: skip
        ProbeResult(
            "C:\\ disk",
            "snmp",
            10**18,
            ProbeStatus.TIMEOUT,
            {'disk_percent{mount="C:\\\\"}': 71.0},
            prefixed=False,
        ),  # fmt: skip
    ],
)
def test_a_result_survives_the_spool_line_and_comes_back_equal(result: ProbeResult) -> None:
    batch = Batch(7, result.ts_ns, tuple(encode_result("job-1", result)))
    back = decode_line(encode_line(batch))
    assert back is not None
    job, decoded = decode_result(back.ts_ns, list(back.metrics)) or ("", None)
    assert job == "job-1" and decoded == result


def test_adjacent_versions_ignore_what_they_do_not_know() -> None:
    newer = SyncRequest.model_validate({"version": "9", "protocol": 2, "gpu": True})
    assert newer.version == "9"
    assert decode_result(1, []) is None
    assert json.loads(SyncRequest().model_dump_json())["protocol"] == 1


def test_vantage_and_quorum_are_checked_with_messages_naming_them() -> None:
    base = {"name": "j", "kind": "icmp", "targets": ["x"]}
    for extra, text in (
        ({"quorum": 2}, "quorum needs vantage"),
        ({"vantage": []}, "vantage: list at least one site"),
        ({"vantage": ["a", "a"]}, "listed twice: a"),
        ({"vantage": ["a", "b"], "quorum": 3}, "quorum: 3 is more than the 2"),
    ):
        with pytest.raises(ValidationError, match=text):
            JobConfig.model_validate({**base, **extra})
    assert JobConfig.model_validate({**base, "vantage": ["a", "b", "c"]}).vantage_quorum() == 2


def test_calendars_are_optional_both_ways() -> None:
    """A central of the previous version sends no calendars (the collector runs around the
    clock, as before); a collector of the previous version ignores them; a schedule this
    version cannot read is refused by its own model, not by the whole answer."""
    base = {"collector": "c1", "site": "east", "server_ns": 1, "poll_s": 10, "revision": "r",
            "jobs": []}  # fmt: skip
    assert SyncAnswer.model_validate(base).calendars == []
    office = {"site": "east", "timezone": "Europe/Berlin",
              "schedule": {"name": "office", "open": [{"days": "weekdays", "start": "08:00",
                                                        "end": "18:00"}]}}  # fmt: skip
    newer = SyncAnswer.model_validate({**base, "calendars": [office, {**office, "site": "x",
                                       "schedule": {"name": "n", "moon": "full"}}]})  # fmt: skip
    assert newer.calendars[0].config().name == "office"
    with pytest.raises(ValidationError, match="moon"):
        newer.calendars[1].config()
