"""Tokens: short JWT access tokens (HS256), and opaque random tokens (refresh, API) of which
only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from netgauge.auth.roles import Role

ISSUER, AUDIENCE = "netgauge", "netgauge-api"
API_TOKEN_PREFIX = "ngt_"  # tells an API token from a JWT at a glance


class InvalidToken(Exception):
    """The token is malformed, forged or expired (the message says which)."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid access token says."""

    username: str
    role: Role
    expires_at: int
    generation: str  # the user's token generation when it was issued (see auth.accounts)


def issue_access(
    key: bytes,
    username: str,
    role: Role,
    ttl_s: int,
    generation: str,
    now: float | None = None,
) -> str:
    """A signed access token for ``username`` valid ``ttl_s`` seconds, naming the user's
    token ``generation`` (it stops working once that changes)."""
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": username,
        "role": role.value,
        "typ": "access",
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": uuid.uuid4().hex,
        "gen": generation,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def read_access(key: bytes, token: str) -> AccessClaims:
    """The claims of a valid access token (InvalidToken otherwise)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=5,
            options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud", "jti", "gen"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("access token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("access token invalid") from exc
    if claims.get("typ") != "access":
        raise InvalidToken("not an access token")
    try:
        role = Role(claims["role"])
    except (KeyError, ValueError) as exc:
        raise InvalidToken("access token invalid") from exc
    return AccessClaims(str(claims["sub"]), role, int(claims["exp"]), str(claims["gen"]))


def new_opaque(prefix: str = "") -> str:
    """A fresh random token (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What is stored of an opaque token."""
    return hashlib.sha256(token.encode()).hexdigest()
