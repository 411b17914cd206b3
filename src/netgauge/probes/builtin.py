"""The built-in job kinds, registered by importing their modules.

Apart from :mod:`netgauge.probes.base` (which every probe module imports), so loading them
is no import cycle: this module imports the probes, the probes import the base.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_builtin_probes() -> None:
    """Import every module of this package so that the probes register themselves (idempotent).

    A new probe is a new module here with a ``@register_probe`` class: no list to edit.
    """
    import netgauge.probes as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"netgauge.probes.{module.name}")
    # Device pollers are job kinds too; their adapters live with them, in pollers/jobs.py.
    importlib.import_module("netgauge.pollers.jobs")


__all__ = ["load_builtin_probes"]
