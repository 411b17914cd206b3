"""Network discovery: sweep a CIDR (ICMP, SNMP, SSH banner), identify what answers, and
propose targets with their checks for an admin to accept (``POST /api/v1/discover``)."""

from netgauge.discovery.service import DiscoveryManager
from netgauge.discovery.sweep import MAX_ADDRESSES, sweep_addresses

__all__ = ["MAX_ADDRESSES", "DiscoveryManager", "sweep_addresses"]
