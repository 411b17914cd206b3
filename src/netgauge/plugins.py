"""Typed registries of plugin kinds: unknown or duplicate names fail at config load, not at run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from netgauge.errors import NetgaugeError

T = TypeVar("T")


class RegistryError(NetgaugeError):
    """A plugin name is unknown or registered twice."""


class Registry(Generic[T]):
    """Name → plugin for one plugin kind (probes, sinks, ...)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; a second registration of a name is a bug."""
        if name in self._items:
            raise RegistryError(f"{self._what} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """The plugin called ``name``, or an error listing the known names."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self._what} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
