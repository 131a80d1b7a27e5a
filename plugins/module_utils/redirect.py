# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The redirect URI, and the sign-in response that comes back to it, in whatever shape the user pasted."""

from __future__ import annotations

import hmac
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError, authorize_error

NATIVE_CLIENT = "https://login.microsoftonline.com/common/oauth2/nativeclient"
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
_MAX_LENGTH = 256
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_LINE_BREAKS = re.compile(r"[\t\r\n]")
# The parameters whose value decides the outcome; the others are informational.
_SINGLE = ("code", "state", "error")


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
    # isprintable() is false for every whitespace but the space, and for control characters.
    if not _https_or_loopback(uri) or "#" in uri or len(uri) > _MAX_LENGTH or " " in uri or not uri.isprintable():
        raise OneDriveError(
            "redirect_uri must be an https URL, or http://localhost or http://127.0.0.1 with optional port and path,"
            f" without fragment, whitespace or control characters, at most {_MAX_LENGTH} characters, and registered"
            f" for the app exactly; for example {NATIVE_CLIENT}.",
            "invalid_option",
        )
    return uri


def parse_response(pasted: str) -> dict[str, str]:
    """The parameters of a sign-in response, from the address-bar URL, its query string or fragment, or a
    form_post body, with any surrounding whitespace, line breaks inside, or one more percent-encoding.

    Fails when code, state or error appears twice with different values: which one the service sent is
    unknowable, and taking either would let an appended parameter override the real one.
    """
    # As browsers do (WHATWG URL standard), drop tabs and line breaks anywhere: a response copied from a
    # wrapped terminal or mail line holds them, and a URL never does.
    text = _LINE_BREAKS.sub("", pasted).strip()
    if "=" not in text and "%3d" in text.lower():
        # Percent-encoded once more as a whole, as when copied out of another URL's query.
        text = unquote(text)
    if _URL.match(text):
        # Split by hand rather than with urlsplit, which rejects a malformed host the parameters do not need.
        before_fragment, _hash, fragment = text.partition("#")
        pairs = parse_qsl(before_fragment.partition("?")[2]) + parse_qsl(fragment)
    else:
        pairs = parse_qsl(text.lstrip("?#"))
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in _SINGLE and params.get(name, value) != value:
            raise OneDriveError(
                f"response_url holds more than one {name} with different values; paste the address the browser"
                " showed after sign-in, unchanged.",
                "invalid_option",
            )
        params[name] = value
    return params


def _utf8(text: str) -> bytes:
    # A str may hold lone surrogates, which strict UTF-8 refuses: they must compare unequal, not crash.
    return text.encode("utf-8", "surrogatepass")


def code_from_response(pasted: str, state: str | None = None) -> str:
    """The authorization code in a pasted sign-in response, after checking its state when one is expected.

    An error redirect fails with Microsoft's explanation; no token request is needed to know it failed.
    """
    params = parse_response(pasted)
    if state is not None and not hmac.compare_digest(_utf8(params.get("state", "")), _utf8(state)):
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
