"""Password hashing: argon2id with pwdlib's recommended parameters (64 MiB, 3 passes).

Hashing costs ~0.1 s of CPU on purpose: callers run it off the event loop. An unknown user
is checked against a dummy hash, so that the answer takes as long as for a wrong password.
"""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash

MIN_LENGTH = 12


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy() -> str:
    return _hasher().hash("not a password anyone has")


def check_strength(password: str) -> None:
    """Refuse passwords that are too short (ValueError naming the rule)."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password: at least {MIN_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """(matches, a new hash when the parameters changed); ``hashed=None``: an unknown user,
    checked against a dummy hash all the same."""
    if hashed is None:
        _hasher().verify(password, _dummy())
        return False, None
    return _hasher().verify_and_update(password, hashed)
