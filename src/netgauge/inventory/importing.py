"""Importing targets from CSV: what a user brings from the tool they leave.

One header line, then a target per line::

    name,address,type,site,tags,checks
    core-sw1,10.0.0.2,device,berlin,core;switch,icmp snmp
    www,www.example.org,destination,,web,icmp http:https://www.example.org/health tcp:443

Columns: ``name`` and ``address`` (required), ``type`` (destination, the default, or
device), ``site``, ``tags`` (separated by ``;`` or spaces), ``checks`` (separated by spaces
or ``;``: a kind, or ``kind:argument``: ``tcp:22``, ``http:URL`` or ``http:8080``,
``dns:NAME``, ``snmp:PORT``, ``ssh:PORT``, ``winrm:PORT``), and optionally
``description``, ``credentials``, ``parent``. Each check is a job of its own
(``inventory.checks``).

Every line is checked before anything is written, and each problem is reported with its
line and column; the import is all or nothing. A dry run says what would be made.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from netgauge.config.base import error_message
from netgauge.config.files import FilePolicy
from netgauge.config.model import JobConfig, TargetConfig
from netgauge.errors import ForbiddenError, InventoryError
from netgauge.inventory.checks import CheckIn, check_job
from netgauge.inventory.repository import Inventory
from netgauge.inventory.repository import check_job as check_job_params

COLUMNS = (
    "name",
    "address",
    "type",
    "site",
    "tags",
    "checks",
    "description",
    "credentials",
    "parent",
)
REQUIRED = ("name", "address")
MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
# kind → the parameter an argument sets (``tcp:22`` → port 22)
_ARGUMENT: dict[str, str] = {"tcp": "port", "snmp": "port", "ssh": "port", "winrm": "port"}


@dataclass
class ImportLine:
    """One line of the file: what it makes, or what is wrong with it."""

    line: int
    name: str
    checks: list[str] = field(default_factory=list)  # the kinds
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool
    lines: list[ImportLine]
    targets: int = 0  # made (or, in a dry run, that would be)
    jobs: int = 0

    @property
    def errors(self) -> int:
        return sum(len(line.errors) for line in self.lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "imported": not self.dry_run and not self.errors,
            "targets": self.targets,
            "jobs": self.jobs,
            "errors": self.errors,
            "lines": [
                {"line": x.line, "name": x.name, "checks": x.checks, "errors": x.errors}
                for x in self.lines
            ],
        }


def parse_checks(cell: str) -> list[CheckIn]:
    """``icmp http:https://x/ tcp:22`` → checks (ValueError in words)."""
    found = []
    for item in cell.replace(";", " ").split():
        kind, _, arg = item.partition(":")
        kind = kind.strip().lower()
        params: dict[str, Any] = {}
        if arg:
            if kind == "http":
                params = {"url": arg} if "://" in arg else {"port": _port(item, arg)}
            elif kind == "dns":
                params = {"name": arg}
            elif kind in _ARGUMENT:
                params = {_ARGUMENT[kind]: _port(item, arg)}
            else:
                raise ValueError(f"{item!r}: {kind} takes no argument")
        found.append(CheckIn(kind=kind, params=params))
    return found


def _port(item: str, arg: str) -> int:
    if not arg.isdigit() or not 0 < int(arg) < 65536:
        raise ValueError(f"{item!r}: {arg!r} is not a port (1-65535)")
    return int(arg)


def read_rows(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """The lines (number, cells by column) and the header's problems."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    problems = [
        f"line 1: unknown column {h!r} (known: {', '.join(COLUMNS)})"
        for h in header
        if h not in COLUMNS
    ]
    problems += [f"line 1: the column {r!r} is missing" for r in REQUIRED if r not in header]
    if problems:
        return [], problems
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if len(rows) >= MAX_ROWS:
            return rows, [f"more than {MAX_ROWS} lines: split the file"]
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if any(cells.values()):
            rows.append((reader.line_num, cells))
    return rows, []


def _entry(
    cells: dict[str, str], line: ImportLine, files: FilePolicy
) -> tuple[TargetConfig, list[JobConfig]] | None:
    """The target and its jobs of one line, each problem noted on ``line``."""
    raw: dict[str, Any] = {k: v for k, v in cells.items() if v and k != "checks"}
    raw["tags"] = cells.get("tags", "").replace(";", " ").split()
    try:
        cfg = TargetConfig.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            line.errors.append(f"{'.'.join(str(p) for p in err['loc'])}: {error_message(err)}")
        return None
    try:
        checks = parse_checks(cells.get("checks", ""))
    except (ValueError, ValidationError) as exc:
        line.errors.append(f"checks: {exc}")
        return None
    line.checks = [c.kind for c in checks]
    jobs = []
    for i, check in enumerate(checks):
        try:
            job = check_job(cfg.name, i, check)
            check_job_params(job, files)  # the kind exists and its params fit
        except InventoryError as exc:
            why = re.sub(r"^checks\.\d+\.", "", str(exc))  # the line's own numbering
            line.errors.append(f"checks: {check.kind}: {why}")
            continue
        jobs.append(job)
    return cfg, jobs


def import_targets(
    inv: Inventory, text: str, actor: str, *, admin: bool, dry_run: bool
) -> ImportReport:
    """Check every line, then (unless ``dry_run`` or anything is wrong) make them all."""
    rows, problems = read_rows(text)
    report = ImportReport(dry_run, [])
    if problems:
        report.lines.append(ImportLine(1, "", errors=problems))
        return report
    existing = inv.target_names()
    seen: dict[str, int] = {}
    entries: list[tuple[TargetConfig, list[JobConfig]]] = []
    numbers: list[ImportLine] = []
    for number, cells in rows:
        line = ImportLine(number, cells.get("name", ""))
        report.lines.append(line)
        entry = _entry(cells, line, inv.files)
        name = cells.get("name", "")
        if name in existing:
            line.errors.append(f"name: a target named {name!r} exists already")
        elif name in seen:
            line.errors.append(f"name: {name!r} is on line {seen[name]} already")
        seen.setdefault(name, number)
        if entry is not None and not line.errors:
            entries.append(entry)
            numbers.append(line)
    if report.errors:
        return report
    try:
        report.jobs = inv.add_targets_with_checks(entries, actor, admin=admin, dry_run=dry_run)
    except (InventoryError, ForbiddenError) as exc:
        # the inventory's own rules (a site, credentials or parent unknown, a scope): the
        # entry's index says which line
        index, _, why = str(exc).partition("] ")
        at = int(index.lstrip("[")) if index.lstrip("[").isdigit() else 0
        numbers[at].errors.append(why or str(exc))
        return report
    report.targets = len(entries)
    return report


__all__ = ["COLUMNS", "MAX_BYTES", "ImportReport", "import_targets", "parse_checks"]
