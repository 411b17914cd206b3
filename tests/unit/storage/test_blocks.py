"""Blocks decode to exactly the doubles that were written, whichever form they took."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

import pytest

from netgauge.storage.embedded.blocks import decode, encode

S = 1_000_000_000


def bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def walk(rng: random.Random, n: int, places: int) -> list[float]:
    level, out = 50.0, []
    for _ in range(n):
        level += rng.uniform(-2, 2)
        out.append(round(level, places))
    return out


CASES: dict[str, Callable[[random.Random], list[float]]] = {
    "integers": lambda r: [float(r.randint(-5, 5000)) for _ in range(60)],
    "one decimal": lambda r: walk(r, 60, 1),
    "three decimals": lambda r: walk(r, 60, 3),
    "six decimals": lambda r: walk(r, 60, 6),
    "any double": lambda r: [r.lognormvariate(2, 1) for _ in range(60)],
    "infinities": lambda r: [1.5, math.inf, -math.inf, 2.0],
    "negative zero": lambda r: [0.0, -0.0, 1.0],
    "beyond 2**53": lambda r: [2.0**60, 1.0, -(2.0**62)],
    "tiny": lambda r: [1e-300, 5e-324, 0.1],
    "big steps": lambda r: [0.0, 1e9, -1e9, 12.5],
    "one sample": lambda r: [42.125],
}


@pytest.mark.parametrize("case", CASES)
def test_round_trip_is_bit_exact(case: str) -> None:
    rng = random.Random(case)
    values = CASES[case](rng)
    ts = sorted(rng.sample(range(10**12), len(values)))
    got_ts, got_values = decode(encode(ts, values), len(values))
    assert got_ts == ts
    assert bits(got_values) == bits(values)


def test_a_gauge_with_one_decimal_takes_about_a_byte_a_sample() -> None:
    values = walk(random.Random(1), 60, 1)
    ts = [1_700_000_000 * S + i * 60 * S for i in range(60)]
    size = len(encode(ts, values))
    assert size < 2 * 60, size  # doubles would be 8 a sample before zlib, ~7 after
    assert len(encode(ts, [v + 1e-9 for v in values])) > 3 * 60  # not decimal: doubles


def test_the_decimal_form_takes_the_places_of_the_most_precise_value() -> None:
    values = [50.0, 50.5, 50.25, 51.0]  # the first has none, a later one needs two
    ts = [1, 2, 3, 4]
    packed = encode(ts, values)
    assert packed[0] in (1, 2) and packed[1] == 2  # scaled, two places
    assert bits(decode(packed, 4)[1]) == bits(values)


@pytest.mark.parametrize("n", [1, 2, 60])
def test_regular_timestamps_are_two_numbers(n: int) -> None:
    ts = [1_700_000_000 * S + i * 60 * S for i in range(n)]
    values = [float(i % 5) / 4 for i in range(n)]  # steps of 25 and -100 hundredths
    packed = encode(ts, values)
    assert packed[0] == 2 and len(packed) <= 27 + n  # header + one byte a step
    got_ts, got = decode(packed, n)
    assert got_ts == ts and bits(got) == bits(values)
