"""Redirect URIs: matching against an app's registrations and delivering the authorize response."""

from __future__ import annotations

from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

from . import pages
from .config import App
from .http import Response, html_response, redirect

RESPONSE_MODES = ("query", "fragment", "form_post")


def _is_loopback_http(parts: SplitResult) -> bool:
    return parts.scheme == "http" and parts.hostname == "localhost"


def _normal_path(path: str) -> str:
    return path or "/"


def _well_formed(parts: SplitResult) -> bool:
    try:
        return (parts.port or 0) >= 0  # reading .port is what rejects a malformed one
    except ValueError:
        return False


def is_registered(app: App, redirect_uri: str) -> bool:
    """Exact, case-sensitive match, except that http://localhost ignores the port (RFC 8252)
    and an empty path equals "/"."""
    wanted = urlsplit(redirect_uri)
    if not _well_formed(wanted) or wanted.fragment:
        return False
    for registered in app.redirect_uris:
        known = urlsplit(registered)
        if _is_loopback_http(known) and _is_loopback_http(wanted):
            same_origin = True
        else:
            same_origin = (known.scheme, known.netloc) == (wanted.scheme, wanted.netloc)
        if same_origin and _normal_path(known.path) == _normal_path(wanted.path) and known.query == wanted.query:
            return True
    return False


def deliver(redirect_uri: str, response_mode: str, params: dict[str, str]) -> Response:
    """Send params back to the client the way response_mode asks; a path-less URI gains a "/"."""
    parts = urlsplit(redirect_uri)
    target = parts._replace(path=_normal_path(parts.path))
    if response_mode == "form_post":
        return html_response(200, pages.form_post(urlunsplit(target), params))
    encoded = urlencode(params)
    if response_mode == "fragment":
        return redirect(urlunsplit(target._replace(fragment=encoded)))
    query = f"{target.query}&{encoded}" if target.query else encoded
    return redirect(urlunsplit(target._replace(query=query)))
