"""Who presents a credential: an API key or an access token, resolved to a :class:`Principal`.

Every authenticated request asks this, so answers are kept for a few seconds
(``RWA_AUTH_CACHE_SECONDS``) in a per-process cache, keyed by a digest of the credential (no
raw secret is held) and never past the credential's own expiry. What this process changes
(a key revoked, a password changed, a role set, a user deactivated or deleted) empties the cache
when its transaction commits, so it takes effect here at once; a change made by another process
(another worker, the ``rwa`` command) takes effect there within the cache's lifetime. Only
valid credentials are kept: a bad one is looked up every time.

A busy credential never waits for its own refresh: past half its lifetime an entry is still
answered while one lookup replaces it in the background (refresh ahead), so a client sending
hundreds of requests a second does not stall them all every few seconds behind one database
read queued in a busy threadpool (the API's slowest requests, docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

from api.accounts import sessions
from api.accounts.keys import IDENTITY_UNCHANGED, holder_of_key
from api.accounts.principal import Holder, Principal, Role
from api.accounts.tables import ApiKey, User
from api.accounts.tokens import InvalidTokenError, TokenIssuer, TokenType

#: The tables whose rows decide who a credential belongs to and what it may do.
_IDENTITY_TABLES = frozenset({User.__tablename__, ApiKey.__tablename__})
#: Most credentials kept at once; the cache is emptied when full (it refills in one request
#: per active credential).
MAX_ENTRIES = 10_000
_CHANGED = "rwa_identity_changed"


@dataclass(frozen=True, slots=True)
class CachedPrincipal:
    principal: Principal
    #: Wall-clock time (``time.time()``) after which the entry is not used.
    until: float
    #: After this, the entry is still used, but a lookup should replace it.
    refresh_after: float

    def due_for_refresh(self) -> bool:
        return time.time() >= self.refresh_after


class PrincipalCache:
    """Principals of recently presented valid credentials, for ``ttl_seconds`` at most."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[bytes, CachedPrincipal] = {}
        self._generation = 0
        self._lock = threading.Lock()
        #: Lookups under way, by credential, for the event loop of the process's server: a
        #: request whose credential is being looked up awaits that lookup (api.deps).
        self.in_flight: dict[str, asyncio.Future[Principal | None]] = {}

    @staticmethod
    def _digest(credential: str) -> bytes:
        return hashlib.blake2b(credential.encode(), digest_size=20).digest()

    @property
    def generation(self) -> int:
        """Changes whenever the cache is emptied: take it before a lookup, give it to
        :meth:`put`, and a lookup that raced a change is not kept."""
        return self._generation

    def get(self, credential: str) -> Principal | None:
        entry = self.entry(credential)
        return entry.principal if entry is not None else None

    def entry(self, credential: str) -> CachedPrincipal | None:
        """The cached answer for ``credential`` while it may be used (None: look it up)."""
        if self._ttl <= 0:
            return None
        entry = self._entries.get(self._digest(credential))
        if entry is None or entry.until <= time.time():
            return None
        return entry

    def put(
        self, credential: str, principal: Principal, expires_at: float, generation: int
    ) -> None:
        now = time.time()
        until = min(now + self._ttl, expires_at)
        with self._lock:
            if self._ttl <= 0 or generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[self._digest(credential)] = CachedPrincipal(
                principal, until, refresh_after=now + self._ttl / 2
            )

    def forget(self, credential: str) -> None:
        """Drop ``credential``'s entry (a refresh found it no longer valid)."""
        with self._lock:
            self._entries.pop(self._digest(credential), None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def watch(self, factory: sessionmaker[Session]) -> None:
        """Empty the cache whenever a session of ``factory`` commits a change to users or API
        keys (ORM changes and bulk UPDATE/DELETE statements alike)."""
        event.listen(factory, "after_flush", _mark_flushed_changes)
        event.listen(factory, "do_orm_execute", _mark_bulk_changes)
        event.listen(factory, "after_commit", self._clear_if_changed)
        event.listen(factory, "after_rollback", _forget_changes)

    def _clear_if_changed(self, session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            self.clear()


def _mark_flushed_changes(session: Session, _context: UOWTransaction) -> None:
    changed = (*session.dirty, *session.deleted, *session.new)
    if any(isinstance(row, (User, ApiKey)) for row in changed):
        session.info[_CHANGED] = True


def _mark_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get(IDENTITY_UNCHANGED):
        return
    target: Any = getattr(state.statement, "table", None)
    if getattr(target, "name", None) in _IDENTITY_TABLES:
        state.session.info[_CHANGED] = True


def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _token_holder(session: Session, issuer: TokenIssuer, token: str) -> Holder | None:
    try:
        claims = issuer.decode(token, TokenType.ACCESS)
    except InvalidTokenError:
        return None
    user = session.get(User, claims.user_id)
    # Checked on every lookup so a deactivation, a tier change or a password change (which
    # ends the sessions before it) takes effect at once, not when the token expires.
    if user is None or not user.is_active:
        return None
    if not sessions.is_current(claims.issued_at, user.password_changed_at):
        return None
    principal = Principal(user_id=user.id, role=Role(user.role))
    return Holder(principal, claims.expires_at.timestamp())


def resolve(
    factory: sessionmaker[Session],
    issuer: TokenIssuer,
    cache: PrincipalCache,
    *,
    api_key: str | None,
    token: str | None,
) -> Principal | None:
    """The principal of ``api_key`` (when given) or else of the access ``token``; None when
    the credential is malformed, unknown, revoked, expired or its user inactive. Blocking:
    it may read the operational database (call it from a thread)."""
    credential = api_key if api_key is not None else token
    if credential is None:
        return None
    generation = cache.generation
    # A session of its own, closed before the route runs: a data read must not keep an
    # operational-database connection while it works.
    with factory() as session:
        if api_key is not None:
            holder = holder_of_key(session, api_key)
        else:
            holder = _token_holder(session, issuer, credential)
    if holder is None:
        cache.forget(credential)
        return None
    expires_at = holder.expires_at if holder.expires_at is not None else float("inf")
    cache.put(credential, holder.principal, expires_at, generation)
    return holder.principal
