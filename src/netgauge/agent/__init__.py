"""The push agent: runs on a monitored host, collects its metrics with psutil and pushes
them to a netgauge server (``POST /api/v1/ingest``), for hosts the server cannot poll
(behind NAT, no SSH/SNMP/WinRM open to it).

Nothing collected is lost to an outage: every batch is written to an on-disk spool
(:mod:`netgauge.agent.spool`) before it is sent, and removed only once the server has
acknowledged it (:mod:`netgauge.agent.sender`). The loop and the command line are in
:mod:`netgauge.agent.main` and ``netgauge agent``.
"""
