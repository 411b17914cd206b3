"""Password hashing profiles: the recommended argon2id parameters in production, the minimum
cost only where the test suite asks for it by name (``NETGAUGE_ARGON2_PROFILE``).

The parameters are read back from the hashes themselves (``$argon2id$v=19$m=..,t=..,p=..$``)
and compared with argon2-cffi's own RFC 9106 profile, not with the values the code passes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2.profiles import RFC_9106_LOW_MEMORY

from netgauge.auth import passwords
from netgauge.auth.passwords import ARGON2_PROFILE_ENV, INSECURE_TEST_PROFILE

HASH = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")
PASSWORD = "a password for the hashing tests"


def parameters(hashed: str) -> tuple[int, int, int]:
    """(memory KiB, passes, lanes) written in an argon2id hash."""
    found = HASH.match(hashed)
    assert found, hashed
    m, t, p = (int(g) for g in found.groups())
    return m, t, p


@pytest.fixture
def profile(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The hashing profile chosen afresh from the environment the test sets (the hasher is
    cached per process); the suite's own profile again after."""
    passwords._hasher.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    passwords._hasher.cache_clear()


def test_the_production_default_is_the_recommended_argon2id(profile: pytest.MonkeyPatch) -> None:
    profile.delenv(ARGON2_PROFILE_ENV, raising=False)
    low_memory = RFC_9106_LOW_MEMORY  # 64 MiB, 3 passes, 4 lanes
    expected = (low_memory.memory_cost, low_memory.time_cost, low_memory.parallelism)
    assert parameters(passwords.hash_password(PASSWORD)) == expected == (65536, 3, 4)


def test_a_fresh_interpreter_without_the_variable_hashes_at_full_cost() -> None:
    env = {k: v for k, v in os.environ.items() if k != ARGON2_PROFILE_ENV}
    code = "from netgauge.auth.passwords import hash_password; print(hash_password('x' * 12))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), done.stdout


def test_the_test_profile_is_argon2id_at_its_minimum(profile: pytest.MonkeyPatch) -> None:
    profile.setenv(ARGON2_PROFILE_ENV, INSECURE_TEST_PROFILE)
    hashed = passwords.hash_password(PASSWORD)
    assert parameters(hashed) == (8, 1, 1)
    assert passwords.verify_password(PASSWORD, hashed) == (True, None)
    assert passwords.verify_password("another password", hashed)[0] is False


def test_a_cheap_hash_is_rehashed_at_full_cost_at_the_next_login(
    profile: pytest.MonkeyPatch,
) -> None:
    profile.setenv(ARGON2_PROFILE_ENV, INSECURE_TEST_PROFILE)
    cheap = passwords.hash_password(PASSWORD)
    profile.delenv(ARGON2_PROFILE_ENV)
    passwords._hasher.cache_clear()
    matches, new_hash = passwords.verify_password(PASSWORD, cheap)
    assert matches and new_hash is not None
    assert parameters(new_hash) == (65536, 3, 4)


@pytest.mark.parametrize("value", ["test", "tests", "minimal", "INSECURE-TESTS-ONLY"])
def test_no_other_value_selects_a_profile(profile: pytest.MonkeyPatch, value: str) -> None:
    profile.setenv(ARGON2_PROFILE_ENV, value)
    with pytest.raises(ValueError, match=f"^{ARGON2_PROFILE_ENV}: unknown profile"):
        passwords.hash_password(PASSWORD)


def test_netgauge_serve_refuses_an_unknown_profile(tmp_path: Path) -> None:
    env = {**os.environ, ARGON2_PROFILE_ENV: "test"}
    cmd = [sys.executable, "-m", "netgauge", "serve", "--port", "0", "--data-dir", str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"{ARGON2_PROFILE_ENV}: unknown profile 'test'" in done.stderr, done.stderr
