"""The audit trail: API requests, errors, and the console's own activity reports."""

from netgauge.audit.log import AuditLog

__all__ = ["AuditLog"]
