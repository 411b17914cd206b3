"""Credentials: where a target's secrets may be sent (scope), checked when a target is saved
and again at every poll. Reading the secrets themselves is in ``pollers.secrets``."""

from netgauge.credentials.scope import checked_address, operator_refusal, scope_of

__all__ = ["checked_address", "operator_refusal", "scope_of"]
