"""Analytics: conclusions drawn from what netgauge stores.

One module per conclusion, each a pure computation over plain values (numbers, times,
strings) so that the API, the scheduler and the file commands (``netgauge analytics ...``)
run the same code:

* ``filetime``   — the file commands' input: ``timestamp,value`` CSV, timestamps as ISO 8601
  (``T`` or a space, UTC without a zone) or epoch seconds;
* ``anomalies``  — per-series seasonal baselines, an anomaly score in [0, 1] per sample;
* ``forecast``   — when a series reaches a limit (disk full), with an 80 % interval;
* ``patterns``   — error messages clustered into templates (Drain), variables masked;
* ``risk``       — probability that a device goes offline within a horizon, with reasons;
* ``health``     — the 0–100 health score of a device, destination or site, by components;
* ``windows``    — the best time windows to run a job at a site in the next 14 days;
* ``impact``     — what a configuration change did to the targets it touched;
* ``lake``       — Parquet export, Hive-partitioned, incremental and idempotent.

The service side (stored results, schedules, the API under ``/api/v1/analytics``) calls
these; nothing here reads a store or the clock by itself.
"""
