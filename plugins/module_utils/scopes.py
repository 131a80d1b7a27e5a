# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Scope lists: splitting, checking and comparing them the way the identity platform does.

Graph permissions come back either short (``Files.Read``) or as URIs on a Graph host
(``https://graph.microsoft.com/Files.Read``); both name the same permission, and names compare without
regard to case.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlsplit

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import CLOUDS
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

DEFAULT = ("offline_access", "User.Read", "Files.Read", "Files.Read.All")
OFFLINE_ACCESS = "offline_access"

_GRAPH_HOSTS = frozenset(urlsplit(graph).hostname for _login, graph in CLOUDS.values())
# RFC 6749 section 3.3: a scope token is printable ASCII except space, double quote and backslash.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def split(values: t.Iterable[str] | str) -> list[str]:
    """Scopes from a space separated string or a list whose items may themselves hold several."""
    if isinstance(values, str):
        values = [values]
    return [scope for value in values for scope in value.split()]


def normalise(scope: str) -> str:
    """``scope`` with a Graph resource prefix removed: ``https://graph.microsoft.com/Files.Read`` -> ``Files.Read``."""
    parts = urlsplit(scope)
    if parts.scheme == "https" and parts.hostname in _GRAPH_HOSTS and parts.path.count("/") == 1:
        return parts.path[1:]
    return scope


def _key(scope: str) -> str:
    return normalise(scope).casefold()


def unique(scopes: t.Iterable[str]) -> list[str]:
    """``scopes`` without repeats (compared normalised and regardless of case), in their first spelling."""
    seen: set[str] = set()
    result = []
    for scope in scopes:
        if _key(scope) not in seen:
            seen.add(_key(scope))
            result.append(scope)
    return result


def contains(scopes: t.Iterable[str], scope: str) -> bool:
    return _key(scope) in {_key(item) for item in scopes}


def missing(required: t.Iterable[str], granted: t.Iterable[str]) -> list[str]:
    """The required scopes that are not among the granted ones."""
    have = {_key(scope) for scope in granted}
    return [scope for scope in required if _key(scope) not in have]


def validate(values: t.Iterable[str] | str) -> list[str]:
    """The scopes in ``values``, split and without repeats; fails when there are none or one is malformed."""
    scopes = unique(split(values))
    bad = [scope for scope in scopes if not _SCOPE_TOKEN.fullmatch(scope)]
    if not scopes:
        raise OneDriveError(f"scopes must not be empty; the default is {' '.join(DEFAULT)}.", "invalid_option")
    if bad:
        # Name a few, shortened: the message must stay readable however much was pasted.
        shown = ", ".join(scope if len(scope) <= 40 else f"{scope[:40]}..." for scope in bad[:3])
        raise OneDriveError(
            f"scopes must be printable ASCII without quotes or backslashes; not {shown}.", "invalid_option"
        )
    return scopes


def granted(scope: str | None) -> list[str] | None:
    """The normalised scopes of a token response's ``scope`` value; None when the service did not say."""
    return unique(normalise(item) for item in scope.split()) if isinstance(scope, str) else None
