"""What this machine says about itself, read from the kernel directly: the truth the pollers'
numbers are checked against (snmpd, sshd and the agent all run here)."""

from __future__ import annotations

from pathlib import Path


def local_uptime() -> float:
    """Seconds since boot (``/proc/uptime``)."""
    return float(Path("/proc/uptime").read_text().split()[0])


def local_memory_percent() -> float:
    """Used memory as free(1) and the kernel count it: (MemTotal - MemAvailable) / MemTotal."""
    fields = {
        line.split(":")[0]: int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
    }
    return 100.0 * (fields["MemTotal"] - fields["MemAvailable"]) / fields["MemTotal"]
