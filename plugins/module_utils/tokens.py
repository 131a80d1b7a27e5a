# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Token endpoint requests (authorization_code, refresh_token and device_code grants) and what their answers hold."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import typing as t

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import Endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import (
    DEVICE_CODE_GRANT,
    OneDriveError,
    token_error,
)
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import format_timestamp, utcnow
from ansible_collections.onedrive.connection.plugins.module_utils.transport import (
    Transport,
    json_body,
    parse_retry_after,
)

# The id_token claims worth showing; they are informational, since the token is not validated.
ID_TOKEN_CLAIMS = ("tid", "oid", "preferred_username", "name")


def id_token_claims(id_token: t.Any) -> dict[str, t.Any] | None:
    """Selected claims of an id_token, decoded without validating its signature; None when unreadable."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    return {name: claims[name] for name in ID_TOKEN_CLAIMS if name in claims}


@dataclasses.dataclass(frozen=True)
class TokenSet:
    """A successful token response. The tokens stay out of repr so that no traceback can show them."""

    access_token: str = dataclasses.field(repr=False)
    refresh_token: str = dataclasses.field(repr=False)
    token_type: str
    expires_in: int | None
    # When the access token expires, counted from the moment the request was sent, so never too late.
    expires_at: datetime.datetime | None
    granted_scopes: list[str] | None
    id_token_claims: dict[str, t.Any] | None

    @property
    def tenant_id(self) -> str | None:
        return (self.id_token_claims or {}).get("tid")

    def result(self) -> dict[str, t.Any]:
        """The values a module returns; the two tokens are secrets the caller must protect."""
        return dict(
            refresh_token=self.refresh_token,
            access_token=self.access_token,
            token_type=self.token_type,
            expires_in=self.expires_in,
            access_token_expires_at=format_timestamp(self.expires_at) if self.expires_at else None,
            granted_scopes=self.granted_scopes,
            tenant_id=self.tenant_id,
            id_token_claims=self.id_token_claims,
        )


def header_safe(token: str) -> bool:
    """Whether ``token`` can travel in an HTTP header as it is: visible ASCII only, as every OAuth token is.

    Anything else is refused before sending: a space or line break would change the request, and a character
    outside Latin-1 (a typographic apostrophe pasted in) makes the HTTP library raise mid-request.
    """
    return bool(token) and all("!" <= char <= "~" for char in token)


def _unexpected(what: str) -> OneDriveError:
    return OneDriveError(
        f"The token endpoint answered 200 but {what}; check login_url and any proxy between.", "unexpected_response"
    )


class UnusableAccessToken(OneDriveError):
    """A token answer whose access token no HTTP header can carry, though its refresh token is fine.

    The service has rotated the refresh token all the same, and may revoke the grant when the old one comes back,
    so ``tokens`` holds the new one, with an empty access token and no expiry.
    """

    def __init__(self, tokens: TokenSet) -> None:
        error = _unexpected("with an access token holding characters no HTTP header can carry")
        super().__init__(error.msg, error.reason)
        self.tokens = tokens


def _expires_in(value: t.Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _token_set(body: t.Any, sent_at: datetime.datetime) -> TokenSet:
    if not isinstance(body, dict):
        raise _unexpected("not with a JSON object")
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise _unexpected("without an access token")
    if str(body.get("token_type", "")).lower() != "bearer":
        raise _unexpected("with a token type other than Bearer")
    if not isinstance(body.get("refresh_token"), str) or not body["refresh_token"]:
        raise OneDriveError(
            "Microsoft returned no refresh token, so the grant lacks the offline_access scope; authorize again with"
            " offline_access among the scopes (authorize_url adds it unless told otherwise).",
            "missing_scope",
        )
    if not header_safe(body["refresh_token"]):
        raise _unexpected("with a refresh token holding characters no HTTP request can carry")
    expires_in = _expires_in(body.get("expires_in"))
    tokens = TokenSet(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        token_type=body["token_type"],
        expires_in=expires_in,
        expires_at=None if expires_in is None else sent_at + datetime.timedelta(seconds=expires_in),
        granted_scopes=scope_list.granted(body.get("scope")),
        id_token_claims=id_token_claims(body["id_token"]) if "id_token" in body else None,
    )
    if not header_safe(tokens.access_token):
        raise UnusableAccessToken(dataclasses.replace(tokens, access_token="", expires_in=None, expires_at=None))
    return tokens


class Client:
    """One app registration talking to one tenant's token endpoint; stateless, so threads may share it."""

    def __init__(
        self, transport: Transport, endpoints: Endpoints, client_id: str, client_secret: str | None = None
    ) -> None:
        self._transport = transport
        self.endpoints = endpoints
        self.client_id = client_id
        self._client_secret = client_secret

    def redeem_code(
        self, code: str, redirect_uri: str, code_verifier: str | None = None, scopes: list[str] | None = None
    ) -> TokenSet:
        """Exchange an authorization code; redirect_uri and code_verifier must be those of the sign-in."""
        form = dict(grant_type="authorization_code", code=code, redirect_uri=redirect_uri)
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._request(form, scopes, secrets=(code, code_verifier))

    def redeem_device_code(self, device_code: str) -> TokenSet:
        """One poll of the device authorization grant; see device_flow.poll for the loop around it."""
        form = dict(grant_type=DEVICE_CODE_GRANT, device_code=device_code)
        return self._request(form, None, secrets=(device_code,))

    def refresh(self, refresh_token: str, scopes: list[str] | None = None) -> TokenSet:
        """Redeem a refresh token; the TokenSet holds the rotated one, which replaces it."""
        form = dict(grant_type="refresh_token", refresh_token=refresh_token)
        return self._request(form, scopes, secrets=(refresh_token,))

    def _request(self, form: dict[str, str], scopes: list[str] | None, secrets: tuple[str | None, ...]) -> TokenSet:
        form["client_id"] = self.client_id
        if scopes:
            form["scope"] = " ".join(scopes)
        if self._client_secret:
            form["client_secret"] = self._client_secret
        sent_at = utcnow()
        # The token endpoint never redirects, and the form carries the code or refresh token and any secret.
        response = self._transport.request("POST", self.endpoints.token, data=form, redirects=0)
        body = json_body(response)
        if response.status_code != 200:
            raise token_error(
                response.status_code,
                body,
                grant=form["grant_type"],
                scopes_sent=bool(scopes),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                secrets=(*secrets, self._client_secret),
            )
        return _token_set(body, sent_at)
