"""Probes: one module per protocol, all behind ``netgauge.probes.base.Probe``."""

from netgauge.probes.base import PROBES, BatchProbe, Probe, ProbeParams, load_builtin_probes

__all__ = ["PROBES", "BatchProbe", "Probe", "ProbeParams", "load_builtin_probes"]
