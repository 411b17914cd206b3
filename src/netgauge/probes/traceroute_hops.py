"""Per-hop statistics of a traceroute: address, loss and RTT over the probes of one TTL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netgauge.probes.traceroute_packet import ReplyKind


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """One probe of a hop: its answer (None when lost) and round-trip time."""

    address: str | None = None
    rtt_ns: int | None = None
    kind: ReplyKind | None = None


def _ms(value_ns: float) -> float:
    return round(value_ns / 1e6, 3)


def hop_entry(ttl: int, outcomes: Sequence[ProbeOutcome]) -> dict[str, Any]:
    """The JSON entry of one hop: the address most probes heard from, loss and RTTs in ms.

    Sent counts every probe tried at this TTL (a refused send is sent and lost, like ping).
    """
    answered = [o for o in outcomes if o.address is not None and o.rtt_ns is not None]
    rtts = [o.rtt_ns for o in answered if o.rtt_ns is not None]
    sent, received = len(outcomes), len(answered)
    addresses = Counter(o.address for o in answered)
    entry: dict[str, Any] = {
        "ttl": ttl,
        "address": addresses.most_common(1)[0][0] if addresses else None,
        "name": None,
        "sent": sent,
        "received": received,
        "loss_pct": round(100.0 * (sent - received) / sent, 3) if sent else None,
        "rtt_min_ms": _ms(min(rtts)) if rtts else None,
        "rtt_avg_ms": _ms(sum(rtts) / len(rtts)) if rtts else None,
        "rtt_max_ms": _ms(max(rtts)) if rtts else None,
    }
    if len(addresses) > 1:  # load-balanced paths: say so instead of hiding it
        entry["addresses"] = sorted(a for a in addresses if a is not None)
    return entry


def path_of(hops: Sequence[dict[str, Any]]) -> list[str | None]:
    """The hop addresses in TTL order (None for a silent hop): what path changes compare."""
    return [hop["address"] for hop in hops]
