"""Which endpoint a path names: its name in the request log and fault table, its group, its handler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from . import applications, authorize, control, devicecode, discovery, graph, signin, token_endpoint
from .http import Request, Response, text_response

if TYPE_CHECKING:
    from .emulator import Emulator

Handler = Callable[["Emulator", Request], Response]
CONTROL_PREFIX = "/_emulator/"
GRAPH_PREFIX = "/v1.0"

# Paths under /{tenant}/ -> endpoint name, handler taking the tenant segment.
_TENANT_ROUTES = {
    "v2.0/.well-known/openid-configuration": ("openid", discovery.openid_configuration),
    "discovery/v2.0/keys": ("keys", discovery.keys),
    "oauth2/v2.0/authorize": ("authorize", authorize.authorize),
    "oauth2/v2.0/token": ("token", token_endpoint.token),
    "oauth2/v2.0/devicecode": ("devicecode", devicecode.start),
    "oauth2/v2.0/logout": ("logout", signin.logout),
    "login": ("signin", signin.submit_login),
    "consent": ("consent", signin.submit_consent),
}
_GRAPH_ROUTES = {"/me": ("me", graph.me), "/me/drive": ("drive", graph.drive), "/$batch": ("batch", graph.batch)}


@dataclass(frozen=True)
class Route:
    endpoint: str
    group: str  # login | graph | control
    handler: Handler


def _not_found(emu: Emulator, request: Request) -> Response:
    return text_response(404, "Not Found")


def route(path: str) -> Route:
    if path.startswith(CONTROL_PREFIX):
        return Route("control", "control", control.handle)
    if path == GRAPH_PREFIX or path.startswith(GRAPH_PREFIX + "/"):
        rest = path[len(GRAPH_PREFIX):]
        directory_endpoint = applications.endpoint_of(rest)
        if directory_endpoint is not None:
            return Route(directory_endpoint, "graph", applications.handle)
        endpoint, handler = _GRAPH_ROUTES.get(rest.rstrip("/").lower(), ("unknown", graph.unknown))
        return Route(endpoint, "graph", handler)
    if path == devicecode.VERIFICATION_PATH:
        return Route("devicelogin", "login", devicecode.verification_page)
    segment, _, rest = path.lstrip("/").partition("/")
    found = _TENANT_ROUTES.get(rest.rstrip("/"))
    if not segment or found is None:
        return Route("unknown", "login", _not_found)
    endpoint, tenant_handler = found
    return Route(endpoint, "login", lambda emu, request: tenant_handler(emu, request, segment))
