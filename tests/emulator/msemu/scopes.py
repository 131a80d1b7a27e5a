"""Scope strings: parse requests into canonical names, format them back the way Microsoft does."""

from __future__ import annotations

from .config import App
from .errors import invalid_scope

GRAPH_RESOURCE = "https://graph.microsoft.com/"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Order in which Microsoft lists the OpenID Connect scopes after the resource ones.
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")

USER_READ_SCOPES = frozenset({"User.Read", "User.ReadWrite", "User.ReadBasic.All"})
# Scopes that reach the user's whole drive (the app-folder scope does not).
DRIVE_SCOPE_PREFIXES = ("Files.", "Sites.")
APP_FOLDER_SCOPE = "Files.ReadWrite.AppFolder"


def parse(raw: str, known: tuple[str, ...], app: App) -> frozenset[str]:
    """Canonical scope names (Graph ones unprefixed); OAuthError invalid_scope for anything unknown."""
    by_lower = {name.lower(): name for name in known}
    result: set[str] = set()
    for item in raw.split():
        lower = item.lower()
        if lower in OIDC_SCOPES:
            result.add(lower)
            continue
        name, prefixed = _strip_graph_prefix(item)
        if prefixed and name == ".default":
            result.update(app.api_permissions)
        elif name.lower() in by_lower and (prefixed or "/" not in name):
            result.add(by_lower[name.lower()])
        else:
            raise invalid_scope(item)
    return frozenset(result)


def _strip_graph_prefix(item: str) -> tuple[str, bool]:
    for prefix in (GRAPH_RESOURCE, GRAPH_APP_ID + "/"):
        if item.lower().startswith(prefix):
            return item[len(prefix):], True
    return item, False


def resource_scopes(scopes: frozenset[str]) -> frozenset[str]:
    return frozenset(s for s in scopes if s not in OIDC_SCOPES)


def format_scope(scopes: frozenset[str], full_uris: bool, case: str | None = None) -> str:
    """Resource scopes first, then the OpenID ones; full URIs are what work accounts get back.

    The answer's `scope` varies in the field (PROTOCOL.md, "Answers that surprise"): offline_access left out
    although a refresh token came back (https://github.com/Cloudgeni-ai/opengeni/pull/2459), more scopes than
    asked, short names or full URIs, other casing. ScopeAnswer (state.py) switches each on.
    """
    def cased(name: str) -> str:
        return name.upper() if case == "upper" else name.lower() if case == "lower" else name

    resource = [cased(s) for s in sorted(resource_scopes(scopes))]
    if full_uris:
        resource = [GRAPH_RESOURCE + s for s in resource]
    return " ".join(resource + [cased(s) for s in OIDC_SCOPES if s in scopes])


def allows_me(scopes: frozenset[str]) -> bool:
    return bool(scopes & USER_READ_SCOPES)


def allows_drive(scopes: frozenset[str]) -> bool:
    return any(s.startswith(DRIVE_SCOPE_PREFIXES) and s != APP_FOLDER_SCOPE for s in scopes)
