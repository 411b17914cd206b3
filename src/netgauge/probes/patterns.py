"""Regular expressions that users write into checks (an HTTP body ``match``, a TCP banner
``expect``, a DNS ``expect_regex``), run by RE2.

Python's ``re`` backtracks: a pattern like ``(a+)+$`` against 30 characters takes seconds,
and it ran on the event loop, so one operator's check could freeze every other check, the
API and the console. RE2 matches in time linear in the input, whatever the pattern (16 MB
against ``(a+)+$``: about 30 ms here), and refuses what it cannot do that way —
backreferences and lookaround — when the job is saved, with a message saying so.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

import re2
from pydantic import AfterValidator

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the saver's 422, not a line on stderr


class Pattern(Protocol):
    """A compiled pattern: ``search`` anywhere in the text."""

    def search(self, text: Any) -> Any: ...


def compile_text(pattern: str) -> Pattern:
    """``pattern`` for ``str`` input (ValueError saying why RE2 refuses it)."""
    return _compile(pattern)


def compile_bytes(pattern: str) -> Pattern:
    """``pattern`` (UTF-8) for ``bytes`` input, such as a raw TCP banner."""
    return _compile(pattern.encode())


def check_pattern(pattern: str) -> str:
    """``pattern`` unchanged when RE2 takes it (a params validator), else ValueError."""
    _compile(pattern)
    return pattern


UserRegex = Annotated[str, AfterValidator(check_pattern)]
"""A params field holding a user's regular expression: refused at validation when RE2
cannot run it."""


def _compile(pattern: str | bytes) -> Pattern:
    try:
        compiled: Pattern = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        why = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"invalid regex: {why} (netgauge uses RE2, which matches in linear time: "
            "no backreferences, no lookahead or lookbehind)"
        ) from None
    return compiled
