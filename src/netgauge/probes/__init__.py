"""Probes: one module per protocol, all behind ``netgauge.probes.base.Probe``.

Nothing is imported here: ``netgauge probe icmp`` loads only the ICMP modules it needs
(the probe interface in ``base`` brings pydantic, 60 ms of start-up the one-shot skips).
"""
