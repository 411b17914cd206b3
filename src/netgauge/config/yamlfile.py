"""YAML read with every value's line, and validation errors said as ``FILE:LINE: PATH:
message``: for the config file and every other YAML netgauge reads (device profiles).

Kept apart from :mod:`netgauge.config.loader` (which checks jobs' params with the probes)
so the pollers can read their own YAML without importing the loader, and the loader can
import the probes at the top without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from netgauge.config.base import error_message
from netgauge.errors import ConfigError, ConfigProblem

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


def format_path(loc: Iterable[str | int]) -> str:
    """``("jobs", 2, "interval")`` → ``jobs[2].interval``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _walk_lines(node: Any, loc: Loc, lines: dict[Loc, int]) -> None:
    """Record the 1-based line of every mapping key and sequence item under ``node``."""
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            _record(lines, (*loc, str(key)), node.lc.key, key)
            _walk_lines(value, (*loc, str(key)), lines)
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            _record(lines, (*loc, index), node.lc.item, index)
            _walk_lines(value, (*loc, index), lines)


def _record(lines: dict[Loc, int], loc: Loc, position: Callable[[Any], Any], at: Any) -> None:
    # keys pulled in by a merge (<<: *anchor) or under a tag carry no position of their own:
    # such a problem is reported at the nearest ancestor's line instead
    try:
        lines[loc] = int(position(at)[0]) + 1
    except (KeyError, TypeError, IndexError, AttributeError):
        pass


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of ``loc`` or of its nearest ancestor present in the file."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers → plain dicts/lists (pydantic wants plain types)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


class Problems:
    """Collects problems located by YAML path."""

    def __init__(self, source: str, lines: dict[Loc, int]) -> None:
        self.source, self.lines, self.items = source, lines, list[ConfigProblem]()

    def add(self, loc: Loc, message: str) -> None:
        line = _line_of(loc, self.lines)
        self.items.append(ConfigProblem(format_path(loc), message, line, self.source))

    def add_validation(self, exc: ValidationError, prefix: Loc = ()) -> None:
        for err in exc.errors():
            loc = (*prefix, *(p for p in err["loc"] if not _is_union_tag(p)))
            self.add(loc, error_message(err))


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the tried type names ("str", "int", "function-after[...]") into union locs
    return isinstance(part, str) and (part in {"str", "int", "float"} or "[" in part)


def parse_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[Loc, int]]:
    """YAML text → plain data and a line map; syntax errors become a ConfigError with the line."""
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem("<yaml>", str(exc.problem or exc), line, source)]) from exc
    except YAMLError as exc:
        raise ConfigError([ConfigProblem("<yaml>", str(exc), None, source)]) from exc
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError([ConfigProblem("<root>", "the file must be a mapping", 1, source)])
    lines: dict[Loc, int] = {}
    _walk_lines(doc, (), lines)
    return _plain(doc), lines


def load_model_text(model: type[M], text: str, source: str) -> M:
    """Any YAML file validated by ``model`` (device profiles...), with the config's errors:
    a ConfigError listing every problem as ``FILE:LINE: PATH: message``."""
    data, lines = parse_yaml(text, source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = Problems(source, lines)
        problems.add_validation(exc)
        raise ConfigError(problems.items) from None
