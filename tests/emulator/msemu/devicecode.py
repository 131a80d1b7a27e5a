"""The device authorization grant: POST /{tenant}/oauth2/v2.0/devicecode, the /devicelogin page where
the user types the code, and the device_code grant at the token endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ids, pages, scopes
from .audience import Authority, check_app, check_user, registered_app, resolve
from .config import App
from .errors import OAuthError, already_redeemed, missing_parameter, require_post
from .http import Request, Response, html_response, json_response, no_store
from .issuance import token_response
from .state import DeviceFlow, PendingSignIn

if TYPE_CHECKING:
    from .emulator import Emulator

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
VERIFICATION_PATH = "/devicelogin"
SLOW_DOWN_STEP = 5


def start(emu: Emulator, request: Request, segment: str) -> Response:
    try:
        require_post(request.method)
        authority = resolve(emu.fixtures, segment)
        form = request.form()
        app = registered_app(emu.fixtures, form.get("client_id"), authority)
        check_app(app, authority)
        if not form.get("scope"):
            raise missing_parameter("scope")
        requested = scopes.parse(form["scope"], emu.fixtures.graph_scopes, app)
    except OAuthError as err:
        return emu.login_error(request, err)
    with emu.store.lock:
        user_code = ids.user_code()
        while emu.store.device_by_user_code(user_code):
            user_code = ids.user_code()
        flow = DeviceFlow(user_code, app.client_id, authority.segment, requested, emu.clock.now(),
                          emu.fixtures.device_code_expires_in, emu.fixtures.device_code_interval)
        device_code = emu.store.add_secret(emu.store.devices, "DAQABIQEAAAD", 180, flow)
    uri = emu.base_url + VERIFICATION_PATH
    return no_store(json_response(200, {
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": flow.expires_in,
        "interval": flow.interval,
        "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} "
                   "to authenticate.",
    }))


def verification_page(emu: Emulator, request: Request) -> Response:
    """GET shows the code entry form; POST (field otc) continues to the sign-in page."""
    if request.method != "POST":
        return html_response(200, pages.device_code_entry())
    flow = emu.store.device_by_user_code(request.form().get("otc", ""))
    with emu.store.lock:
        if flow is None or _expired(emu, flow):
            return html_response(400, pages.device_code_entry(
                "That code didn't work. Check the code and try again."))
        if flow.status != "pending":
            return html_response(400, pages.device_code_entry("That code has already been used."))
        sign_in = PendingSignIn(ids.guid(), flow.authority_segment, emu.clock.now(), device=flow)
        emu.store.pending[sign_in.id] = sign_in
    app = emu.fixtures.app(flow.client_id)
    return html_response(200, pages.sign_in(sign_in.authority_segment, sign_in.id, app.name, "",
                                            [u.login for u in emu.fixtures.users]))


def _expired(emu: Emulator, flow: DeviceFlow) -> bool:
    return emu.clock.now() - flow.issued_at > flow.expires_in


def redeem(emu: Emulator, app: App, authority: Authority, form: dict[str, str]) -> dict:
    """The device_code grant (the caller holds the store lock)."""
    device_code = form.get("device_code")
    if not device_code:
        raise missing_parameter("device_code")
    flow = emu.store.devices.get(device_code)
    if flow is None or flow.client_id != app.client_id:
        raise OAuthError("bad_verification_code", 70018,
                         "The provided value for the input parameter 'device_code' is not valid.")
    if _expired(emu, flow):
        raise OAuthError("expired_token", 70020,
                         "The provided value for the input parameter 'device_code' is not valid. "
                         "This device code has expired.")
    if flow.status == "declined":
        raise OAuthError("authorization_declined", 65004, "User declined to consent to access the app.")
    if flow.status == "redeemed":
        raise already_redeemed()
    if flow.status == "pending":
        now = emu.clock.now()
        too_fast = flow.last_poll is not None and now - flow.last_poll < flow.interval
        flow.last_poll = now
        if too_fast:
            flow.interval += SLOW_DOWN_STEP
            raise OAuthError("slow_down", 70016,
                             f"OAuth 2.0 device flow error. Polling too fast: wait {flow.interval} seconds "
                             "between requests.")
        raise OAuthError("authorization_pending", 70016,
                         "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
    user = emu.fixtures.user(flow.user_login)
    check_user(app, authority, user)
    flow.status = "redeemed"
    grant = emu.store.new_grant(app.client_id, user.login, flow.scopes)
    return token_response(emu, grant, flow.scopes, client_info=form.get("client_info") == "1")
