"""Everything the protocol creates: grants, codes, tokens, device flows, browser sessions, consents.

One re-entrant lock guards it all; endpoint code holds `store.lock` across each check-then-update.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import ids
from .clock import Clock

if TYPE_CHECKING:
    from .authorize import AuthorizeRequest

CODE_LIFETIME = 600
REFRESH_INACTIVITY_LIMIT = 90 * 86400
SIGN_IN_LIFETIME = 3600


@dataclass
class Grant:
    """What one authorization produced: the family every rotated refresh token belongs to."""

    id: str
    client_id: str
    user_login: str
    scopes: frozenset[str]
    created_at: float
    revoked: bool = False


@dataclass
class AuthCode:
    client_id: str
    user_login: str
    scopes: frozenset[str]
    redirect_uri: str
    code_challenge: str | None
    challenge_method: str
    nonce: str | None
    issued_at: float
    redeemed: bool = False


@dataclass
class RefreshToken:
    grant_id: str
    issued_at: float
    rotated_out: bool = False


@dataclass
class AccessToken:
    client_id: str
    user_login: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class DeviceFlow:
    """A device authorization, stored under its device_code."""

    user_code: str
    client_id: str
    authority_segment: str
    scopes: frozenset[str]
    issued_at: float
    expires_in: int
    interval: int
    last_poll: float | None = None
    status: str = "pending"  # pending | approved | declined | redeemed
    user_login: str | None = None


@dataclass
class PendingSignIn:
    """A browser sign-in in progress, referenced by the hidden `flow` field of the pages' forms."""

    id: str
    authority_segment: str
    created_at: float
    authorize: AuthorizeRequest | None = None
    device: DeviceFlow | None = None
    user_login: str | None = None


@dataclass
class ScopeAnswer:
    """Ways the token endpoint's `scope` differs from what was asked, each seen in the field (scopes.py)."""

    omit_offline_access: bool = False  # a refresh token comes back, yet `scope` leaves offline_access out
    extra: tuple[str, ...] = ()  # more scopes than asked, such as ones consented earlier
    case: str | None = None  # "upper" or "lower": names in another casing
    full_uris: bool | None = None  # None: full URIs for work accounts only; True/False: for every account


class Store:
    def __init__(self, clock: Clock, configured_secrets: tuple[str, ...]) -> None:
        self.clock = clock
        self.configured_secrets = configured_secrets
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.strict = False
            # How token answers write their `scope` (see scopes.ScopeAnswer); the default is Microsoft's usual.
            self.scope_answer = ScopeAnswer()
            # How /devicecode answers (see devicecode.DeviceAnswer); the default is Microsoft's.
            self.device_answer: dict = {}
            self.grants: dict[str, Grant] = {}
            self.codes: dict[str, AuthCode] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.devices: dict[str, DeviceFlow] = {}
            self.pending: dict[str, PendingSignIn] = {}
            self.sessions: dict[str, str] = {}
            self.consents: set[tuple[str, str, str]] = set()
            # dict as an ordered set: leak tests read them in issue order
            self._secrets: dict[str, None] = dict.fromkeys(s for s in self.configured_secrets if s)

    def remember_secret(self, value: str | None) -> None:
        if value:
            with self.lock:
                self._secrets[value] = None

    def secrets(self) -> list[str]:
        with self.lock:
            return list(self._secrets)

    def new_grant(self, client_id: str, user_login: str, scopes: frozenset[str]) -> Grant:
        with self.lock:
            grant = Grant(ids.guid(), client_id, user_login, scopes, self.clock.now())
            self.grants[grant.id] = grant
            return grant

    def add_secret(self, table: dict, prefix: str, nbytes: int, record: object) -> str:
        """Store record under a fresh secret key in table and remember the secret for leak tests."""
        with self.lock:
            key = ids.opaque(prefix, nbytes)
            table[key] = record
            self._secrets[key] = None
            return key

    def new_session(self, user_login: str) -> str:
        with self.lock:
            sid = ids.opaque("", 24)
            self.sessions[sid] = user_login
            return sid

    def session_user(self, sid: str | None) -> str | None:
        with self.lock:
            return self.sessions.get(sid or "")

    def consent(self, user_login: str, client_id: str, scopes: frozenset[str]) -> None:
        with self.lock:
            self.consents.update((user_login, client_id, s) for s in scopes)

    def has_consent(self, user_login: str, client_id: str, scopes: frozenset[str]) -> bool:
        with self.lock:
            return all((user_login, client_id, s) in self.consents for s in scopes)

    def device_by_user_code(self, user_code: str) -> DeviceFlow | None:
        wanted = "".join(user_code.split()).replace("-", "").upper()
        with self.lock:
            return next((d for d in self.devices.values() if d.user_code == wanted), None)

    def revoke_user(self, user_login: str) -> int:
        """Revoke every grant and browser session of a user; returns how many grants were live."""
        with self.lock:
            live = [g for g in self.grants.values() if g.user_login == user_login and not g.revoked]
            for grant in live:
                grant.revoked = True
            self.sessions = {sid: login for sid, login in self.sessions.items() if login != user_login}
            return len(live)
