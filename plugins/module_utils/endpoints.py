# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where Microsoft lives: clouds, the tenant path segment, and the identity platform and Graph URLs."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from urllib.parse import SplitResult, quote, urlencode, urlsplit

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

# cloud -> (login base URL, Graph base URL)
CLOUDS = {
    "public": ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "usgov_dod": ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": ("https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn"),
}

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A verified domain: DNS labels only, so nothing in it can leave the URL's path segment.
_DOMAIN = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+")
_TENANT_ALIASES = ("common", "organizations", "consumers")


def validate_client_id(value: str) -> str:
    if not _GUID.fullmatch(value):
        raise OneDriveError(
            "client_id must be the application (client) ID of the app registration, a GUID such as"
            " 00000000-0000-0000-0000-000000000000.",
            "invalid_option",
        )
    return value


def validate_tenant(value: str) -> str:
    if value.lower() in _TENANT_ALIASES or _GUID.fullmatch(value) or _DOMAIN.fullmatch(value):
        return value
    raise OneDriveError(
        "tenant must be common, organizations, consumers, a tenant ID (GUID) or a domain name such as"
        " contoso.onmicrosoft.com.",
        "invalid_option",
    )


def _is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: traffic that never leaves the machine, so plain http exposes nothing."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_parts(value: str) -> SplitResult | None:
    """The parts of an absolute http(s) URL with a host and a usable port; None for anything else."""
    try:
        parts = urlsplit(value)
        port_valid = parts.port != 0  # reading .port raises ValueError for one that is not a number
    except ValueError:
        return None
    return parts if parts.scheme in ("http", "https") and parts.hostname and port_valid else None


def validate_base_url(value: str, option: str) -> str:
    """An absolute https URL (http only to a loopback host) without credentials, query or fragment, returned
    without its trailing slash."""
    parts = _url_parts(value)
    # Any userinfo, even a password alone (https://:secret@host), would go out as Basic credentials.
    if parts is None or "@" in parts.netloc or re.search(r"[?#\s]", value) or not value.isprintable():
        raise OneDriveError(
            f"{option} must be an absolute http or https URL without credentials, query or fragment, such as"
            " https://login.microsoftonline.com.",
            "invalid_option",
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        # Tokens, codes and secrets would cross the network readable by anyone on the way.
        raise OneDriveError(
            f"{option} must use https: plain http is allowed only for a loopback host (localhost, 127.0.0.0/8 or"
            " [::1]), such as a local emulator.",
            "invalid_option",
        )
    return value.rstrip("/")


@dataclasses.dataclass(frozen=True)
class Endpoints:
    """The identity platform URLs for one tenant, and Graph's base URL."""

    login_url: str
    graph_url: str
    tenant: str

    @property
    def _oauth2(self) -> str:
        return f"{self.login_url}/{self.tenant}/oauth2/v2.0"

    @property
    def authorize(self) -> str:
        return f"{self._oauth2}/authorize"

    @property
    def token(self) -> str:
        return f"{self._oauth2}/token"

    @property
    def devicecode(self) -> str:
        """Where a device authorization starts (RFC 8628's device authorization endpoint)."""
        return f"{self._oauth2}/devicecode"

    def authorize_url(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: list[str],
        state: str,
        code_challenge: str | None = None,
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> str:
        """The sign-in URL, every value percent-encoded (a space in scope becomes %20, never a raw space)."""
        query = dict(
            client_id=client_id, response_type="code", redirect_uri=redirect_uri, scope=" ".join(scopes), state=state
        )
        if code_challenge:
            query.update(code_challenge=code_challenge, code_challenge_method="S256")
        hints = dict(prompt=prompt, login_hint=login_hint, domain_hint=domain_hint)
        query.update((name, value) for name, value in hints.items() if value)
        return f"{self.authorize}?{urlencode(query, quote_via=quote)}"

    def graph(self, path: str) -> str:
        """A Graph v1.0 URL; ``path`` is relative to /v1.0, e.g. ``/me/drive`` or ``/$batch``."""
        return f"{self.graph_url}/v1.0{path}"


def endpoints(
    cloud: str = "public", tenant: str = "common", login_url: str | None = None, graph_url: str | None = None
) -> Endpoints:
    """The endpoints for a cloud, where explicit login_url and graph_url override the cloud's hosts."""
    if cloud not in CLOUDS:
        raise OneDriveError(f"cloud must be one of {', '.join(CLOUDS)}.", "invalid_option")
    cloud_login, cloud_graph = CLOUDS[cloud]
    return Endpoints(
        login_url=validate_base_url(login_url, "login_url") if login_url else cloud_login,
        graph_url=validate_base_url(graph_url, "graph_url") if graph_url else cloud_graph,
        tenant=validate_tenant(tenant),
    )
