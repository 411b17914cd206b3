"""TCP probe banner logic without a network: params, printable banners, bounded reads."""

from __future__ import annotations

import asyncio
import re

import pytest
from pydantic import ValidationError

from netgauge.probes.tcp import TcpParams, printable, read_banner


def test_params_defaults_and_refusals() -> None:
    params = TcpParams(port=22)
    assert params.expect is None and params.send is None and params.read_timeout == 3.0
    with pytest.raises(ValidationError, match="invalid regex"):
        TcpParams(port=22, expect="(")
    with pytest.raises(ValidationError, match="greater than 0"):
        TcpParams(port=22, read_timeout=0)
    with pytest.raises(ValidationError, match="Extra inputs"):
        TcpParams.model_validate({"port": 22, "banner": "x"})


def test_printable() -> None:
    assert printable(b"SSH-2.0\r\n\x00\xff\\") == "SSH-2.0\\r\\n\\x00\\xff\\\\"
    assert printable(b"a" * 1000) == "a" * 256
    assert printable(b"abcdef", limit=3) == "abc"


def _reader(*chunks: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


async def test_read_banner_stops_at_the_first_match() -> None:
    reader = _reader(b"220 mail", b" ESMTP\r\n", eof=False)  # no EOF: the match ends the read
    data, matched = await read_banner(reader, re.compile(rb"^220 "), 4096, timeout=5)
    assert matched and data.startswith(b"220 ")


async def test_read_banner_until_eof_without_match() -> None:
    data, matched = await read_banner(_reader(b"hello"), re.compile(b"SSH"), 4096, timeout=5)
    assert (data, matched) == (b"hello", False)


async def test_read_banner_is_bounded() -> None:
    reader = _reader(b"x" * 10_000, eof=False)
    data, matched = await read_banner(reader, re.compile(b"y"), 100, timeout=5)
    assert (len(data), matched) == (100, False)


async def test_read_banner_times_out_with_what_it_has() -> None:
    reader = _reader(b"partial", eof=False)
    data, matched = await read_banner(reader, re.compile(b"complete"), 4096, timeout=0.05)
    assert (data, matched) == (b"partial", False)
