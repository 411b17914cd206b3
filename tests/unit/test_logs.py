"""What netgauge's log configuration lets through: its own lines, not a library's chatter."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from netgauge.logs import configure_logging


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_httpx_request_lines_are_not_printed_but_its_warnings_are(
    restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", "console")
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with httpx.Client(transport=transport) as client:
        client.post("http://store.invalid/write")  # httpx logs "HTTP Request: ..." at INFO
    logging.getLogger("httpx").warning("a real problem")
    logging.getLogger("netgauge.test").info("ours")
    err = capsys.readouterr().err
    assert "HTTP Request" not in err
    assert "a real problem" in err and "ours" in err


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_an_exception_is_logged_without_its_frames_locals(
    restored: None, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """A traceback names the error and the lines, not each frame's variables: those may hold
    a password (structlog's default rich tracebacks print them, and took 10 s to render
    one in a test server that had not configured logging)."""
    import structlog

    configure_logging("info", fmt)
    log = structlog.get_logger("tests")
    password = "hunter2-in-a-local"  # noqa: S105 - the value that must not be printed
    try:
        raise OverflowError("int too large: " + str(len(password)))
    except OverflowError:
        log.exception("request.failed")
    err = capsys.readouterr().err
    assert "OverflowError: int too large: 18" in err
    assert "hunter2" not in err
