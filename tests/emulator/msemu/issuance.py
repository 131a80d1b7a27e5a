"""Minting token responses: access, refresh and ID tokens in the shape of the v2.0 token endpoint."""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

from .config import App, User
from .scopes import GRAPH_RESOURCE, format_scope, resource_scopes
from .signing import b64url, b64url_json
from .state import AccessToken, Grant, RefreshToken

if TYPE_CHECKING:
    from .emulator import Emulator

ID_TOKEN_LIFETIME = 3600


def code_prefix(user: User) -> str:
    """Microsoft's codes and refresh tokens start M.C for personal accounts, 1.A for work ones."""
    return "M.C5" if user.personal else "1.AX"


def encode_client_info(user: User) -> str:
    return b64url_json({"uid": user.oid, "utid": user.tenant_id})


def token_response(emu: Emulator, grant: Grant, scopes: frozenset[str], *,
                   nonce: str | None = None, client_info: bool = False) -> dict:
    """A success body for `scopes` (a subset of the grant's), storing what it issues."""
    user = emu.fixtures.user(grant.user_login)
    app = emu.fixtures.app(grant.client_id)
    now = emu.clock.now()
    expires_in = random.randint(3600, 5399)
    with_refresh = "offline_access" in grant.scopes
    style = emu.store.scope_answer
    shown = scopes | {"offline_access"} if with_refresh else scopes
    shown = (shown - {"offline_access"} if style.omit_offline_access else shown) | frozenset(style.extra)
    full_uris = not user.personal if style.full_uris is None else style.full_uris
    body = {
        "token_type": "Bearer",
        "scope": format_scope(shown, full_uris=full_uris, case=style.case),
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": _access_token(emu, app, user, resource_scopes(scopes), now, expires_in),
    }
    if with_refresh:
        body["refresh_token"] = emu.store.add_secret(
            emu.store.refresh_tokens, code_prefix(user), 160, RefreshToken(grant.id, now))
    if "openid" in scopes:
        body["id_token"] = _id_token(emu, app, user, scopes, now, nonce)
        emu.store.remember_secret(body["id_token"])
    if client_info:
        body["client_info"] = encode_client_info(user)
    return body


def _access_token(emu: Emulator, app: App, user: User, scopes: frozenset[str], now: float,
                  expires_in: int) -> str:
    record = AccessToken(app.client_id, user.login, scopes, now + expires_in)
    if user.personal:
        # Consumer access tokens are opaque (compact tickets), never JWTs.
        return emu.store.add_secret(emu.store.access_tokens, "EwB4A8l6BAAU", 384, record)
    token = emu.signer.jwt({
        "aud": GRAPH_RESOURCE.rstrip("/"),
        "iss": f"https://sts.windows.net/{user.tenant_id}/",
        "iat": int(now), "nbf": int(now), "exp": int(now) + expires_in,
        "app_displayname": app.name, "appid": app.client_id,
        "name": user.display_name, "oid": user.oid, "tid": user.tenant_id,
        "scp": " ".join(sorted(scopes)), "upn": user.login, "unique_name": user.login,
        "uti": b64url(random.randbytes(16)), "ver": "1.0",
    })
    with emu.store.lock:
        emu.store.access_tokens[token] = record
        emu.store.remember_secret(token)
    return token


def _id_token(emu: Emulator, app: App, user: User, scopes: frozenset[str], now: float,
              nonce: str | None) -> str:
    claims = {
        "aud": app.client_id,
        "iss": f"{emu.base_url}/{user.tenant_id}/v2.0",
        "iat": int(now), "nbf": int(now), "exp": int(now) + ID_TOKEN_LIFETIME,
        "name": user.display_name,
        "oid": user.oid,
        "preferred_username": user.login,
        # pairwise subject: stable per user and app, different across apps
        "sub": b64url(hashlib.sha256(f"{user.oid}:{app.client_id}".encode()).digest()),
        "tid": user.tenant_id,
        "ver": "2.0",
    }
    if "email" in scopes and user.mail:
        claims["email"] = user.mail
    if nonce:
        claims["nonce"] = nonce
    return emu.signer.jwt(claims)
