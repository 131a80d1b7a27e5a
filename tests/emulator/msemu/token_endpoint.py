"""POST /{tenant}/oauth2/v2.0/token: the authorization_code and refresh_token grants, and dispatch
to the device_code grant."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import devicecode, ids, scopes
from .audience import Authority, check_app, check_user, resolve
from .clientauth import authenticate
from .config import App
from .errors import OAuthError, already_redeemed, missing_parameter, not_consented, require_post
from .http import Request, Response, json_response, no_store
from .issuance import token_response
from .scopes import GRAPH_APP_ID, resource_scopes
from .signing import b64url
from .state import CODE_LIFETIME, REFRESH_INACTIVITY_LIMIT

if TYPE_CHECKING:
    from .emulator import Emulator

# Parameters whose values are secrets: remembered so leak tests can look for them.
SECRET_PARAMETERS = ("code", "refresh_token", "code_verifier", "client_secret", "device_code")


def token(emu: Emulator, request: Request, segment: str) -> Response:
    try:
        require_post(request.method)
        authority = resolve(emu.fixtures, segment)
        form = request.form()
        for name in SECRET_PARAMETERS:
            emu.store.remember_secret(form.get(name))
        grant_type = form.get("grant_type")
        if not grant_type:
            raise missing_parameter("grant_type")
        handler = GRANTS.get(grant_type)
        if handler is None:
            raise OAuthError("unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant_type}'.")
        app = authenticate(emu, request, form, authority)
        check_app(app, authority)
        with emu.store.lock:
            body = handler(emu, app, authority, form)
    except OAuthError as err:
        return emu.login_error(request, err)
    return no_store(json_response(200, body))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    if method == "S256":
        return b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest()) == challenge
    return verifier == challenge


def _authorization_code(emu: Emulator, app: App, authority: Authority, form: dict[str, str]) -> dict:
    code = form.get("code")
    if not code:
        raise missing_parameter("code")
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        raise missing_parameter("redirect_uri")
    record = emu.store.codes.get(code)
    if record is None:
        raise OAuthError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if record.client_id != app.client_id:
        raise OAuthError("invalid_grant", 70000, "The provided value for the 'code' parameter is not valid.")
    if emu.clock.now() - record.issued_at > CODE_LIFETIME:
        raise OAuthError("invalid_grant", 70008,
                         "The provided authorization code or refresh token has expired due to inactivity. "
                         "Send a new interactive authorization request for this user and resource.")
    if record.redeemed:
        raise already_redeemed()
    if redirect_uri != record.redirect_uri:
        raise OAuthError("invalid_grant", 50011,
                         f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                         "redirect URI used when requesting the authorization code.")
    if record.code_challenge:
        verifier = form.get("code_verifier")
        if not verifier:
            raise OAuthError("invalid_grant", 501481,
                             "The Code_Verifier does not match the code_challenge supplied in the authorization "
                             "request.")
        if not _pkce_matches(record.code_challenge, record.challenge_method, verifier):
            raise OAuthError("invalid_grant", 50148,
                             "The code_verifier does not match the code_challenge supplied in the authorization "
                             "request for PKCE.")
    user = emu.fixtures.user(record.user_login)
    check_user(app, authority, user)
    if form.get("scope"):
        scopes.parse(form["scope"], emu.fixtures.graph_scopes, app)
    record.redeemed = True
    grant = emu.store.new_grant(app.client_id, user.login, record.scopes)
    return token_response(emu, grant, record.scopes, nonce=record.nonce,
                          client_info=form.get("client_info") == "1")


def _refresh_token(emu: Emulator, app: App, authority: Authority, form: dict[str, str]) -> dict:
    raw = form.get("refresh_token")
    if not raw:
        raise missing_parameter("refresh_token")
    record = emu.store.refresh_tokens.get(raw)
    if record is None:
        raise OAuthError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    grant = emu.store.grants[record.grant_id]
    if grant.client_id != app.client_id:
        raise OAuthError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
    now = emu.clock.now()
    if now - record.issued_at > REFRESH_INACTIVITY_LIMIT:
        raise OAuthError("invalid_grant", 700082,
                         f"The refresh token has expired due to inactivity. The token was issued on "
                         f"{_iso(record.issued_at)} and was inactive for 90.00:00:00.")
    if record.rotated_out and emu.store.strict:
        # RFC 9700 refresh token rotation: replay of a rotated-out token revokes the whole family.
        grant.revoked = True
    if grant.revoked:
        raise OAuthError("invalid_grant", 50173,
                         "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                         "The user might have changed or reset their password. The grant was issued on "
                         f"'{_iso(grant.created_at)}' and the TokensValidFrom date (before which tokens are not "
                         f"valid) for this user is '{_iso(now)}'.")
    user = emu.fixtures.user(grant.user_login)
    check_user(app, authority, user)
    if user.mfa:
        raise OAuthError(
            "invalid_grant", 50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, "
            f"you must use multi-factor authentication to access '{GRAPH_APP_ID}'.",
            suberror="basic_action",
            claims=json.dumps({"access_token": {"capolids": {"essential": True, "values": [ids.guid()]}}}))
    requested = scopes.parse(form["scope"], emu.fixtures.graph_scopes, app) if form.get("scope") else grant.scopes
    if resource_scopes(requested) - grant.scopes:
        raise not_consented(app.client_id, app.name, suberror="consent_required")
    if not resource_scopes(requested):
        requested |= resource_scopes(grant.scopes)
    record.rotated_out = True
    return token_response(emu, grant, requested, client_info=form.get("client_info") == "1")


GRANTS = {
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
    devicecode.GRANT_TYPE: devicecode.redeem,
}
