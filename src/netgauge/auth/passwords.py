"""Passwords: argon2id hashes (pwdlib's recommended parameters: 64 MiB, 3 passes), checked in
a bounded pool of their own, and a strength rule for new ones.

Hashing costs about 0.1 s of CPU and 64 MiB on purpose. Logins are open to anyone, so their
hashing runs in :class:`PasswordPool`: a few threads of its own (never the default pool the
database queries use, which a login flood would otherwise fill) and a bounded queue beyond
which a login is answered "busy" at once instead of piling up memory and waiting time.

An unknown user is checked against a dummy hash, so the answer takes as long as for a wrong
password.

The test suite starts hundreds of services, each hashing a first admin's password: it sets
``NETGAUGE_ARGON2_PROFILE=insecure-tests-only`` (:data:`ARGON2_PROFILE_ENV`) for argon2id's
minimum cost (8 KiB, 1 pass). Nothing else selects it: it is not a setting of the YAML file or
a flag, any other value of the variable stops ``netgauge serve``, and a service started with it
logs a warning (``auth.argon2_insecure``). A hash made that way is rehashed with the
recommended parameters at the next login without the variable (``verify_and_update``).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MIN_SCORE = 2  # zxcvbn's 0..4: below 2 it is among the passwords guessed first
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input (and needs none: the start decides)


ARGON2_PROFILE_ENV = "NETGAUGE_ARGON2_PROFILE"
INSECURE_TEST_PROFILE = "insecure-tests-only"  # a name nobody sets in production by mistake


def argon2_profile() -> str:
    """``recommended`` (the default), or ``insecure-tests-only`` when the environment asks for
    it; ValueError naming the variable for any other value."""
    value = os.environ.get(ARGON2_PROFILE_ENV, "").strip() or "recommended"
    if value not in ("recommended", INSECURE_TEST_PROFILE):
        raise ValueError(
            f"{ARGON2_PROFILE_ENV}: unknown profile {value!r} "
            f"(unset it; {INSECURE_TEST_PROFILE!r} is for netgauge's own tests)"
        )
    return value


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    if argon2_profile() == INSECURE_TEST_PROFILE:
        # argon2's floor: 8 KiB per lane, one pass (microseconds instead of ~0.1 s and 64 MiB)
        return PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy() -> str:
    return _hasher().hash("not a password anyone has")


def check_strength(password: str) -> None:
    """Refuse a password that is too short, only whitespace, or among the common ones
    (zxcvbn's estimate, which knows 30,000 leaked passwords, keyboard walks, repeats and
    dates): ValueError naming the rule."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password: at least {MIN_LENGTH} characters")
    if not password.strip():
        raise ValueError("password: not only whitespace")
    verdict = zxcvbn(password[:_ZXCVBN_MAX])
    if verdict["score"] < MIN_SCORE:
        why = verdict["feedback"].get("warning") or "it is among the first ones guessed"
        raise ValueError(f"password: too easy to guess ({why.rstrip('.').lower()})")


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


class PoolBusy(Exception):
    """Too many logins are being checked already: try again in a second."""


class PasswordPool:
    """Checks passwords in ``workers`` threads of its own, with at most ``queue`` more
    waiting; beyond that :class:`PoolBusy` at once."""

    def __init__(self, workers: int | None = None, queue: int = 32) -> None:
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2) // 2))
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="netgauge-argon2")
        self._slots = self.workers + queue
        self.busy_refusals = 0  # logins answered "busy" (for the figures)

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """:func:`verify_password` in the pool (PoolBusy when it is full)."""
        if self._slots <= 0:
            self.busy_refusals += 1
            raise PoolBusy("too many logins in progress")
        self._slots -= 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, verify_password, password, hashed)
        finally:
            self._slots += 1

    def close(self) -> None:
        """Stop the threads (the service is stopping)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
