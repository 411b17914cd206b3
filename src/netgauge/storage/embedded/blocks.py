"""One block: the samples of one series within one hour, packed and compressed.

Timestamps are stored as deltas (a regular interval compresses to almost nothing) and values
as IEEE doubles, both little-endian, then zlib level 1. Decoding is C all the way (``array``
and ``itertools.accumulate``): reading a month of one series costs milliseconds.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from collections.abc import Sequence
from itertools import accumulate

_SWAP = sys.byteorder == "big"


def encode(ts: Sequence[int], values: Sequence[float]) -> bytes:
    """Pack sorted, distinct timestamps and their values."""
    deltas = array("q", [ts[0]])
    deltas.extend(map(int.__sub__, ts[1:], ts[:-1]))
    vals = array("d", values)
    if _SWAP:
        deltas.byteswap()
        vals.byteswap()
    return zlib.compress(deltas.tobytes() + vals.tobytes(), 1)


def decode(data: bytes, n: int) -> tuple[list[int], list[float]]:
    """The timestamps and values of a block of ``n`` samples."""
    raw = zlib.decompress(data)
    deltas, vals = array("q"), array("d")
    deltas.frombytes(raw[: 8 * n])
    vals.frombytes(raw[8 * n :])
    if _SWAP:
        deltas.byteswap()
        vals.byteswap()
    return list(accumulate(deltas)), vals.tolist()
