"""The agent's on-disk spool: every batch is on disk before it is sent, and stays there until
the server has acknowledged it, across outages, restarts and crashes.

The spool directory::

    00000000000000000001.seg   a segment: one batch per line (JSON, ending in a newline)
    00000000000000000731.seg   named by a lower bound of its seqs, zero-padded: name order
                               is seq order, and every seq in a segment is below the next
                               segment's name
    state.json                 acked_through, dropped_through and the drop counts
    lock                       held (flock) by the one agent using the directory

A line is a batch of the ingest protocol, as sent:
``{"seq":12,"ts_ns":1718000000000000000,"metrics":[{"name":"cpu_percent","value":3.5,"labels":{}}]}``.

**Durability.** :meth:`Spool.append` writes the line with one ``write`` and fsyncs the file
before it returns (and the directory when it created the segment): a batch ``append``
returned survives a crash. A kill -9 (or power loss) *during* an append can leave a torn last
line (no final newline): on open, the bytes after the newest segment's last newline are cut
off. That batch was never handed back to the caller, so nothing promised is lost. A complete
line that does not parse (a damaged disk) is skipped with a warning, never a crash.

**Sequence numbers** rise by one per batch and never go back, across restarts too: going back
would lose data silently, as the server ignores a seq it has already accepted. On open the
last seq is recovered from the newest segment (its last valid line, else its name), with
state.json's acked_through and dropped_through as floors (they outlive deleted segments). No
counter file is written per batch: one fsync per batch, not two.

**Acknowledgement.** :meth:`Spool.acknowledge` records ``through`` in state.json (temp file,
fsync, rename, fsync of the directory), then deletes every segment whose seqs are all <=
``through``. :meth:`Spool.pending` skips the acknowledged lines of a partly acknowledged
segment, so after a restart nothing acknowledged is sent again (the server would ignore it,
but a segment can be megabytes). A crash between the two steps leaves a segment that the
next open deletes.

**At the size limit** (``max_bytes`` of segments, default 100 MiB; state.json adds a few
hundred bytes) the *oldest* segment is dropped to make room for the new batch: for
monitoring, recent data is worth more than data older than the outage's first days. Its
batches not yet acknowledged, and their samples, are counted in state.json (kept across
restarts), logged as a warning, and available from :meth:`Spool.stats`. A segment holds at
most ``segment_bytes`` (default ``max_bytes / 16``, at most 4 MiB): that is what one drop loses.

Every read is bounded: ``pending`` stops at ``limit`` batches, and opening reads one segment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeGuard

from netgauge.errors import NetgaugeError
from netgauge.pollers.readings import Metric

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MAX_SEGMENT_BYTES = 4 * 1024 * 1024
MIN_SEGMENT_BYTES = 512
SEGMENT_SUFFIX = ".seg"
STATE_FILE = "state.json"
LOCK_FILE = "lock"

_log = logging.getLogger(__name__)


class AgentError(NetgaugeError):
    """Root of the push agent's errors."""


class SpoolError(AgentError):
    """The spool cannot be used: the directory is unusable or used by another agent, a disk
    error, or a batch too large for it."""


@dataclass(frozen=True, slots=True)
class Batch:
    """One collection: its seq (from 1, rising), when it was taken (UTC ns) and its metrics."""

    seq: int
    ts_ns: int
    metrics: tuple[Metric, ...]

    def to_json(self) -> dict[str, object]:
        """The batch as the ingest protocol (and a spool line) has it."""
        return {
            "seq": self.seq,
            "ts_ns": self.ts_ns,
            "metrics": [
                {"name": m.name, "value": m.value, "labels": dict(m.labels)} for m in self.metrics
            ],
        }

    @classmethod
    def from_json(cls, obj: object) -> Batch | None:
        """The batch ``obj`` describes, or None when it is not one."""
        if not isinstance(obj, dict):
            return None
        seq, ts_ns, items = obj.get("seq"), obj.get("ts_ns"), obj.get("metrics")
        if not _is_int(seq) or seq < 1 or not _is_int(ts_ns) or not isinstance(items, list):
            return None
        metrics = [_metric(item) for item in items]
        if any(metric is None for metric in metrics):
            return None
        return cls(seq, ts_ns, tuple(m for m in metrics if m is not None))


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _metric(obj: object) -> Metric | None:
    if not isinstance(obj, dict):
        return None
    name, value, labels = obj.get("name"), obj.get("value"), obj.get("labels", {})
    if not isinstance(name, str) or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if not math.isfinite(value) or not isinstance(labels, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        return None
    return Metric(name, float(value), dict(labels))


def encode_line(batch: Batch) -> bytes:
    """One spool line: compact JSON and a newline (ValueError for a value that is not finite)."""
    text = json.dumps(batch.to_json(), separators=(",", ":"), allow_nan=False)
    return text.encode() + b"\n"


def decode_line(raw: bytes) -> Batch | None:
    """The batch of one complete spool line, or None when it is damaged."""
    try:
        return Batch.from_json(json.loads(raw))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        return None


@dataclass(slots=True)
class SpoolStats:
    """What the spool holds and what it had to drop (drops are counted across restarts)."""

    bytes: int
    segments: int
    last_seq: int
    acked_through: int
    dropped_batches: int
    dropped_samples: int


@dataclass(slots=True)
class _State:
    """state.json: written atomically, read on open."""

    acked_through: int = 0
    dropped_through: int = 0
    dropped_batches: int = 0
    dropped_samples: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "acked_through": self.acked_through,
            "dropped_through": self.dropped_through,
            "dropped_batches": self.dropped_batches,
            "dropped_samples": self.dropped_samples,
        }


@dataclass(slots=True)
class _Segment:
    first: int  # lower bound of its seqs (its name)
    path: Path
    size: int


class Spool:
    """The batches not yet acknowledged, in a directory (see the module's docstring).

    One process at a time: the directory is locked while the spool is open (POSIX), and
    :meth:`close` releases it. Not thread-safe; every call is short and synchronous.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        segment_bytes: int | None = None,
    ) -> None:
        segment = (
            min(MAX_SEGMENT_BYTES, max_bytes // 16) if segment_bytes is None else segment_bytes
        )
        if segment < MIN_SEGMENT_BYTES or max_bytes < 2 * segment:
            raise SpoolError(
                f"spool too small: {max_bytes} bytes with segments of {segment} "
                f"(need segments >= {MIN_SEGMENT_BYTES} bytes and at least two of them)"
            )
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment
        self._resume: tuple[int, int] | None = None  # (segment, offset) of the first unacked
        self._ends: dict[int, tuple[int, int]] = {}  # seq -> (segment, offset after its line)
        self._damaged_reported: set[int] = set()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create spool directory {directory}: {exc.strerror}") from exc
        self._lock_fd: int | None = _lock(directory / LOCK_FILE)
        try:
            self._state = _load_state(directory / STATE_FILE)
            self._segments = _scan(directory)
            self._last_seq = self._recover_last_seq()
            self._delete_acknowledged(max(self._state.acked_through, self._state.dropped_through))
        except OSError as exc:
            self.close()
            raise SpoolError(f"cannot open spool {directory}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # -- public ------------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def next_seq(self) -> int:
        """The seq the next appended batch gets."""
        return max(self._last_seq, self._state.acked_through) + 1

    def append(self, ts_ns: int, metrics: Iterable[Metric]) -> Batch:
        """Write one batch durably (fsync'd when this returns) and give it back with its seq.

        At the size limit the oldest segment is dropped first (counted, logged).
        """
        return self._put(ts_ns, metrics, sync=True)

    def append_many(self, items: Iterable[tuple[int, Iterable[Metric]]]) -> list[Batch]:
        """Write several batches (``(ts_ns, metrics)`` each) durably, in order, with one
        fsync per segment written instead of one per batch: a collector's run of 1,000
        checks. All are durable when this returns; a crash before that may keep some of
        them, in order, never a torn line that a later open does not cut (the batches were
        never handed back, so nothing promised is lost). A SpoolError leaves the batches
        before the failing one written (and fsync'd)."""
        written: list[Batch] = []
        open_fds: dict[Path, int] = {}  # each segment opened once for the whole run
        try:
            for ts_ns, metrics in items:
                written.append(self._put(ts_ns, metrics, sync=False, fds=open_fds))
        finally:
            problem = None
            for path, fd in open_fds.items():
                try:  # (a segment dropped meanwhile at the size limit syncs harmlessly)
                    os.fsync(fd)
                except OSError as exc:
                    problem = SpoolError(f"cannot sync spool {path}: {exc.strerror}")
                finally:
                    os.close(fd)
            if problem is not None:
                raise problem
        return written

    def _put(
        self,
        ts_ns: int,
        metrics: Iterable[Metric],
        *,
        sync: bool,
        fds: dict[Path, int] | None = None,
    ) -> Batch:
        batch = Batch(self.next_seq, ts_ns, tuple(metrics))
        try:
            line = encode_line(batch)
        except ValueError as exc:
            raise SpoolError(f"batch {batch.seq} cannot be spooled: {exc}") from exc
        if len(line) > self._segment_bytes:
            raise SpoolError(
                f"batch {batch.seq} is {len(line)} bytes, more than a spool segment "
                f"({self._segment_bytes} bytes)"
            )
        segment = self._segment_for(len(line), batch.seq)
        while self._total() + len(line) > self._max_bytes and len(self._segments) > 1:
            self._drop_oldest()
        self._write(segment, line, sync=sync, fds=fds)
        self._last_seq = batch.seq
        return batch

    def pending(self, limit: int) -> list[Batch]:
        """Up to ``limit`` batches not yet acknowledged, oldest first (ascending seq)."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        found: list[Batch] = []
        self._ends = {}
        floor = self._state.acked_through
        for index, segment in enumerate(list(self._segments)):
            if len(found) >= limit:
                break
            if self._last_of(index) <= floor:
                continue
            start = self._resume[1] if self._resume and self._resume[0] == segment.first else 0
            for batch, end in self._read(segment, start):
                if batch.seq <= floor or (found and batch.seq <= found[-1].seq):
                    continue
                found.append(batch)
                self._ends[batch.seq] = (segment.first, end)
                if len(found) >= limit:
                    break
        return found

    def acknowledge(self, through: int) -> None:
        """The server has every batch up to ``through``: record it, delete what it covers.

        Idempotent, and never backwards (an older acknowledgement changes nothing). A
        ``through`` beyond the last seq moves the next seq past it.
        """
        if through <= self._state.acked_through:
            return
        self._state.acked_through = through
        self._save_state()
        self._resume = self._ends.get(through)
        self._delete_acknowledged(max(through, self._state.dropped_through))

    def stats(self) -> SpoolStats:
        """Bytes and segments held, the seqs, and the drops so far (across restarts)."""
        return SpoolStats(
            bytes=self._total(),
            segments=len(self._segments),
            last_seq=self.next_seq - 1,
            acked_through=self._state.acked_through,
            dropped_batches=self._state.dropped_batches,
            dropped_samples=self._state.dropped_samples,
        )

    def close(self) -> None:
        """Release the directory's lock (the data is on disk already)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- opening ---------------------------------------------------------------------------

    def _recover_last_seq(self) -> int:
        """The highest seq ever given out, as far as the disk can tell (see the docstring)."""
        floor = max(self._state.acked_through, self._state.dropped_through)
        if not self._segments:
            return floor
        newest = self._segments[-1]
        data = self._cut_torn_tail(newest)
        for raw in reversed(data.splitlines()):
            batch = decode_line(raw)
            if batch is not None:
                return max(batch.seq, floor)
        return max(newest.first - 1, floor)

    def _cut_torn_tail(self, segment: _Segment) -> bytes:
        """The segment's complete lines; bytes after its last newline (a write that a crash
        interrupted) are cut off the file, so that the next line starts on a line of its own."""
        data = segment.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            _log.warning(
                "spool: cut a torn last line (%d bytes) off %s, left by an interrupted write",
                len(data) - keep,
                segment.path.name,
            )
            with segment.path.open("r+b") as file:
                file.truncate(keep)
                file.flush()
                os.fsync(file.fileno())
            segment.size = keep
        return data[:keep]

    # -- writing ---------------------------------------------------------------------------

    def _segment_for(self, size: int, seq: int) -> _Segment:
        """The newest segment if the line fits in it, else a new one named ``seq``."""
        if self._segments:
            newest = self._segments[-1]
            if newest.size == 0 or newest.size + size <= self._segment_bytes:
                return newest
        segment = _Segment(seq, self._dir / f"{seq:020d}{SEGMENT_SUFFIX}", 0)
        self._segments.append(segment)
        return segment

    def _write(
        self,
        segment: _Segment,
        line: bytes,
        *,
        sync: bool = True,
        fds: dict[Path, int] | None = None,
    ) -> None:
        """Append ``line`` and fsync; on failure nothing of it is left in the file. Without
        ``sync`` the caller fsyncs later, through ``fds``: the descriptors it keeps open
        (by segment path) and closes."""
        fd = fds.get(segment.path) if fds is not None else None
        created = fd is None and not segment.path.exists()
        if fd is None:
            try:
                fd = os.open(segment.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise SpoolError(f"cannot write to spool {segment.path}: {exc.strerror}") from exc
            if fds is not None:
                fds[segment.path] = fd
        try:
            _write_all(fd, line)
            if sync:
                os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, segment.size)  # no partial line before the next one
            raise SpoolError(f"cannot write to spool {segment.path}: {exc.strerror}") from exc
        finally:
            if fds is None:
                os.close(fd)
        segment.size += len(line)
        if created:
            _fsync_dir(self._dir)

    def _drop_oldest(self) -> None:
        """Make room: count the oldest segment's unacknowledged batches, then delete it."""
        oldest = self._segments.pop(0)
        last = self._segments[0].first - 1
        batches = samples = 0
        for batch, _ in self._read(oldest, 0):
            if batch.seq > self._state.acked_through:
                batches += 1
                samples += len(batch.metrics)
        state = self._state
        state.dropped_through = max(state.dropped_through, last)
        state.dropped_batches += batches
        state.dropped_samples += samples
        self._save_state()  # before the delete: a crash in between cannot lose the count
        _unlink(oldest.path)
        _log.warning(
            "spool full (%d bytes): dropped the oldest segment %s (seq up to %d): %d batches, "
            "%d samples never sent; %d batches, %d samples dropped so far",
            self._max_bytes,
            oldest.path.name,
            last,
            batches,
            samples,
            state.dropped_batches,
            state.dropped_samples,
        )

    def _delete_acknowledged(self, floor: int) -> None:
        """Delete the oldest segments while all their seqs are <= ``floor``."""
        deleted = False
        while self._segments and self._last_of(0) <= floor:
            segment = self._segments.pop(0)
            _unlink(segment.path)
            deleted = True
        if deleted:
            _fsync_dir(self._dir)

    def _save_state(self) -> None:
        path = self._dir / STATE_FILE
        try:
            _write_atomically(path, json.dumps(self._state.to_json()).encode() + b"\n")
        except OSError as exc:
            raise SpoolError(f"cannot write spool state {path}: {exc.strerror}") from exc

    # -- reading ---------------------------------------------------------------------------

    def _read(self, segment: _Segment, start: int) -> Iterator[tuple[Batch, int]]:
        """The segment's valid batches from byte ``start``, each with the offset after it."""
        try:
            file = segment.path.open("rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise SpoolError(f"cannot read spool {segment.path}: {exc.strerror}") from exc
        with file:
            file.seek(start)
            offset = start
            for raw in file:
                offset += len(raw)
                if not raw.endswith(b"\n"):
                    return  # never left by a finished append (cut on open)
                batch = decode_line(raw)
                if batch is None:
                    self._report_damaged(segment, offset)
                    continue
                yield batch, offset

    def _report_damaged(self, segment: _Segment, offset: int) -> None:
        if segment.first in self._damaged_reported:
            return
        self._damaged_reported.add(segment.first)
        _log.warning(
            "spool: skipped a damaged line of %s (ending at byte %d; others may follow)",
            segment.path.name,
            offset,
        )

    def _last_of(self, index: int) -> int:
        """An upper bound of the seqs in segment ``index``."""
        if index + 1 < len(self._segments):
            return self._segments[index + 1].first - 1
        return self._last_seq

    def _total(self) -> int:
        return sum(segment.size for segment in self._segments)


def _scan(directory: Path) -> list[_Segment]:
    """The segment files, in seq order (other files are left alone)."""
    segments = []
    for path in directory.iterdir():
        stem = path.name.removesuffix(SEGMENT_SUFFIX)
        if path.name.endswith(SEGMENT_SUFFIX) and stem.isdigit() and int(stem) >= 1:
            segments.append(_Segment(int(stem), path, path.stat().st_size))
    return sorted(segments, key=lambda segment: segment.first)


def _load_state(path: Path) -> _State:
    """state.json, or a fresh state (a damaged one is reported: the seqs still come from the
    segments, and at worst acknowledged batches are sent again, which the server ignores)."""
    try:
        loaded = json.loads(path.read_bytes())
    except FileNotFoundError:
        return _State()
    except ValueError:
        loaded = None
    fields = _State().to_json()
    if not isinstance(loaded, dict) or not all(
        _is_int(loaded.get(key)) and loaded[key] >= 0 for key in fields
    ):
        _log.warning("spool: ignored the damaged state file %s", path)
        return _State()
    return _State(**{key: int(loaded[key]) for key in fields})


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: the old or the new content survives a crash, never a mix."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unlink(path: Path) -> None:
    """Delete a segment; a failure is logged (the next open deletes it: its seqs are covered)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        _log.warning("spool: cannot delete %s: %s", path, exc.strerror)


def _fsync_dir(directory: Path) -> None:
    """Make a created, renamed or deleted file's directory entry durable (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(path: Path) -> int:
    """Hold the spool's lock file (flock, POSIX); SpoolError when another agent holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SpoolError(f"cannot open spool lock {path}: {exc.strerror}") from exc
    if sys.platform == "win32":  # no flock: one agent per directory is up to the user
        return fd
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise SpoolError(f"spool {path.parent} is in use by another agent (pid {holder})") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
