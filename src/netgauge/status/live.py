"""A target's live state: the one rule every route, page, export and alert rule reads.

The words, by kind of target (the only place they are defined):

* a **destination**'s state is the status tracker's, from its checks' newest results
  (``status.tracker``): ``up`` (every covering check answered), ``down`` (none did),
  ``degraded`` (some did);
* a **device**'s state is the one decided with hysteresis (``status.devices``): ``online``,
  ``offline``, ``degraded`` (answers, but not every way it should), ``flapping``; never the
  tracker's up/down of its last checks, which the hysteresis exists to smooth;
* ``unknown``, for both: not checked (or, for a device, not decided) since this process
  started. Unknown targets are the ones absent from :meth:`LiveStates.all`.

Filtering by state narrows a :class:`~netgauge.inventory.TargetFilter` to names (or, for
``unknown``, away from names): the states are in memory, the rows stay in the database,
and the inventory pages and counts them in SQL.
"""

from __future__ import annotations

from dataclasses import replace

from netgauge.inventory.repository import TargetFilter
from netgauge.models import TargetType
from netgauge.status.devices import DeviceStates
from netgauge.status.tracker import StatusTracker

UNKNOWN = "unknown"
# the states a list can filter on, by kind of target (UNKNOWN last: the lists show it so)
STATES: dict[TargetType, tuple[str, ...]] = {
    TargetType.DESTINATION: ("up", "down", "degraded", UNKNOWN),
    TargetType.DEVICE: ("online", "offline", "degraded", "flapping", UNKNOWN),
}
ALL_STATES: tuple[str, ...] = tuple(dict.fromkeys(s for kind in STATES.values() for s in kind))
STATE_PATTERN = f"^({'|'.join(ALL_STATES)})$"  # for query parameters


def _kind(kind: TargetType | str | None) -> TargetType | None:
    return TargetType(kind) if kind is not None else None


class LiveStates:
    """Reads the tracker and the devices' decided states as one map of name → state."""

    def __init__(self, tracker: StatusTracker, devices: DeviceStates) -> None:
        self._tracker = tracker
        self._devices = devices

    def of(self, name: str, kind: TargetType | str | None = None) -> str:
        """The state of one target (``kind``: its type, when the caller has it; without
        it, a target the device states know of is a device)."""
        kind = _kind(kind)
        if kind is TargetType.DEVICE or (kind is None and self._devices.tracks(name)):
            decided = self._devices.state(name)
            return decided.value if decided is not None else UNKNOWN
        checked = self._tracker.get(name)
        return checked.state if checked is not None else UNKNOWN

    def known(self, name: str) -> str | None:
        """:meth:`of` without a type, None for ``unknown`` (what alert rules take)."""
        state = self.of(name)
        return None if state == UNKNOWN else state

    def all(self, kind: TargetType | str | None = None) -> dict[str, str]:
        """Every target with a known state, of ``kind`` (both kinds for None: then a name the
        device states know of is a device)."""
        kind = _kind(kind)
        found: dict[str, str] = {}
        if kind is TargetType.DESTINATION:
            found.update((st.target, st.state) for st in self._tracker.all())
        elif kind is None:
            found.update(
                (st.target, st.state)
                for st in self._tracker.all()
                if not self._devices.tracks(st.target)
            )
        if kind in (None, TargetType.DEVICE):
            decided = self._devices.states().items()
            found.update((name, st.value) for name, st in decided if st is not None)
        return {name: state for name, state in found.items() if state != UNKNOWN}

    def narrow(self, f: TargetFilter, state: str | None) -> TargetFilter:
        """``f`` narrowed to the targets in ``state`` (as it is for None): to the names in it,
        or for ``unknown`` away from every name with a known state. The inventory then
        filters, counts and pages in SQL."""
        if state is None:
            return f
        states = self.all(f.type)
        if state == UNKNOWN:
            return replace(f, exclude=[*(f.exclude or ()), *states])
        wanted = [name for name, s in states.items() if s == state]
        if f.names is not None:
            given = set(f.names)
            wanted = [name for name in wanted if name in given]
        return replace(f, names=wanted)


__all__ = ["ALL_STATES", "STATES", "STATE_PATTERN", "UNKNOWN", "LiveStates"]
