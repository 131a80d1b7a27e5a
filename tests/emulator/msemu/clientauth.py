"""Client authentication at the token endpoint: public clients send no secret, confidential ones must."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from .audience import Authority, registered_app
from .config import App
from .errors import OAuthError
from .http import Request

if TYPE_CHECKING:
    from .emulator import Emulator


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """HTTP Basic per RFC 6749 2.3.1: both halves are form-url-encoded before base64."""
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret) if sep else None


def authenticate(emu: Emulator, request: Request, form: dict[str, str], authority: Authority) -> App:
    basic_id, basic_secret = _basic_credentials(request.header("Authorization"))
    client_id = form.get("client_id") or basic_id
    secret = form.get("client_secret") or basic_secret
    emu.store.remember_secret(secret)
    app = registered_app(emu.fixtures, client_id, authority)
    if secret:
        if app.allow_public_client_flows:
            raise OAuthError("invalid_client", 700025,
                             "Client is public so neither 'client_assertion' nor 'client_secret' should be "
                             "presented.", status=401)
        if not app.secret or not hmac.compare_digest(secret.encode(), app.secret.encode()):
            raise OAuthError("invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the request is the "
                             f"client secret value, not the client secret ID, for a secret added to app "
                             f"'{app.client_id}'.", status=401)
    elif not app.allow_public_client_flows:
        raise OAuthError("invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or "
                         "'client_secret'.", status=401)
    return app
