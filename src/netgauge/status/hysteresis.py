"""A device's state with hysteresis: honest about outages, deaf to a single lost packet.

Each check of a device is an *observation*: it answered fully (``ok``), answered but not
every way it should (``degraded``: ping yes, SNMP no), or did not answer (``fail``). The
state changes only on evidence:

* **offline** after ``fail_after`` consecutive failed observations (default 3): one lost
  poll is not an outage. With a status check every 30 s, a dead device is offline within
  ``fail_after × interval`` = 90 s of its last answer.
* **online** again after ``recover_after`` consecutive good observations (default 2).
* **degraded** as soon as ``fail_after`` observations in a row were degraded-or-worse
  without reaching offline (it answers, so no need to wait for more).
* **flapping** when the state changed more than ``flap_changes`` times (default 4) within
  ``flap_window_s`` (default 600 s). It stays flapping until no change happened for a
  whole window; it then settles to what the observations say.

Pure logic over timestamps (no clock, no I/O): the caller passes each observation's time
and stores the transitions it returns.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from netgauge.pollers.readings import DeviceState


class Observation(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The hysteresis and flapping settings (documented defaults)."""

    fail_after: int = 3
    recover_after: int = 2
    flap_changes: int = 4
    flap_window_s: float = 600.0

    def __post_init__(self) -> None:
        if self.fail_after < 1 or self.recover_after < 1 or self.flap_changes < 1:
            raise ValueError("fail_after, recover_after and flap_changes must be at least 1")
        if self.flap_window_s <= 0:
            raise ValueError("flap_window_s must be positive")


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of state, as stored in ``device_state_history``."""

    device: str
    previous: DeviceState | None
    new: DeviceState
    reason: str
    detail: str | None
    at_ns: int


@dataclass
class DeviceHysteresis:
    """The state of one device, fed one observation at a time."""

    device: str
    thresholds: Thresholds = field(default_factory=Thresholds)
    state: DeviceState | None = None  # None until the first decision
    _ok_run: int = 0  # good observations in a row
    _fail_run: int = 0  # failed observations in a row (towards offline)
    _not_ok_run: int = 0  # failed or degraded ones in a row (towards degraded)
    _last: Observation | None = None
    _changes: deque[int] = field(default_factory=deque)  # times of recent changes (ns)
    _underlying: DeviceState | None = None  # what the observations say, flapping aside

    def observe(
        self, observation: Observation, at_ns: int, detail: str | None = None
    ) -> Transition | None:
        """Fold one observation in; the transition it causes, if any."""
        self._streak(observation)
        decided = self._decide()
        changed = decided is not None and decided != self._underlying
        if decided is not None:
            self._underlying = decided
        self._forget_changes_before(at_ns - int(self.thresholds.flap_window_s * 1e9))
        if self.state is DeviceState.FLAPPING:
            if changed:
                self._changes.append(at_ns)  # still flipping underneath
            if self._changes or self._underlying is None:
                return None
            quiet = f"no change for {self.thresholds.flap_window_s:g} s"
            return self._move(self._underlying, quiet, detail, at_ns)
        if self._underlying is None or self._underlying == self.state:
            return None
        if self.state is not None:
            self._changes.append(at_ns)
        if len(self._changes) > self.thresholds.flap_changes:
            window = self.thresholds.flap_window_s
            reason = f"{len(self._changes)} changes within {window:g} s"
            return self._move(DeviceState.FLAPPING, reason, detail, at_ns)
        return self._move(self._underlying, self._reason(self._underlying), detail, at_ns)

    def resume(self, state: DeviceState, changes_ns: list[int]) -> None:
        """Start from a state decided before this process (stored transitions), with the
        times of its recent changes: the evidence needed to leave it is counted from here,
        as if the streaks had just been broken, and a flapping device stays flapping until
        a whole window passes with no change."""
        self.state = state
        self._underlying = None if state is DeviceState.FLAPPING else state
        self._changes = deque(sorted(changes_ns))

    def _move(self, new: DeviceState, reason: str, detail: str | None, at_ns: int) -> Transition:
        previous, self.state = self.state, new
        return Transition(self.device, previous, new, reason, detail, at_ns)

    def _forget_changes_before(self, cutoff_ns: int) -> None:
        while self._changes and self._changes[0] <= cutoff_ns:
            self._changes.popleft()

    def _streak(self, observation: Observation) -> None:
        # Failures count towards offline; failures and degraded observations together count
        # towards degraded, so a device alternating between the two is not left "online".
        self._last = observation
        ok = observation is Observation.OK
        self._ok_run = self._ok_run + 1 if ok else 0
        self._fail_run = self._fail_run + 1 if observation is Observation.FAIL else 0
        self._not_ok_run = 0 if ok else self._not_ok_run + 1

    def _decide(self) -> DeviceState | None:
        """What the current streaks prove, or None when they prove nothing yet."""
        t = self.thresholds
        if self._fail_run >= t.fail_after:
            return DeviceState.OFFLINE
        if self._not_ok_run >= t.fail_after:
            return DeviceState.DEGRADED
        if self._ok_run and (self.state is None or self._ok_run >= t.recover_after):
            return DeviceState.ONLINE
        if self.state is None and self._last is Observation.DEGRADED:
            return DeviceState.DEGRADED  # first sight: answers, partly
        return None

    def _reason(self, target: DeviceState) -> str:
        t = self.thresholds
        if target is DeviceState.OFFLINE:
            return f"{t.fail_after} checks in a row without an answer"
        if target is DeviceState.DEGRADED:
            return "answers, but not every check succeeds"
        if self.state in (DeviceState.OFFLINE, DeviceState.DEGRADED, DeviceState.FLAPPING):
            return f"{self._ok_run} good checks in a row"
        return "answered"
