"""How checks run: concurrency limits, per-check timeouts, spreading, results → samples."""

from netgauge.runner.runner import JobRunner, RunOutcome

__all__ = ["JobRunner", "RunOutcome"]
