"""Users, API tokens and refresh tokens in the inventory database.

Passwords are argon2 hashes; tokens are stored as SHA-256 only, so a copy of the database
gives no working credential. Every change is written to the change log (who, what, when),
never with a secret in it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from netgauge.auth.passwords import PasswordPool, check_strength, hash_password
from netgauge.auth.roles import Principal, Role
from netgauge.auth.tokens import API_TOKEN_PREFIX, digest, new_opaque
from netgauge.errors import ConflictError, InventoryError, NotFoundError
from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import ApiToken, RefreshToken, User, utcnow

FIRST_ADMIN = "admin"
MISS = object()  # what peek() gives when the cache has no fresh answer
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as the API shows it (never the hash)."""

    username: str
    role: Role
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class ActiveUser:
    """An enabled user as every request checks it: the role now, and the generation its
    access tokens must name (a logout, a new password or a disabled account changes it)."""

    role: Role
    generation: str


@dataclass(frozen=True, slots=True)
class _LoginRecord:
    username: str
    role: Role
    password_hash: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as the API lists it (never the token)."""

    id: int
    name: str
    role: Role
    owner: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class Accounts:
    """Users and tokens, over the inventory's sessions.

    What every request asks — a user's current role, an API token's principal — is cached
    for ``cache_s`` seconds, and dropped at once by any change this process makes (another
    process sharing the database sees a change within ``cache_s``). A token's last use is
    written at most once a minute: reading must not mean writing on every request.
    """

    def __init__(self, inventory: Inventory, cache_s: float = 10.0) -> None:
        self._inv = inventory
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, object]] = {}
        self._changes = 0  # changes this process made (each one empties the cache)

    def _cached(self, key: str, load: Callable[[], _T]) -> _T:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]  # type: ignore[return-value]
        before = self._changes
        value = load()
        # a revocation (or demotion) committed while this loaded: the answer may predate
        # it, so it is used for this request only, never cached past the change
        if self._changes == before:
            self._cache[key] = (now, value)
        return value

    def peek(self, method: str, key: str) -> object:
        """The cached answer of ``method`` (``active_user`` or ``token_principal``) for
        ``key``, or MISS: lets a caller skip the thread hop when nothing needs loading."""
        cache_key = f"user:{key}" if method == "active_user" else f"token:{digest(key)}"
        hit = self._cache.get(cache_key)
        if hit is None or time.monotonic() - hit[0] >= self.cache_s:
            return MISS
        return hit[1]

    def _forget(self, session: Session | None = None) -> None:
        """Empty the cache: now, and for a change made in ``session`` again once it commits
        (a lookup that ran in between read the row as it was before)."""
        self._changes += 1
        self._cache.clear()
        if session is not None:
            event.listen(session, "after_commit", lambda _s: self._forget(), once=True)

    # -- first start --------------------------------------------------------------------------
    def ensure_first_admin(self, password: str | None) -> str | None:
        """With no user yet, create ``admin`` with ``password`` or, when none is given, a
        generated one, which is returned (to be shown once). None when users exist."""
        with self._inv.session() as s:
            if s.scalar(select(func.count()).select_from(User)):
                return None
        generated = password is None
        secret = password if password is not None else secrets.token_urlsafe(18)
        self.create_user(FIRST_ADMIN, secret, Role.ADMIN, actor="first-start")
        return secret if generated else None

    # -- users --------------------------------------------------------------------------------
    def create_user(self, username: str, password: str, role: Role, actor: str) -> UserInfo:
        """A new user (ConflictError when the name is taken)."""
        _check_username(username)
        check_strength(password)
        hashed = hash_password(password)
        with self._inv.session() as s:
            if s.scalar(select(User).where(User.username == username)) is not None:
                raise ConflictError(f"username: {username!r} exists")
            row = User(
                username=username,
                password_hash=hashed,
                role=role.value,
                token_generation=_new_generation(),
            )
            s.add(row)
            s.flush()
            self._inv.record_change(s, "user", username, "create", {"role": role.value}, actor)
            self._forget(s)
            return _user_info(row)

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self._inv.session() as s:
            return [_user_info(u) for u in s.scalars(select(User).order_by(User.username))]

    def update_user(
        self,
        username: str,
        actor: str,
        *,
        role: Role | None = None,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> UserInfo:
        """Change a user's role, password or disabled state (logged; the password never)."""
        if password is not None:
            check_strength(password)
        hashed = hash_password(password) if password is not None else None
        with self._inv.session() as s:
            row = self._user(s, username)
            changes: dict[str, list[object]] = {}
            if role is not None and role.value != row.role:
                self._keep_an_admin(s, row, role)
                changes["role"] = [row.role, role.value]
                row.role = role.value
            if hashed is not None:
                row.password_hash = hashed
                changes["password"] = ["(changed)", "(changed)"]
                self._revoke_refresh(s, username)
                row.token_generation = _new_generation()  # every session ends
            if disabled is not None and disabled != (row.disabled_at is not None):
                if disabled:
                    self._keep_an_admin(s, row, None)
                    self._revoke_refresh(s, username)
                    row.token_generation = _new_generation()
                changes["disabled"] = [not disabled, disabled]
                row.disabled_at = utcnow() if disabled else None
            self._inv.record_change(s, "user", username, "update", changes, actor)
            self._forget(s)
            return _user_info(row)

    def delete_user(self, username: str, actor: str) -> None:
        """Remove a user, their refresh tokens and API tokens (never the last admin)."""
        with self._inv.session() as s:
            row = self._user(s, username)
            self._keep_an_admin(s, row, None)
            self._revoke_refresh(s, username)
            for token in s.scalars(select(ApiToken).where(ApiToken.owner == username)):
                token.revoked_at = token.revoked_at or utcnow()
            s.delete(row)
            self._inv.record_change(s, "user", username, "delete", {}, actor)
            self._forget(s)

    async def authenticate(
        self, username: str, password: str, pool: PasswordPool
    ) -> Principal | None:
        """The user when the password is right and the account enabled; None otherwise (the
        same time either way). The database is read in a thread of the default pool, the
        password checked in ``pool`` (PoolBusy when it is full): a flood of logins never
        holds a database connection or a default-pool thread while it hashes."""
        record = await asyncio.to_thread(self._login_record, username)
        ok, rehashed = await pool.verify(password, record.password_hash if record else None)
        if record is None or not ok or record.disabled:
            return None
        if rehashed is not None:
            await asyncio.to_thread(self._store_rehash, username, rehashed)
        return Principal(record.username, record.role, "password")

    def _login_record(self, username: str) -> _LoginRecord | None:
        with self._inv.session() as s:
            row = s.scalar(select(User).where(User.username == username))
            if row is None:
                return None
            disabled = row.disabled_at is not None
            return _LoginRecord(row.username, Role(row.role), row.password_hash, disabled)

    def _store_rehash(self, username: str, hashed: str) -> None:
        with self._inv.session() as s:
            row = s.scalar(select(User).where(User.username == username))
            if row is not None:
                row.password_hash = hashed

    def active_user(self, username: str) -> ActiveUser | None:
        """A user's current role and token generation, or None when gone or disabled
        (checked on every request, so a demotion, a disabled account or a logout takes
        effect at once, not at token expiry)."""
        return self._cached(f"user:{username}", lambda: self._load_user(username))

    def _load_user(self, username: str) -> ActiveUser | None:
        with self._inv.session() as s:
            row = s.scalar(select(User).where(User.username == username))
            if row is None or row.disabled_at is not None:
                return None
            return ActiveUser(Role(row.role), row.token_generation)

    def timezone_of(self, username: str) -> str | None:
        """The zone ``username`` chose for the console (None: the browser's own)."""
        return self._cached(f"tz:{username}", lambda: self._load_timezone(username))

    def _load_timezone(self, username: str) -> str | None:
        with self._inv.session() as s:
            return s.scalar(select(User.timezone).where(User.username == username))

    def set_timezone(self, username: str, zone: str | None) -> None:
        """Keep ``zone`` (a checked IANA name, or None for the browser's) for ``username``."""
        with self._inv.session() as s, s.begin():
            self._user(s, username).timezone = zone
        self._cache.pop(f"tz:{username}", None)

    def end_sessions(self, username: str) -> None:
        """Every access token of ``username`` stops working (logout): its generation is
        replaced. Refresh tokens other than the one logged out with keep working."""
        with self._inv.session() as s:
            row = s.scalar(select(User).where(User.username == username))
            if row is not None:
                row.token_generation = _new_generation()
        self._forget()

    # -- refresh tokens -------------------------------------------------------------------------
    def issue_refresh(self, username: str, ttl: timedelta) -> str:
        """A new refresh token for ``username``."""
        token = new_opaque()
        with self._inv.session() as s:
            s.add(
                RefreshToken(
                    token_sha256=digest(token), username=username, expires_at=utcnow() + ttl
                )
            )
        return token

    def use_refresh(self, token: str) -> str | None:
        """Spend a refresh token: its user while valid (it is revoked now), else None.

        One conditional UPDATE does both the check and the spending, so two requests
        spending the same token at once cannot both succeed (the database decides which)."""
        now, hashed = utcnow(), digest(token)
        spend = (
            update(RefreshToken)
            .where(
                RefreshToken.token_sha256 == hashed,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(revoked_at=now)
        )
        with self._inv.session() as s:
            if s.execute(spend).rowcount != 1:  # type: ignore[attr-defined]
                return None
            return s.scalar(
                select(RefreshToken.username).where(RefreshToken.token_sha256 == hashed)
            )

    def revoke_refresh(self, token: str) -> str | None:
        """Log out: the refresh token stops working; whose it was (None: unknown)."""
        with self._inv.session() as s:
            row = s.scalar(select(RefreshToken).where(RefreshToken.token_sha256 == digest(token)))
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return row.username

    # -- API tokens -----------------------------------------------------------------------------
    def create_api_token(self, name: str, role: Role, owner: str, actor: str) -> tuple[str, int]:
        """A new API token (returned once) and its id. Its role cannot exceed its owner's."""
        if not name.strip() or len(name) > 128:
            raise InventoryError("name: 1 to 128 characters")
        token = new_opaque(API_TOKEN_PREFIX)
        with self._inv.session() as s:
            owner_row = self._user(s, owner)
            if not Role(owner_row.role).allows(role):
                raise InventoryError(f"role: {owner!r} is {owner_row.role}, cannot grant {role}")
            row = ApiToken(name=name, token_sha256=digest(token), role=role.value, owner=owner)
            s.add(row)
            s.flush()
            self._inv._log(
                s, "api_token", f"{row.id}:{name}", "create", {"role": role.value}, actor
            )
            return token, row.id

    def list_api_tokens(self) -> list[TokenInfo]:
        """Every API token (never the token itself)."""
        with self._inv.session() as s:
            return [_token_info(t) for t in s.scalars(select(ApiToken).order_by(ApiToken.id))]

    def revoke_api_token(self, token_id: int, actor: str) -> None:
        """The token stops working."""
        with self._inv.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                raise NotFoundError(f"api token {token_id} not found")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                self._inv.record_change(s, "api_token", f"{row.id}:{row.name}", "revoke", {}, actor)
            self._forget(s)

    def token_principal(self, token: str) -> Principal | None:
        """Who a live API token speaks for (its role, capped by its owner's current one)."""
        return self._cached(f"token:{digest(token)}", lambda: self._load_token(token))

    def _load_token(self, token: str) -> Principal | None:
        with self._inv.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest(token)))
            if row is None or row.revoked_at is not None:
                return None
            owner = s.scalar(select(User).where(User.username == row.owner))
            if owner is None or owner.disabled_at is not None:
                return None
            role, owner_role = Role(row.role), Role(owner.role)
            if not owner_role.allows(role):  # an owner demoted since: the token is too
                role = owner_role
            now = utcnow()
            if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
                row.last_used_at = now
            return Principal(f"token:{row.name}", role, "token")

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _user(s: Session, username: str) -> User:
        row = s.scalar(select(User).where(User.username == username))
        if row is None:
            raise NotFoundError(f"user {username!r} not found")
        return row

    @staticmethod
    def _revoke_refresh(s: Session, username: str) -> None:
        live = select(RefreshToken).where(
            RefreshToken.username == username, RefreshToken.revoked_at.is_(None)
        )
        for row in s.scalars(live):
            row.revoked_at = utcnow()

    @staticmethod
    def _keep_an_admin(s: Session, row: User, new_role: Role | None) -> None:
        """Refuse a change that would leave no enabled admin."""
        if row.role != Role.ADMIN.value or new_role == Role.ADMIN:
            return
        admins = s.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.disabled_at.is_(None))
        )
        if (admins or 0) <= 1:
            raise ConflictError("the last enabled admin cannot be demoted, disabled or removed")


def _new_generation() -> str:
    return secrets.token_hex(8)


def _check_username(username: str) -> None:
    if not (1 <= len(username) <= 64) or not all(c.isalnum() or c in "._-@" for c in username):
        raise InventoryError("username: 1 to 64 letters, digits or . _ - @")


def _user_info(row: User) -> UserInfo:
    return UserInfo(row.username, Role(row.role), row.created_at, row.disabled_at is not None)


def _token_info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.name,
        Role(row.role),
        row.owner,
        row.created_at,
        row.last_used_at,
        row.revoked_at is not None,
    )
