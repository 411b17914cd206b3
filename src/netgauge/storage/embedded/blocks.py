"""One block: the samples of one series within one hour, packed and compressed.

Timestamps are stored as deltas (a regular interval compresses to almost nothing). Values
that are all decimals with at most six places (a CPU of 23.4 %, an RTT of 12.345 ms: what
devices and probes report) are stored as the deltas of the scaled integers, in the narrowest
integer width that holds them: a slowly moving gauge costs about a byte a sample. Any other
block keeps IEEE doubles. Either way a value decodes to exactly the double that was written
(the scaled form is used only when ``int / 10**k`` gives back every value bit for bit).
Everything is little-endian, then zlib level 1; decoding is C but for one division per value.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from array import array
from collections.abc import Sequence
from itertools import accumulate

_SWAP = sys.byteorder == "big"
_DOUBLES, _SCALED = 0, 1
_HEADER = struct.Struct("<BBBq")  # kind, decimal places, integer typecode, first value
_WIDTHS = (("b", 127), ("h", 32_767), ("i", 2_147_483_647), ("q", 2**63 - 1))
_MAX_PLACES = 6


def _le(a: array) -> bytes:  # type: ignore[type-arg]
    if _SWAP:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _from_le(typecode: str, data: bytes) -> array:  # type: ignore[type-arg]
    a = array(typecode)
    a.frombytes(data)
    if _SWAP:
        a.byteswap()
    return a


def _scaled(values: Sequence[float]) -> tuple[int, list[int]] | None:
    """(places, integers) when every value is exactly integer / 10**places, else None."""
    if 0.0 in values and any(v == 0.0 and math.copysign(1.0, v) < 0 for v in values):
        return None  # -0.0 would come back as 0.0
    try:
        for places in range(_MAX_PLACES + 1):
            f = 10.0**places
            ints = [round(v * f) for v in values]
            if all(i / f == v for i, v in zip(ints, values, strict=True)):
                if max(map(abs, ints)) < 2**53:
                    return places, ints
                return None
    except (OverflowError, ValueError):  # infinities
        return None
    return None


def is_compact(data: bytes) -> bool:
    """Whether a block already holds scaled integers (False: doubles, maybe scalable)."""
    return data[0] == _SCALED


def encode(ts: Sequence[int], values: Sequence[float], *, compact: bool = True) -> bytes:
    """Pack sorted, distinct timestamps and their values; ``compact=False`` skips the search
    for a decimal form (the seal's fast path: the hourly rollup compacts its blocks later)."""
    deltas = array("q", [ts[0]])
    deltas.extend(map(int.__sub__, ts[1:], ts[:-1]))
    scaled = _scaled(values) if compact else None
    if scaled is None:
        body = _le(deltas) + _le(array("d", values))
        return bytes([_DOUBLES]) + zlib.compress(body, 1)
    places, ints = scaled
    steps = list(map(int.__sub__, ints[1:], ints[:-1]))
    widest = max(map(abs, steps), default=0)
    typecode = next(code for code, limit in _WIDTHS if widest <= limit)
    header = _HEADER.pack(_SCALED, places, ord(typecode), ints[0])
    return header + zlib.compress(_le(deltas) + _le(array(typecode, steps)), 1)


def decode(data: bytes, n: int) -> tuple[list[int], list[float]]:
    """The timestamps and values of a block of ``n`` samples."""
    if data[0] == _DOUBLES:
        raw = zlib.decompress(data[1:])
        ts = list(accumulate(_from_le("q", raw[: 8 * n])))
        return ts, _from_le("d", raw[8 * n :]).tolist()
    _, places, typecode, first = _HEADER.unpack_from(data)
    raw = zlib.decompress(data[_HEADER.size :])
    ts = list(accumulate(_from_le("q", raw[: 8 * n])))
    ints = accumulate(_from_le(chr(typecode), raw[8 * n :]), initial=first)
    f = 10.0**places
    return ts, [i / f for i in ints]
