# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The device authorization grant (RFC 8628): starting one at the devicecode endpoint, and polling the token
endpoint until the user has signed in on another device."""

from __future__ import annotations

import dataclasses
import datetime
import time
import typing as t

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import Endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError, token_error
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import format_timestamp, utcnow
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client, TokenSet, header_safe
from ansible_collections.onedrive.connection.plugins.module_utils.transport import (
    Transport,
    json_body,
    parse_retry_after,
)

# RFC 8628, section 3.2: a server that sends no interval means 5 seconds.
DEFAULT_INTERVAL = 5
# RFC 8628, section 3.5: slow_down adds 5 seconds to the interval, for this and every later poll.
SLOW_DOWN_STEP = 5
# Microsoft's device codes live 15 minutes (expires_in 900); the bound when nothing else says how long.
DEFAULT_LIFETIME = 900
# The answers that mean "not yet" (RFC 8628, section 3.5); every other answer ends the polling.
PENDING = "authorization_pending"
SLOW_DOWN = "slow_down"


@dataclasses.dataclass(frozen=True)
class DeviceAuthorization:
    """A started device authorization. The device code stays out of repr so that no traceback can show it."""

    device_code: str = dataclasses.field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    message: str
    expires_in: int
    expires_at: datetime.datetime
    interval: int

    def result(self) -> dict[str, t.Any]:
        result = dict(
            device_code=self.device_code,
            user_code=self.user_code,
            verification_uri=self.verification_uri,
            message=self.message,
            expires_in=self.expires_in,
            expires_at=format_timestamp(self.expires_at),
            interval=self.interval,
        )
        if self.verification_uri_complete:
            result["verification_uri_complete"] = self.verification_uri_complete
        return result


def _unexpected(what: str) -> OneDriveError:
    return OneDriveError(
        f"The devicecode endpoint answered 200 but {what}; check login_url and any proxy between.",
        "unexpected_response",
    )


def _whole_number(value: t.Any) -> int | None:
    """A positive whole number, also from text ("900"), as older endpoints (Azure AD v1) send them."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _shown_text(value: t.Any) -> str | None:
    """A server's text fit to show in a terminal or AWX: printable, so it cannot move the cursor or recolour."""
    return value.strip() if isinstance(value, str) and value.strip() and value.isprintable() else None


def _web_address(value: t.Any) -> str | None:
    text = _shown_text(value)
    return text if text and text.lower().startswith(("https://", "http://")) and " " not in text else None


def composed_message(user_code: str, verification_uri: str, verification_uri_complete: str | None = None) -> str:
    """What to tell the user when the server sent no message of its own (RFC 8628 defines none)."""
    if verification_uri_complete:
        return (
            f"To sign in, open {verification_uri_complete} in a web browser, or open {verification_uri} and enter"
            f" the code {user_code}."
        )
    return f"To sign in, open {verification_uri} in a web browser and enter the code {user_code}."


def _authorization(body: t.Any, sent_at: datetime.datetime) -> DeviceAuthorization:
    if not isinstance(body, dict):
        raise _unexpected("not with a JSON object")
    device_code = body.get("device_code")
    if not isinstance(device_code, str) or not header_safe(device_code):
        raise _unexpected("without a usable device_code")
    user_code = _shown_text(body.get("user_code"))
    if user_code is None:
        raise _unexpected("without a user_code")
    # verification_url is how Azure AD's v1 endpoint (and Google) spell RFC 8628's verification_uri.
    verification_uri = _web_address(body.get("verification_uri")) or _web_address(body.get("verification_url"))
    if verification_uri is None:
        raise _unexpected("without a verification_uri to send the user to")
    expires_in = _whole_number(body.get("expires_in"))
    if expires_in is None:
        raise _unexpected("without expires_in, which RFC 8628 requires")
    complete = _web_address(body.get("verification_uri_complete"))
    return DeviceAuthorization(
        device_code=device_code,
        user_code=user_code,
        verification_uri=verification_uri,
        verification_uri_complete=complete,
        message=_shown_text(body.get("message")) or composed_message(user_code, verification_uri, complete),
        expires_in=expires_in,
        expires_at=sent_at + datetime.timedelta(seconds=expires_in),
        interval=_whole_number(body.get("interval")) or DEFAULT_INTERVAL,
    )


def start(transport: Transport, endpoints: Endpoints, client_id: str, scopes: list[str]) -> DeviceAuthorization:
    """Start a device authorization for ``scopes``. Public clients only, so no client secret is sent."""
    sent_at = utcnow()
    form = dict(client_id=client_id, scope=" ".join(scopes))
    # Not idempotent: each request starts another authorization, and the endpoint never redirects.
    response = transport.request("POST", endpoints.devicecode, data=form, redirects=0)
    body = json_body(response)
    if response.status_code != 200:
        raise token_error(
            response.status_code,
            body,
            grant="device_authorization",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return _authorization(body, sent_at)


def poll(
    client: Client,
    device_code: str,
    *,
    interval: int = DEFAULT_INTERVAL,
    wait: float = DEFAULT_LIFETIME,
    expires: bool = False,
    sleep: t.Callable[[float], None] = time.sleep,
    clock: t.Callable[[], float] = time.monotonic,
) -> TokenSet:
    """Poll the token endpoint every ``interval`` seconds until the user has signed in, for at most ``wait``
    seconds; ``expires`` says whether the wait ends where the device code expires.

    Each poll is a token request like any other: the transport retries throttling and connections that never
    reached the service, and never resends a poll that may have arrived (the service may have issued the tokens
    to it, and the device code is used up then). authorization_pending keeps polling, slow_down adds
    SLOW_DOWN_STEP seconds to the interval for good; any other answer ends it with its classification.
    """
    deadline = clock() + max(wait, 0)
    while True:
        try:
            return client.redeem_device_code(device_code)
        except OneDriveError as exc:
            if exc.error == SLOW_DOWN:
                interval += SLOW_DOWN_STEP
            elif exc.error != PENDING:
                raise
        remaining = deadline - clock()
        if remaining <= 0:
            raise _gave_up(wait, expires)
        # A last poll right at the deadline: the user may have finished in the meantime.
        sleep(min(interval, remaining))


def _gave_up(wait: float, expires: bool) -> OneDriveError:
    if expires:
        return OneDriveError(
            "The device code expired before anyone finished signing in with it; start again (device_code), show the"
            " new message, and sign in within its expires_in.",
            "code_expired",
        )
    return OneDriveError(
        f"Nobody finished signing in within wait_timeout ({wait:g} s). The device code stays usable until its"
        " expires_at: poll again with the same device_code, or start again (device_code).",
        "sign_in_timeout",
    )
