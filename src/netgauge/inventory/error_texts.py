"""The stored error texts the error-pattern analytics cluster (``analytics.pattern_report``).

Three kinds, each read over ``[since, until)`` and newest first up to ``cap`` rows:

* ``target``: a target's failure in a job run (``job_run_targets`` whose status is neither
  ok nor skipped — a calendar's skip is not an error), at the run's start;
* ``job``: a run's own error when it failed with no target outcome at all (a run with
  targets has its targets' errors joined into its own: counting both would count twice);
* ``log``: the error log (``error_logs``), only when asked (it is admin's to read).

Blocking: call it in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select

from netgauge.analytics.pattern_report import ErrorText
from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import ErrorLog, JobRun, JobRunTarget


def error_texts(
    inv: Inventory, since: datetime, until: datetime, with_log: bool, cap: int
) -> tuple[list[ErrorText], bool]:
    """The error texts of the window, and whether any kind had more than ``cap`` rows."""
    found: list[ErrorText] = []
    truncated = False
    with inv.session() as s:
        targets = s.execute(
            select(JobRun.started_at, JobRunTarget.error, JobRunTarget.target, JobRun.job_name)
            .join(JobRun, JobRun.id == JobRunTarget.run_id)
            .where(JobRun.started_at >= since, JobRun.started_at < until)
            .where(JobRunTarget.status.not_in(("ok", "skipped")))
            .where(JobRunTarget.error.is_not(None))
            .order_by(JobRun.started_at.desc())
            .limit(cap + 1)
        ).all()
        runs = s.execute(
            select(JobRun.started_at, JobRun.error, JobRun.job_name)
            .where(JobRun.started_at >= since, JobRun.started_at < until)
            .where(JobRun.status == "failed", JobRun.error.is_not(None))
            .where(JobRun.targets_ok == 0, JobRun.targets_failed == 0)
            .order_by(JobRun.started_at.desc())
            .limit(cap + 1)
        ).all()
        logs: Sequence[Row[datetime, str, str | None, str]] = ()
        if with_log:
            logs = s.execute(
                select(ErrorLog.at, ErrorLog.message, ErrorLog.device, ErrorLog.category)
                .where(ErrorLog.at >= since, ErrorLog.at < until)
                .order_by(ErrorLog.at.desc())
                .limit(cap + 1)
            ).all()
    truncated = max(len(targets), len(runs), len(logs)) > cap
    found += [ErrorText(at, "target", str(e), t, j) for at, e, t, j in targets[:cap]]
    found += [ErrorText(at, "job", str(e), None, j) for at, e, j in runs[:cap]]
    found += [ErrorText(at, "log", str(m), d, None) for at, m, d, _ in logs[:cap]]
    return found, truncated
