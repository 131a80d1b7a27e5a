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


def code_from_response(pasted: str, state: str | None = None, redirect_uri: str | None = None) -> str:
    """The authorization code in a pasted sign-in response, after checking its state when one is expected and,
    when the response is a whole address and ``redirect_uri`` is given, that it is at the redirect URI's origin.

    An error redirect fails with Microsoft's explanation; no token request is needed to know it failed.
    """
    text = _unquoted(pasted)
    params = parse_response(text)
    if _URL.match(text):
        _check_address(text, params, redirect_uri)
    if state is not None:
        _check_state(params, state)
    if "error" in params:
        raise authorize_error(params)
    if not params.get("code"):
        raise OneDriveError(
            "response_url holds no code: paste the whole address the browser showed after sign-in, or pass a bare"
            " code as code.",
            "invalid_option",
        )
    return params["code"]


# Quotes a shell or a form kept around the pasted text: '"https://..."'.
_QUOTES = re.compile(r"""^\s*(["'])(.*)\1\s*$""", re.DOTALL)


def _unquoted(pasted: str) -> str:
    text = pasted
    while True:
        quoted = _QUOTES.match(text)
        if not quoted:
            return text
        text = quoted.group(2)


def _check_state(params: dict[str, str], state: str) -> None:
    if "state" not in params and state:
        raise OneDriveError(
            "response_url holds no state, so it is not the whole address the browser showed after sign-in (a code"
            " alone is not enough): copy the whole address bar, which holds code=...&state=..., and paste that.",
            "invalid_option",
        )
    if not hmac.compare_digest(_utf8(params.get("state", "")), _utf8(state)):
        raise OneDriveError(
            "The response's state differs from the state of the sign-in: it was pasted from another sign-in, or"
            " forged. Sign in again with the URL from authorize_url and paste that response.",
            "state_mismatch",
        )


def _origin(uri: str) -> tuple[str, str, int | None]:
    parts = urlsplit(uri)
    return parts.scheme.lower(), (parts.hostname or ""), parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


def _check_address(address: str, params: dict[str, str], redirect_uri: str | None) -> None:
    """A whole address must be where the sign-in sends the browser back: the redirect URI's origin."""
    try:
        origin = _origin(address)
    except ValueError:
        origin = None
    if origin is not None and _SIGN_IN_PAGE.search(urlsplit(address).path) and "code" not in params and "error" not in params:
        raise _error_page(address, params)
    # An address whose host cannot be read is left to the state check: nothing says where it came from.
    if redirect_uri is None or origin is None or origin == _origin(redirect_uri):
        return
    raise OneDriveError(
        f"response_url is an address at {origin[0]}://{origin[1]}, but the sign-in sends the browser back to the redirect URI"
        f" {redirect_uri}: paste the address the browser showed after sign-in, or give redirect_uri as it was at"
        " sign-in.",
        "redirect_mismatch",
    )


# Microsoft shows its errors on the sign-in page itself when it cannot send the browser back at all.
_SIGN_IN_PAGE = re.compile(r"/oauth2(?:/v2\.0)?/authorize/?$")


def _error_page(address: str, params: dict[str, str]) -> OneDriveError:
    tenant = urlsplit(address).path.strip("/").split("/")[0] or "common"
    app = params.get("client_id", "(none given)")
    return OneDriveError(
        "response_url is the address of the sign-in page itself: Microsoft showed an error there instead of sending"
        " the browser back with a code. Read the error on that page. The usual ones: AADSTS700016, no app"
        f" {app} in tenant {tenant} (check client_id, tenant and cloud); AADSTS50011 or AADSTS500113, the redirect"
        " URI is not registered for the app; AADSTS50194, a single-tenant app signed in through common (give the"
        " tenant). Fix that, then sign in again with a new URL.",
        "invalid_option",
    )
