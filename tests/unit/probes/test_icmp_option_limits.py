"""One table of limits for the ICMP options: the CLI's text parser and the job/API model
(IcmpParams) accept and refuse exactly the same values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from netgauge.probes.icmp import IcmpParams
from netgauge.probes.icmp_options import LIMITS, IcmpOptions, OptionError, options_from_text
from netgauge.probes.icmp_socket import SocketMode


def edges(name: str) -> list[str]:
    """Values on, just inside and just outside each bound of ``name``, as text."""
    limit = LIMITS[name]
    step = 1 if limit.kind is int else 0.0005
    values = [limit.low - step, limit.low, limit.low + step, limit.high, limit.high + step]
    return [str(limit.kind(v)) for v in values]


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_the_text_parser_and_the_model_agree_on_every_bound(name: str) -> None:
    for text in edges(name):
        try:
            parsed = getattr(options_from_text({name: text}), name)
        except OptionError:
            parsed = None
        try:
            modelled = getattr(IcmpParams.model_validate({name: text}), name)
        except ValidationError:
            modelled = None
        assert parsed == modelled, (name, text)


def test_defaults_are_the_same() -> None:
    assert IcmpParams().options() == IcmpOptions() == options_from_text({})


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("count", "many", "must be an integer"),
        ("count", "2.5", "must be an integer"),
        ("interval", "nan", "must be a number"),
        ("timeout", "inf", "must be a number"),
        ("timeout", "0", "must be greater than 0 and at most 60"),
        ("pace_ms", "-1", "must be at least 0 and at most 60000"),
        ("source", "gateway", "'gateway' is not an IP address"),
        ("socket_mode", "magic", "must be one of auto, raw, dgram"),
        ("cuont", "3", "not an ICMP option"),
    ],
)
def test_a_refused_value_names_the_option_and_why(name: str, text: str, reason: str) -> None:
    with pytest.raises(OptionError) as caught:
        options_from_text({name: text})
    assert (caught.value.name, caught.value.value, caught.value.reason) == (name, text, reason)


def test_values_are_typed_and_canonical() -> None:
    options = options_from_text(
        {"count": " 3 ", "pace_ms": "0", "source": "::ffff:127.0.0.1", "socket_mode": "RAW"}
    )
    assert (options.count, options.pace_ms) == (3, 0.0)
    assert options.source == str(IcmpParams(source="::ffff:127.0.0.1").source)
    assert options.socket_mode is SocketMode.RAW
    assert options.schedule().pace_ns == 0
