"""Who may do what: users and roles, passwords, tokens, login throttling."""

from netgauge.auth.roles import Principal, Role

__all__ = ["Principal", "Role"]
