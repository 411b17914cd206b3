"""``netgauge analytics patterns FILE``: the messages of a file (one per line) clustered into
templates by the code that serves /api/v1/analytics/patterns (``analytics.patterns``).

A line is the text between two ``\\n`` (a ``\\r`` before the ``\\n`` is dropped; the end of
the file after a last ``\\n`` is not a line), so the output has exactly one object per
line of the file, blank lines included (their template is the empty text). Bytes that
are not UTF-8 are read as U+FFFD: the line is still clustered and echoed, not dropped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from netgauge.analytics.patterns import Mined, TemplateMiner, mine
from netgauge.cli.app import OneLineUsageErrors, analytics_app, fail

COMMAND = "netgauge analytics patterns"


@analytics_app.command("patterns", cls=OneLineUsageErrors)
def patterns_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A text file holding one message per line.")
    ],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='One {"line", "template_id", "template", "number"} object per line of FILE, '
            'in order: "line" is the line\'s text, "number" its 1-based line number.',
        ),
    ] = False,
    similarity: Annotated[float, typer.Option(help="Drain's similarity threshold, 0 to 1.")] = 0.4,
    depth: Annotated[int, typer.Option(help="Drain's tree depth, at least 3.")] = 4,
) -> None:
    """Cluster the messages into templates (Drain, variables masked); without --json, the
    templates with their counts, most frequent first."""
    if not 0.0 <= similarity <= 1.0:
        fail(COMMAND, f"--similarity: {similarity:g} is not between 0 and 1")
    if depth < 3:
        fail(COMMAND, f"--depth: {depth} is less than 3 (root, token count, leaf)")
    lines = read_lines(file)
    mined = mine(lines, TemplateMiner(depth=depth, similarity=similarity))
    (_json_lines if as_json else _table)(lines, mined)


def read_lines(path: Path) -> list[str]:
    """The file's lines as the module's text defines them; exit 2 naming the problem."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        fail(COMMAND, f"{path}: is a directory, give a file")
    except OSError as exc:
        fail(COMMAND, f"{path}: cannot read it: {exc.strerror or exc}")
    lines = data.decode("utf-8", errors="replace").split("\n")
    if lines[-1] == "":
        lines.pop()  # the file ends with a line end: no line after it
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _json_lines(lines: list[str], mined: Mined) -> None:
    """One JSON object per line, written in one piece."""
    patterns = mined.patterns
    out = []
    for number, (line, key) in enumerate(zip(lines, mined.ids, strict=True), start=1):
        row = {"line": line, "template_id": key, "template": patterns[key].template}
        out.append(json.dumps({**row, "number": number}))  # ASCII: whatever the locale
    sys.stdout.write("".join(f"{line}\n" for line in out))


def _table(lines: list[str], mined: Mined) -> None:
    """The templates, most messages first: count, id, template; a summary line last."""
    out = [f"{'count':>8}  {'template_id':<12}  template"]
    for p in mined.patterns.values():
        out.append(f"{p.count:>8}  {p.id:<12}  {p.template}")
    out.append(f"{len(lines)} lines, {len(mined.patterns)} templates")
    sys.stdout.write("".join(f"{line}\n" for line in out))
