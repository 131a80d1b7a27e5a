"""OpenID Connect discovery: /{tenant}/v2.0/.well-known/openid-configuration and the JWKS it names."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .audience import issuer_tenant, resolve
from .errors import OAuthError
from .http import Request, Response, json_response

if TYPE_CHECKING:
    from .emulator import Emulator

CACHE_HEADERS = [("Cache-Control", "max-age=86400, private"), ("Access-Control-Allow-Origin", "*")]


def openid_configuration(emu: Emulator, request: Request, segment: str) -> Response:
    try:
        authority = resolve(emu.fixtures, segment)
    except OAuthError as err:
        return emu.login_error(request, err)
    base = emu.base_url
    tenant_path = f"{base}/{authority.path_segment}"
    document = {
        "token_endpoint": f"{tenant_path}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{tenant_path}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tenant(emu.fixtures, authority)}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{tenant_path}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{tenant_path}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{tenant_path}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
                             "preferred_username", "name", "tid", "ver", "email", "oid"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "tenant_region_scope": None,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": urlsplit(base).netloc,
        "rbac_url": "https://pas.windows.net",
    }
    response = json_response(200, document)
    response.headers += CACHE_HEADERS
    return response


def keys(emu: Emulator, request: Request, segment: str) -> Response:
    try:
        authority = resolve(emu.fixtures, segment)
    except OAuthError as err:
        return emu.login_error(request, err)
    response = json_response(200, emu.signer.jwks(f"{emu.base_url}/{issuer_tenant(emu.fixtures, authority)}/v2.0"))
    response.headers += CACHE_HEADERS
    return response
