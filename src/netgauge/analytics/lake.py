"""The data lake: tables as Parquet files, Hive-partitioned by UTC day.

Layout (one dataset per table, read with ``hive_partitioning``)::

    <out>/<table>/date=YYYY-MM-DD/part-0.parquet
    <out>/_netgauge_lake.json        the manifest: per table, its watermark and every file

Rules that make it incremental and idempotent:

* A file is a pure function of the rows of its table and day: rows sorted by a fixed key,
  an explicit schema, fixed writer options, no write time inside. Exporting the same rows
  again gives the same bytes; an export into an empty directory gives what a lake kept up
  run after run holds.
* A source says which days changed since its watermark (``Source.plan``); only those are
  read and written. A day whose new file hashes like the one it has is left alone
  ("unchanged"), so readers see a file's modification time move only when its rows did.
* A file is written beside its place under a dot-name (readers skip those), flushed to
  disk, then renamed over the old one: a crash or a full disk leaves the old file or the
  new one, never half of one. The manifest is renamed into place the same way, after the
  files; a run that dies between them is redone by the next (same bytes again).
* Days the source no longer has (expired by retention) keep their files: the lake is the
  long-term copy.

This module writes files only where it is told (``out``); the sources read the stores.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from netgauge.errors import AnalyticsInputError

MANIFEST = "_netgauge_lake.json"
LOCK = ".netgauge-lake.lock"
FORMAT = 1
PART = "part-0.parquet"
_TEMP = re.compile(r"^\.part-0\.parquet\.\d+\.tmp$")
# fixed writer options: the bytes depend on the rows only (and on the pyarrow version)
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "row_group_size": 1 << 20,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}
UTC_US = pa.timestamp("us", tz="UTC")  # what DuckDB, Polars and Spark all read as instants


@dataclass(frozen=True, slots=True)
class Plan:
    """The days (``YYYY-MM-DD``) a source wants written, and its watermark once they are."""

    days: list[str]
    state: dict[str, Any]


class Source(Protocol):
    """One lake table: its schema, what changed since a watermark, the rows of one day."""

    name: str
    schema: pa.Schema

    def plan(self, state: dict[str, Any]) -> Plan:
        """The days changed since ``state`` (empty: never exported) and the new state."""
        ...

    def rows(self, day: str) -> pa.Table:
        """Every row of ``day`` (UTC), in ``schema``, sorted by the table's key."""
        ...


@dataclass
class TableReport:
    """What one run did to one table."""

    name: str
    days_planned: int = 0
    files_written: int = 0
    files_unchanged: int = 0
    rows_written: int = 0  # rows in the files written (a rewritten day counts all its rows)
    rows_total: int = 0  # rows in the table's files after the run
    files_total: int = 0
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The report as plain values."""
        return {
            "table": self.name,
            "days_planned": self.days_planned,
            "files_written": self.files_written,
            "files_unchanged": self.files_unchanged,
            "rows_written": self.rows_written,
            "rows_total": self.rows_total,
            "files_total": self.files_total,
            "error": self.error,
        }


@dataclass
class LakeReport:
    """What one export run did."""

    out: str
    since: str | None
    tables: list[TableReport] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """The first table's error (None when every table was exported)."""
        return next((t.error for t in self.tables if t.error), None)

    def as_json(self) -> dict[str, Any]:
        """The report as plain values (the CLI's ``--json``)."""
        return {
            "out": self.out,
            "since": self.since,
            "files_written": sum(t.files_written for t in self.tables),
            "files_unchanged": sum(t.files_unchanged for t in self.tables),
            "rows_written": sum(t.rows_written for t in self.tables),
            "error": self.error,
            "tables": [t.as_json() for t in self.tables],
        }


class LakeBusy(AnalyticsInputError):
    """Another export holds the output directory."""


def day_of(ns: int) -> str:
    """The UTC day of an epoch-nanosecond time, as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).date().isoformat()


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day as aware datetimes."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    return start, datetime.fromtimestamp(start.timestamp() + 86_400, UTC)


def partition_path(out: Path, table: str, day: str) -> Path:
    """Where one day's file of one table lives."""
    return out / table / f"date={day}" / PART


def export(out: Path, sources: Sequence[Source], since: str | None = None) -> LakeReport:
    """Export every source's changed days under ``out`` (see the module doc); one run at a
    time per directory (LakeBusy otherwise). A table whose export fails (a full disk) keeps
    its files and watermark, records the error, and the other tables go on."""
    _make_dir(out)
    with _locked(out):
        manifest = _load_manifest(out)
        since = _check_since(manifest, since, out)
        _remove_temps(out)
        report = LakeReport(str(out), since)
        for source in sources:
            entry = manifest["tables"].setdefault(source.name, {"state": {}, "days": {}})
            table = _export_table(out, source, entry, since)
            report.tables.append(table)
            try:
                _save_manifest(out, manifest)
            except OSError as exc:  # the old manifest stays: the next run redoes this one
                table.error = table.error or f"manifest: {exc.strerror or exc}"
                break
        return report


def _export_table(
    out: Path, source: Source, entry: dict[str, Any], since: str | None
) -> TableReport:
    report = TableReport(source.name)
    try:
        plan = source.plan(entry["state"])
        days = [d for d in plan.days if since is None or d >= since]
        report.days_planned = len(days)
        for day in sorted(days):
            _export_day(out, source, day, entry["days"], report)
        entry["state"] = plan.state  # only once every changed day is on disk
    except OSError as exc:
        report.error = f"{source.name}: {exc.strerror or exc}"
    report.files_total = len(entry["days"])
    report.rows_total = sum(int(d["rows"]) for d in entry["days"].values())
    return report


def _export_day(
    out: Path, source: Source, day: str, days: dict[str, Any], report: TableReport
) -> None:
    rows = source.rows(day)
    if rows.num_rows == 0:
        return  # nothing there (any more): an existing file stays
    if rows.schema != source.schema:
        raise TypeError(f"lake table {source.name}: rows not in the table's schema")
    path = partition_path(out, source.name, day)
    digest, size = _write_atomically(path, rows, days.get(day))
    if digest is None:
        report.files_unchanged += 1
        return
    days[day] = {
        "file": path.relative_to(out).as_posix(),
        "rows": rows.num_rows,
        "bytes": size,
        "sha256": digest,
    }
    report.files_written += 1
    report.rows_written += rows.num_rows


def _write_atomically(
    path: Path, rows: pa.Table, known: dict[str, Any] | None
) -> tuple[str | None, int]:
    """Write ``rows`` to ``path`` through a temporary file; (None, size) when the file
    already there has the same bytes (the temporary one is dropped)."""
    _make_dir(path.parent)
    temp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with _private(temp, "wb") as f:
            pq.write_table(rows, f, **WRITE_OPTIONS)
            f.flush()
            os.fsync(f.fileno())
        digest, size = _sha256(temp), temp.stat().st_size
        if known is not None and known["sha256"] == digest and _intact(path, known):
            temp.unlink()
            return None, size
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _sync_dir(path.parent)
    return digest, size


def _private(path: Path, mode: str) -> IO[Any]:
    """``path`` opened for writing, created 0600 (the lake holds user names and logs)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), mode)


def _intact(path: Path, known: dict[str, Any]) -> bool:
    try:
        return path.stat().st_size == int(known["bytes"])
    except FileNotFoundError:
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _make_dir(path: Path) -> None:
    """Directories of the lake: 0700 when made here (it holds user names, request logs),
    each level (``mkdir(parents=True)`` would give the parents the umask's mode)."""
    if path.is_dir():
        return
    _make_dir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """An exclusive lock on ``out`` (a lock file; the kernel drops it if we die)."""
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LakeBusy(f"{out}: another export is writing there") from None
            raise
        yield
    finally:
        os.close(fd)


def _remove_temps(out: Path) -> None:
    """Temporary files a crashed run left (only ours, by their exact name pattern)."""
    for temp in [*out.glob("*/date=*/.part-0.parquet.*.tmp"), *out.glob(f".{MANIFEST}.*.tmp")]:
        if _TEMP.match(temp.name) or temp.name.startswith(f".{MANIFEST}."):
            temp.unlink(missing_ok=True)


def _load_manifest(out: Path) -> dict[str, Any]:
    path = out / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "since": None, "tables": {}}
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise AnalyticsInputError(f"{path}: not a netgauge lake manifest ({exc})") from None
    if found.get("format") != FORMAT or not isinstance(found.get("tables"), dict):
        raise AnalyticsInputError(f"{path}: not a netgauge lake manifest of format {FORMAT}")
    return found


def _check_since(manifest: dict[str, Any], since: str | None, out: Path) -> str | None:
    """The lake's first day: set by the first run, kept by the next ones."""
    if since is not None:
        try:
            date.fromisoformat(since)
        except ValueError:
            raise AnalyticsInputError(f"since: {since!r} is not a date (YYYY-MM-DD)") from None
    kept: str | None = manifest.get("since")
    if not manifest["tables"]:
        manifest["since"] = since
        return since
    if since is not None and since != kept:
        raise AnalyticsInputError(
            f"since: the lake in {out} starts at {kept or 'the first stored day'}; "
            "to start it elsewhere, export into an empty directory"
        )
    return kept


def _save_manifest(out: Path, manifest: dict[str, Any]) -> None:
    path = out / MANIFEST
    temp = out / f".{MANIFEST}.{os.getpid()}.tmp"
    text = json.dumps(manifest, sort_keys=True, indent=1) + "\n"
    try:
        with _private(temp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _sync_dir(out)


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of the lake at ``out`` (None when there is none yet)."""
    if not (out / MANIFEST).exists():
        return None
    return _load_manifest(out)
