# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The redirect URI, and the sign-in response that comes back to it, in whatever shape the user pasted."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlsplit

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError, authorize_error

NATIVE_CLIENT = "https://login.microsoftonline.com/common/oauth2/nativeclient"
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
_MAX_LENGTH = 256


def _https_or_loopback(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        port_valid = parts.port != 0  # reading .port raises ValueError for one that is not a number
    except ValueError:
        return False
    if not parts.hostname or not port_valid:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)


def validate_redirect_uri(uri: str) -> str:
    """Microsoft's rules: https, or http to a loopback host; no fragment; at most 256 characters."""
    if not _https_or_loopback(uri) or "#" in uri or len(uri) > _MAX_LENGTH or any(char.isspace() for char in uri):
        raise OneDriveError(
            "redirect_uri must be an https URL, or http://localhost or http://127.0.0.1 with optional port and path,"
            f" without fragment, at most {_MAX_LENGTH} characters, and registered for the app exactly; for example"
            f" {NATIVE_CLIENT}.",
            "invalid_option",
        )
    return uri


def parse_response(pasted: str) -> dict[str, str]:
    """The parameters of a sign-in response, from the address-bar URL, its query string or fragment, or a
    form_post body, with any surrounding whitespace."""
    text = pasted.strip()
    if "://" in text:
        parts = urlsplit(text)
        pairs = parse_qsl(parts.query) + parse_qsl(parts.fragment)
    else:
        pairs = parse_qsl(text.lstrip("?#"))
    return dict(pairs)


def code_from_response(pasted: str, state: str | None = None) -> str:
    """The authorization code in a pasted sign-in response, after checking its state when one is expected.

    An error redirect fails with Microsoft's explanation; no token request is needed to know it failed.
    """
    params = parse_response(pasted)
    if state is not None and not hmac.compare_digest(params.get("state", "").encode(), state.encode()):
        raise OneDriveError(
            "The response's state differs from the state of the sign-in: it was pasted from another sign-in, or"
            " forged. Sign in again with the URL from authorize_url and paste that response.",
            "state_mismatch",
        )
    if "error" in params:
        raise authorize_error(params)
    if not params.get("code"):
        raise OneDriveError(
            "response_url holds no code: paste the whole address the browser showed after sign-in, or pass a bare"
            " code as code.",
            "invalid_option",
        )
    return params["code"]
