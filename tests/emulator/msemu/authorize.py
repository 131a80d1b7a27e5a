"""GET /{tenant}/oauth2/v2.0/authorize: validation, single sign-on, and the code or error redirect."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import ids, pages, scopes
from .audience import Authority, check_app, check_user, registered_app, resolve
from .config import App
from .errors import Diagnostics, OAuthError, error_uri, missing_parameter, not_consented
from .http import Request, Response, html_response
from .issuance import code_prefix, encode_client_info
from .redirects import RESPONSE_MODES, deliver, is_registered
from .state import AuthCode, PendingSignIn

if TYPE_CHECKING:
    from .emulator import Emulator

SESSION_COOKIE = "ESTSAUTH"
PROMPTS = (None, "login", "none", "consent", "select_account")
CHALLENGE_METHODS = ("S256", "plain")


@dataclass(frozen=True)
class AuthorizeRequest:
    app: App
    authority: Authority
    redirect_uri: str
    response_mode: str
    state: str | None
    scopes: frozenset[str]
    prompt: str | None
    login_hint: str
    code_challenge: str | None
    challenge_method: str
    nonce: str | None
    client_info: bool


def authorize(emu: Emulator, request: Request, segment: str) -> Response:
    params = request.query if request.method == "GET" else request.form()
    diag = emu.diagnostics(request)
    try:
        authority, app, redirect_uri = _target(emu, segment, params)
    except OAuthError as err:
        # Without a trusted redirect URI Microsoft shows the error instead of redirecting.
        return html_response(400, pages.error(err, diag))
    response_mode = params.get("response_mode") or "query"
    state = params.get("state")
    try:
        if response_mode not in RESPONSE_MODES:
            response_mode = "query"
            raise OAuthError("invalid_request", 70007,
                             f"The response_mode '{params['response_mode']}' is not supported.")
        auth = _validate(emu, app, authority, redirect_uri, response_mode, state, params)
    except OAuthError as err:
        return error_redirect(emu, redirect_uri, response_mode, state, err, diag)
    return _start(emu, request, auth, diag)


def _target(emu: Emulator, segment: str, params: dict[str, str]) -> tuple[Authority, App, str]:
    authority = resolve(emu.fixtures, segment)
    app = registered_app(emu.fixtures, params.get("client_id"), authority)
    check_app(app, authority)
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        if not app.redirect_uris:
            raise OAuthError("invalid_request", 500113, "No reply address is registered for the application.")
        return authority, app, app.redirect_uris[0]
    if not is_registered(app, redirect_uri):
        raise OAuthError(
            "invalid_request", 50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
            f"configured for the application '{app.client_id}'. Make sure the redirect URI sent in the request "
            "matches one added to your application in the Azure portal.")
    return authority, app, redirect_uri


def _validate(emu: Emulator, app: App, authority: Authority, redirect_uri: str, response_mode: str,
              state: str | None, params: dict[str, str]) -> AuthorizeRequest:
    response_type = params.get("response_type")
    if not response_type:
        raise missing_parameter("response_type")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", 700054,
                         f"response_type '{response_type}' is not enabled for the application.")
    if not params.get("scope"):
        raise missing_parameter("scope")
    requested = scopes.parse(params["scope"], emu.fixtures.graph_scopes, app)
    prompt = params.get("prompt") or None
    if prompt not in PROMPTS:
        raise OAuthError("invalid_request", 90023, f"Invalid prompt value '{prompt}'.")
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or "plain"
    if method not in CHALLENGE_METHODS:
        raise OAuthError("invalid_request", 90023, f"Invalid code_challenge_method '{method}'.")
    if challenge is None and "code_challenge_method" in params:
        raise missing_parameter("code_challenge")
    if challenge is not None and not 43 <= len(challenge) <= 128:
        raise OAuthError("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
    return AuthorizeRequest(
        app=app, authority=authority, redirect_uri=redirect_uri, response_mode=response_mode,
        state=state, scopes=requested, prompt=prompt, login_hint=params.get("login_hint", ""),
        code_challenge=challenge, challenge_method=method, nonce=params.get("nonce") or None,
        client_info=params.get("client_info") == "1",
    )


def _start(emu: Emulator, request: Request, auth: AuthorizeRequest, diag: Diagnostics) -> Response:
    sid = request.cookie(SESSION_COOKIE)
    user = emu.fixtures.user(emu.store.session_user(sid) or "")
    if user is not None:
        try:
            check_user(auth.app, auth.authority, user)
        except OAuthError:
            user = None
    hint_matches = not auth.login_hint or (user is not None and user.login == auth.login_hint.lower())
    consented = user is not None and emu.store.has_consent(user.login, auth.app.client_id, auth.scopes)
    if auth.prompt == "none":
        if user is None or not hint_matches:
            return error_redirect(emu, auth.redirect_uri, auth.response_mode, auth.state, OAuthError(
                "login_required", 50058, "A silent sign-in request was sent but no user is signed in."), diag)
        if not consented:
            return error_redirect(emu, auth.redirect_uri, auth.response_mode, auth.state,
                                  not_consented(auth.app.client_id, auth.app.name, "consent_required"), diag)
        return issue_code(emu, auth, user.login, sid)
    # Single sign-on: a session cookie (and no prompt) stands in for the sign-in page.
    sso = user is not None and auth.prompt is None and hint_matches
    if sso and consented:
        return issue_code(emu, auth, user.login, sid)
    flow = PendingSignIn(ids.guid(), auth.authority.segment, emu.clock.now(), authorize=auth,
                         user_login=user.login if sso else None)
    with emu.store.lock:
        emu.store.pending[flow.id] = flow
    if sso:
        return html_response(200, consent_page(flow, auth.app, auth.scopes))
    return html_response(200, pages.sign_in(
        flow.authority_segment, flow.id, auth.app.name, auth.login_hint, [u.login for u in emu.fixtures.users]))


def consent_page(flow: PendingSignIn, app: App, requested: frozenset[str]) -> str:
    return pages.consent(flow.authority_segment, flow.id, app.name, flow.user_login,
                         scopes.format_scope(requested, full_uris=False).split())


def issue_code(emu: Emulator, auth: AuthorizeRequest, user_login: str, sid: str | None) -> Response:
    user = emu.fixtures.user(user_login)
    record = AuthCode(auth.app.client_id, user_login, auth.scopes, auth.redirect_uri, auth.code_challenge,
                      auth.challenge_method, auth.nonce, emu.clock.now())
    code = emu.store.add_secret(emu.store.codes, code_prefix(user), 180, record)
    params = {"code": code}
    if auth.client_info:
        params["client_info"] = encode_client_info(user)
    if auth.state is not None:
        params["state"] = auth.state
    params["session_state"] = str(uuid.uuid5(uuid.NAMESPACE_OID, sid or code))
    return deliver(auth.redirect_uri, auth.response_mode, params)


def error_redirect(emu: Emulator, redirect_uri: str, response_mode: str, state: str | None,
                   err: OAuthError, diag: Diagnostics, subcode: str | None = None) -> Response:
    params = {"error": err.error}
    if subcode:
        params["error_subcode"] = subcode
    params["error_description"] = diag.describe(err)
    params["error_uri"] = error_uri(emu.base_url, err.code)
    if state is not None:
        params["state"] = state
    return deliver(redirect_uri, response_mode, params)
