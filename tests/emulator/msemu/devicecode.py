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
# RFC 8628, section 3.5: slow_down means "add 5 seconds to the interval, for this and every later poll".
SLOW_DOWN_STEP = 5
# What an answer may leave out under the control API's device_answer: RFC 8628 (section 3.2) makes `interval`
# optional (the client then waits 5 s) and knows no `message`, which is Microsoft's addition.
OPTIONAL_FIELDS = ("interval", "message")


def device_answer(args: dict) -> dict:
    """The control API's description of how /devicecode answers, checked."""
    omit = tuple(args.get("omit") or ())
    if not set(omit) <= set(OPTIONAL_FIELDS):
        raise ValueError(f"omit takes only {', '.join(OPTIONAL_FIELDS)}")
    answer: dict = {"omit": omit, "complete": bool(args.get("complete"))}
    for name in ("interval", "expires_in"):
        if args.get(name) is not None:
            value = int(args[name])
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
            answer[name] = value
    return answer


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
        shape = dict(emu.store.device_answer)
        user_code = ids.user_code()
        while emu.store.device_by_user_code(user_code):
            user_code = ids.user_code()
        # Microsoft: expires_in 900 (15 minutes) and interval 5 ("Device authorization response").
        flow = DeviceFlow(user_code, app.client_id, authority.segment, requested, emu.clock.now(),
                          shape.get("expires_in", emu.fixtures.device_code_expires_in),
                          shape.get("interval", emu.fixtures.device_code_interval))
        device_code = emu.store.add_secret(emu.store.devices, "DAQABIQEAAAD", 180, flow)
    uri = emu.base_url + VERIFICATION_PATH
    body = {
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": flow.expires_in,
        "interval": flow.interval,
        # Microsoft's own wording of `message`, a field RFC 8628 does not define.
        "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} "
                   "to authenticate.",
    }
    if shape.get("complete"):
        # RFC 8628, section 3.3.1; Microsoft says it does not send verification_uri_complete.
        body["verification_uri_complete"] = f"{uri}?otc={user_code}"
    for name in shape.get("omit", ()):
        body.pop(name, None)
    return no_store(json_response(200, body))


def verification_page(emu: Emulator, request: Request) -> Response:
    """GET shows the code entry form; POST (field otc) continues to the sign-in page."""
    if request.method != "POST":
        # verification_uri_complete carries the code: the page comes with it filled in (RFC 8628, 3.3.1).
        return html_response(200, pages.device_code_entry(prefill=request.query.get("otc", "")))
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
    # Microsoft's expected errors of the device code flow (v2-oauth2-device-code, "Expected errors"):
    # bad_verification_code, expired_token, authorization_declined and authorization_pending; AADSTS70020 is what
    # clients in the field report for an expired device code (azure-cli #22251, azure-sdk-for-python #32375).
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
        # Microsoft does not document slow_down; RFC 8628 (section 3.5) does, for a client that polls faster
        # than the interval. A little slack stands for the network's jitter between two polls on time.
        too_fast = flow.last_poll is not None and now - flow.last_poll < flow.interval - 0.5
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
