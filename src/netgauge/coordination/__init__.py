"""Coordination of several netgauge processes (leader election)."""
