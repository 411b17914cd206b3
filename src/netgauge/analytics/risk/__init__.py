"""Failure risk: the probability that a device goes offline within a horizon (24 h by
default), with the features that raise it.

* ``features`` — rolling features of a device at a time, from metrics, state transitions
  and configuration changes (nothing after that time is read);
* ``model``    — training on the fleet's own history, calibration, reasons, and the choice
  of the fallback while that history is too short;
* ``fallback`` — the documented rule-based score;
* ``files``    — the ``netgauge analytics risk DIR`` input (``metrics.csv``, ``states.csv``).

The service side (``netgauge.analytics.risk_service``) reads the stores and caches the
model; everything here is pure.
"""
