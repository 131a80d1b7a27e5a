"""The forms behind the sign-in and consent pages (POST /{tenant}/login and /{tenant}/consent),
shared by the authorization-code flow and the device-code flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import pages
from .audience import Authority, check_user, resolve
from .authorize import SESSION_COOKIE, consent_page, error_redirect, issue_code
from .config import App
from .errors import OAuthError
from .http import Request, Response, html_response
from .state import SIGN_IN_LIFETIME, PendingSignIn

if TYPE_CHECKING:
    from .emulator import Emulator


def submit_login(emu: Emulator, request: Request, segment: str) -> Response:
    form = request.form()
    try:
        flow = _pending(emu, form)
        app, authority, requested = _party(emu, flow)
        user = emu.fixtures.user(form.get("login", ""))
        if user is None:
            raise OAuthError(
                "invalid_request", 50034,
                f"The user account {form.get('login', '')} does not exist in the '{authority.directory}' "
                "directory. To sign into this application, the account must be added to the directory.")
        check_user(app, authority, user)
    except OAuthError as err:
        return html_response(400, pages.error(err, emu.diagnostics(request)))
    sid = emu.store.new_session(user.login)
    with emu.store.lock:
        flow.user_login = user.login
    cookie = f"{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=None"
    if request.scheme == "https":
        cookie += "; Secure"
    return html_response(200, consent_page(flow, app, requested)).with_header("Set-Cookie", cookie)


def submit_consent(emu: Emulator, request: Request, segment: str) -> Response:
    form = request.form()
    diag = emu.diagnostics(request)
    try:
        flow = _pending(emu, form, signed_in=True)
    except OAuthError as err:
        return html_response(400, pages.error(err, diag))
    accepted = form.get("action") == "accept"
    app, _, requested = _party(emu, flow)
    if accepted:
        emu.store.consent(flow.user_login, app.client_id, requested)
    if flow.device is not None:
        with emu.store.lock:
            flow.device.user_login = flow.user_login
            flow.device.status = "approved" if accepted else "declined"
        return html_response(200, pages.device_done(app.name, accepted))
    auth = flow.authorize
    if not accepted:
        declined = OAuthError("access_denied", 65004, "User declined to consent to access the app.")
        return error_redirect(emu, auth.redirect_uri, auth.response_mode, auth.state, declined, diag,
                              subcode="cancel")
    return issue_code(emu, auth, flow.user_login, request.cookie(SESSION_COOKIE))


def _pending(emu: Emulator, form: dict[str, str], signed_in: bool = False) -> PendingSignIn:
    """The sign-in the form belongs to; a consent form uses it up."""
    with emu.store.lock:
        flow = emu.store.pending.get(form.get("flow", ""))
        usable = (flow is not None and emu.clock.now() - flow.created_at <= SIGN_IN_LIFETIME
                  and (flow.user_login is not None or not signed_in))
        if usable and signed_in:
            del emu.store.pending[flow.id]
    if not usable:
        raise OAuthError("invalid_request", 50089,
                         "Flow token expired - Authentication Failed. Have the user try signing-in again.")
    return flow


def _party(emu: Emulator, flow: PendingSignIn) -> tuple[App, Authority, frozenset[str]]:
    """The app, authority and scopes the user is signing in for."""
    if flow.authorize is not None:
        return flow.authorize.app, flow.authorize.authority, flow.authorize.scopes
    device = flow.device
    return emu.fixtures.app(device.client_id), resolve(emu.fixtures, device.authority_segment), device.scopes


def logout(emu: Emulator, request: Request, segment: str) -> Response:
    """End the browser session (post_logout_redirect_uri is not supported: nothing here needs it)."""
    sid = request.cookie(SESSION_COOKIE)
    with emu.store.lock:
        emu.store.sessions.pop(sid or "", None)
    return html_response(200, pages.signed_out()).with_header("Set-Cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0")
