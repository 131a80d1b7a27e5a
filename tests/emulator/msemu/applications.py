"""Graph's application registrations: /v1.0/applications (with the uniqueName upsert), the service principals
of Microsoft Graph and of registered apps, and /v1.0/oauth2PermissionGrants (tenant-wide admin consent).

An application registered here is served by the login endpoints (authorize, devicecode, token) as soon as Graph
has answered, with exactly its audience, redirect URIs, public-client setting and Graph permissions: the login
side looks apps up through Fixtures.app, which sees Fixtures.registered. The fixtures' own apps stand for apps
registered elsewhere and are not listed here.

Sources, per behaviour:
- Upsert: https://learn.microsoft.com/en-us/graph/api/application-upsert (PATCH /applications(uniqueName='x');
  with "Prefer: create-if-missing" 201 Created and the object, else 204 No Content; without the header a missing
  one is 404; delegated permission Application.ReadWrite.All).
- Get, list, update, delete: https://learn.microsoft.com/en-us/graph/api/application-get,
  .../application-list ($filter eq on appId, uniqueName, displayName), .../application-update (204),
  .../application-delete (204; the home tenant's service principal goes with it).
- Graph's service principal and its delegated permissions (oauth2PermissionScopes), by the alternate key
  appId: https://learn.microsoft.com/en-us/graph/api/serviceprincipal-get and
  https://learn.microsoft.com/en-us/graph/permissions-reference (the ids are Graph's data, never constants
  a client may assume: the emulator's differ from Microsoft's on purpose, so a client that hard-codes them
  fails here).
- Admin consent: https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-post (clientId and
  resourceId are service principal object ids; consentType AllPrincipals; DelegatedPermissionGrant.ReadWrite.All
  and, for a user, a role that may grant consent for Graph) and .../oauth2permissiongrant-update.
- Refusals: 403 Authorization_RequestDenied "Insufficient privileges to complete the operation." for a token
  without the permission (https://github.com/MicrosoftDocs/azure-docs/issues/86507,
  https://github.com/Azure/azure-cli/issues/27551); 404 Request_ResourceNotFound for an unknown key; 400
  Request_BadRequest for unknown or read-only properties and invalid values, such as a Graph permission id that
  does not exist ("Invalid value specified for property 'resourceAccess' of resource 'RequiredResourceAccess'.")
  or an audience with personal accounts whose api.requestedAccessTokenVersion is not 2 (400
  InvalidAccessTokenVersion "One or more properties contains invalid values.": azure-ad-b2c/Scripts#2).
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from . import ids
from .config import AUDIENCES, App, Fixtures, User
from .errors import GraphError
from .graph import _authenticate, _method_not_allowed
from .http import Request, Response
from .scopes import GRAPH_APP_ID, OIDC_SCOPES
from .state import AccessToken

if TYPE_CHECKING:
    from .emulator import Emulator

# Stable within the emulator, different from Microsoft's, derived from the names.
_NAMESPACE = uuid.UUID("6f0b7c1e-3d2a-4b5c-9e8f-0a1b2c3d4e5f")
GRAPH_SP_OBJECT_ID = str(uuid.uuid5(_NAMESPACE, "service-principal:" + GRAPH_APP_ID))
# Delegated permissions only an administrator may consent to (Graph's "type": "Admin").
ADMIN_SCOPES = frozenset({"Application.Read.All", "Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All",
                          "Directory.Read.All"})

READ_APPS = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"})
WRITE_APPS = frozenset({"Application.ReadWrite.All"})
READ_GRANTS = frozenset({"Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All"})
WRITE_GRANTS = frozenset({"DelegatedPermissionGrant.ReadWrite.All"})
# The roles that may grant tenant-wide consent to Microsoft Graph's delegated permissions
# (https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/grant-admin-consent, prerequisites).
CONSENT_ROLES = frozenset({"Global Administrator", "Privileged Role Administrator", "Cloud Application Administrator",
                           "Application Administrator"})
PERSONAL_AUDIENCES = frozenset({"AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"})

# Properties of an application this emulator keeps; a PATCH naming anything else is refused, as Graph does.
_WRITABLE = frozenset({"displayName", "description", "notes", "tags", "signInAudience", "isFallbackPublicClient",
                       "identifierUris", "api", "publicClient", "web", "spa", "requiredResourceAccess", "appRoles",
                       "optionalClaims", "info", "groupMembershipClaims"})
_READ_ONLY = frozenset({"id", "appId", "createdDateTime", "publisherDomain", "uniqueName", "deletedDateTime"})

_KEY = r"'((?:[^']|'')*)'"
_PATHS: list[tuple[re.Pattern, str]] = [(re.compile(pattern, re.IGNORECASE), kind) for pattern, kind in (
    (r"/applications/?", "applications"),
    (rf"/applications\(uniqueName={_KEY}\)", "application:uniqueName"),
    (rf"/applications\(appId={_KEY}\)", "application:appId"),
    (r"/applications/([^/()]+)", "application:id"),
    (r"/servicePrincipals/?", "servicePrincipals"),
    (rf"/servicePrincipals\(appId={_KEY}\)", "servicePrincipal:appId"),
    (r"/servicePrincipals/([^/()]+)", "servicePrincipal:id"),
    (r"/oauth2PermissionGrants/?", "grants"),
    (r"/oauth2PermissionGrants/([^/()]+)", "grant:id"),
)]
_FILTER_CLAUSE = re.compile(rf"\s*(\w+)\s+eq\s+{_KEY}\s*", re.IGNORECASE)


_ENDPOINTS = {"applications": "applications", "application": "applications", "servicePrincipals": "servicePrincipals",
              "servicePrincipal": "servicePrincipals", "grants": "oauth2PermissionGrants",
              "grant": "oauth2PermissionGrants"}


def endpoint_of(path: str) -> str | None:
    """The request log's and fault table's name for a Graph path (relative to /v1.0) served here, else None."""
    return next((_ENDPOINTS[kind.split(":")[0]] for pattern, kind in _PATHS if pattern.fullmatch(path)), None)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def _bad(message: str) -> GraphError:
    return GraphError(400, "Request_BadRequest", message)


def _not_found(key: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried reference-property objects are not "
                      "present.")


class Directory:
    """The application objects, service principals and delegated permission grants of every tenant."""

    def __init__(self, fixtures: Fixtures) -> None:
        self.fixtures = fixtures
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.applications: dict[str, dict] = {}  # object id -> application (with "_tenant")
            self.service_principals: dict[str, dict] = {}  # object id -> service principal (with "_tenant")
            self.grants: dict[str, dict] = {}  # id -> oAuth2PermissionGrant (with "_tenant")
            self.fixtures.registered.clear()

    # Graph's own service principal, the same in every tenant here.
    def graph_service_principal(self) -> dict:
        scopes = []
        for name in (*self.fixtures.graph_scopes, *OIDC_SCOPES):
            kind = "Admin" if name in ADMIN_SCOPES else "User"
            scopes.append({
                "adminConsentDescription": f"Allows the app to use {name} on behalf of the signed-in user.",
                "adminConsentDisplayName": name,
                "id": scope_id(name),
                "isEnabled": True,
                "type": kind,
                "userConsentDescription": None if kind == "Admin" else f"Allows the app to use {name} for you.",
                "userConsentDisplayName": None if kind == "Admin" else name,
                "value": name,
            })
        return {"id": GRAPH_SP_OBJECT_ID, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph",
                "servicePrincipalType": "Application", "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
                "accountEnabled": True, "appRoles": [], "oauth2PermissionScopes": scopes}

    def scope_names(self) -> dict[str, str]:
        """Graph permission id -> name."""
        return {scope_id(name): name for name in (*self.fixtures.graph_scopes, *OIDC_SCOPES)}

    def publish(self, application: dict) -> None:
        """Make the login endpoints serve the application as it now is."""
        names = self.scope_names()
        permissions = [names[access["id"]] for entry in application["requiredResourceAccess"]
                       if entry.get("resourceAppId") == GRAPH_APP_ID
                       for access in entry.get("resourceAccess", ())
                       if access.get("type") == "Scope" and access.get("id") in names]
        redirect_uris = (*application["publicClient"]["redirectUris"], *application["web"]["redirectUris"])
        self.fixtures.registered[application["appId"]] = App(
            client_id=application["appId"],
            name=application["displayName"],
            audience=application["signInAudience"],
            home_tenant_id=application["_tenant"],
            allow_public_client_flows=bool(application["isFallbackPublicClient"]),
            secret=None,
            redirect_uris=tuple(redirect_uris),
            api_permissions=tuple(name for name in permissions if name not in OIDC_SCOPES),
        )


def scope_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "graph-scope:" + name))


def handle(emu: Emulator, request: Request) -> Response:
    path = request.path[len("/v1.0"):]
    kind, key = next(((kind, match.groups()[0].replace("''", "'") if match.groups() else None)
                      for pattern, kind in _PATHS for match in [pattern.fullmatch(path)] if match), (None, None))
    try:
        token = _authenticate(emu, request)
        user = emu.fixtures.user(token.user_login)
        handler = _HANDLERS.get((kind, request.method))
        if handler is None:
            raise _method_not_allowed()
        with emu.directory.lock:
            status, body = handler(emu, request, token, user, key)
    except GraphError as err:
        return emu.graph_error(request, err)
    if body is None:
        response = emu.graph_json(request, status, {})
        response.body, response.content_type = b"", None
        return response
    return emu.graph_json(request, status, body)


def _need(token: AccessToken, allowed: frozenset[str]) -> None:
    if not token.scopes & allowed:
        raise _denied()


def _public(record: dict, select: str | None = None) -> dict:
    body = {name: copy.deepcopy(value) for name, value in record.items() if not name.startswith("_")}
    if select:
        wanted = {name.strip() for name in select.split(",")} | {"id"}
        body = {name: value for name, value in body.items() if name in wanted}
    return body


def _filter(request: Request) -> list[tuple[str, str]]:
    raw = request.query.get("$filter")
    if not raw:
        return []
    clauses = re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE)
    result = []
    for clause in clauses:
        match = _FILTER_CLAUSE.fullmatch(clause)
        if match is None:
            raise _bad(f"Invalid filter clause: {clause}")
        result.append((match.group(1), match.group(2).replace("''", "'")))
    return result


def _matches(record: dict, clauses: list[tuple[str, str]]) -> bool:
    lowered = {name.lower(): value for name, value in record.items()}
    return all(str(lowered.get(name.lower())).lower() == value.lower() for name, value in clauses)


def _collection(emu: Emulator, context: str, records: list[dict], request: Request) -> dict:
    clauses = _filter(request)
    select = request.query.get("$select")
    return {"@odata.context": f"{emu.base_url}/v1.0/$metadata#{context}",
            "value": [_public(record, select) for record in records if _matches(record, clauses)]}


# Applications.

def _tenant_apps(emu: Emulator, user: User) -> list[dict]:
    return [a for a in emu.directory.applications.values() if a["_tenant"] == user.tenant_id]


def _find_app(emu: Emulator, user: User, kind: str, key: str) -> dict | None:
    field = {"application:uniqueName": "uniqueName", "application:appId": "appId", "application:id": "id"}[kind]
    return next((a for a in _tenant_apps(emu, user) if str(a.get(field) or "").lower() == key.lower()), None)


def _new_application(emu: Emulator, user: User, unique_name: str | None) -> dict:
    tenant = emu.fixtures.tenant_by_id(user.tenant_id)
    return {
        "_tenant": user.tenant_id,
        "id": ids.guid(),
        "appId": ids.guid(),
        "uniqueName": unique_name,
        "displayName": None,
        "description": None,
        "notes": None,
        "tags": [],
        "createdDateTime": _iso(emu.clock.now()),
        "publisherDomain": tenant.domains[0] if tenant and tenant.domains else None,
        "signInAudience": "AzureADMyOrg",
        "isFallbackPublicClient": None,
        "identifierUris": [],
        "groupMembershipClaims": None,
        "api": {"acceptMappedClaims": None, "knownClientApplications": [], "oauth2PermissionScopes": [],
                "preAuthorizedApplications": [], "requestedAccessTokenVersion": None},
        "publicClient": {"redirectUris": []},
        "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": [],
                "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False}},
        "spa": {"redirectUris": []},
        "requiredResourceAccess": [],
        "appRoles": [],
        "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None, "supportUrl": None,
                 "termsOfServiceUrl": None},
        "optionalClaims": None,
        "keyCredentials": [],
        "passwordCredentials": [],
    }


def _apply(emu: Emulator, application: dict, changes: object, creating: bool) -> dict:
    """``application`` with a PATCH body applied and validated; the stored one is left alone on failure."""
    if not isinstance(changes, dict):
        raise _bad("The request body must be a JSON object.")
    updated = copy.deepcopy(application)
    for name, value in changes.items():
        if name in _READ_ONLY:
            if name == "uniqueName" and value == application.get("uniqueName"):
                continue
            raise _bad(f"Property '{name}' is read-only and cannot be set.")
        if name not in _WRITABLE:
            raise _bad(f"Property '{name}' does not exist on type 'microsoft.graph.application'.")
        if isinstance(value, dict) and isinstance(updated.get(name), dict):
            # Graph merges the properties of a complex value it is given into the stored one.
            updated[name] = {**updated[name], **copy.deepcopy(value)}
        else:
            updated[name] = copy.deepcopy(value)
    _validate(emu, updated, creating)
    return updated


def _validate(emu: Emulator, application: dict, creating: bool) -> None:
    if not isinstance(application.get("displayName"), str) or not application["displayName"].strip():
        raise _bad("Property 'displayName' is required." if creating else "Invalid value for property 'displayName'.")
    audience = application.get("signInAudience")
    if audience not in AUDIENCES:
        raise _bad(f"Invalid value '{audience}' for property 'signInAudience'.")
    if audience in PERSONAL_AUDIENCES and (application.get("api") or {}).get("requestedAccessTokenVersion") != 2:
        # Apps that admit personal accounts must take v2.0 access tokens, in this shape:
        # https://github.com/azure-ad-b2c/Scripts/issues/2 and
        # https://github.com/microsoftgraph/microsoft-graph-docs/issues/21685
        raise GraphError(400, "InvalidAccessTokenVersion", "One or more properties contains invalid values.")
    if not isinstance(application.get("isFallbackPublicClient"), (bool, type(None))):
        raise _bad("Invalid value for property 'isFallbackPublicClient'.")
    for platform in ("publicClient", "web", "spa"):
        uris = (application.get(platform) or {}).get("redirectUris")
        if not isinstance(uris, list) or not all(_valid_redirect(uri, audience) for uri in uris):
            raise _bad(f"One or more properties contains invalid values. ({platform}.redirectUris)")
    _validate_access(emu, application.get("requiredResourceAccess"))


def _valid_redirect(uri: object, audience: str) -> bool:
    if not isinstance(uri, str) or not 0 < len(uri) <= 256:
        return False
    parts = urlsplit(uri)
    if parts.fragment or (parts.query and audience in PERSONAL_AUDIENCES):
        return False
    if parts.scheme == "http":
        return parts.hostname in ("localhost", "127.0.0.1")
    # https with a host, or a custom scheme of a native app (msal{client id}://auth).
    return bool(parts.netloc) if parts.scheme == "https" else bool(re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme))


def _validate_access(emu: Emulator, entries: object) -> None:
    invalid = _bad("Invalid value specified for property 'resourceAccess' of resource 'RequiredResourceAccess'.")
    if not isinstance(entries, list):
        raise invalid
    known = emu.directory.scope_names()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("resourceAccess"), list):
            raise invalid
        for access in entry["resourceAccess"]:
            if not isinstance(access, dict) or access.get("type") not in ("Scope", "Role"):
                raise invalid
            graph_scope = entry.get("resourceAppId") == GRAPH_APP_ID and access["type"] == "Scope"
            if graph_scope and access.get("id") not in known:
                raise invalid


def _store_app(emu: Emulator, application: dict) -> None:
    emu.directory.applications[application["id"]] = application
    emu.directory.publish(application)


def _list_apps(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need(token, READ_APPS)
    return 200, _collection(emu, "applications", _tenant_apps(emu, user), request)


def _create_app(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need(token, WRITE_APPS)
    body = _json(request)
    unique_name = body.pop("uniqueName", None) if isinstance(body, dict) else None
    if unique_name is not None and _find_app(emu, user, "application:uniqueName", unique_name):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                         "Another object with the same value for property uniqueName already exists.")
    application = _apply(emu, _new_application(emu, user, unique_name), body, creating=True)
    _store_app(emu, application)
    return 201, _public(application)


def _get_app(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None, kind: str = ""):
    _need(token, READ_APPS)
    application = _find_app(emu, user, kind, key)
    if application is None:
        raise _not_found(key)
    return 200, _public(application, request.query.get("$select"))


def _patch_app(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None, kind: str = ""):
    _need(token, WRITE_APPS)
    body = _json(request)
    application = _find_app(emu, user, kind, key)
    if application is None:
        upsert = kind == "application:uniqueName" and "create-if-missing" in (request.header("Prefer") or "").lower()
        if not upsert:
            raise _not_found(key)
        created = _apply(emu, _new_application(emu, user, key), body, creating=True)
        _store_app(emu, created)
        return 201, _public(created)
    _store_app(emu, _apply(emu, application, body, creating=False))
    return 204, None


def _delete_app(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None, kind: str = ""):
    _need(token, WRITE_APPS)
    application = _find_app(emu, user, kind, key)
    if application is None:
        raise _not_found(key)
    directory = emu.directory
    del directory.applications[application["id"]]
    directory.fixtures.registered.pop(application["appId"], None)
    for sp_id in [i for i, sp in directory.service_principals.items()
                  if sp["appId"] == application["appId"] and sp["_tenant"] == application["_tenant"]]:
        del directory.service_principals[sp_id]
        for grant_id in [g for g, grant in directory.grants.items() if grant["clientId"] == sp_id]:
            del directory.grants[grant_id]
    return 204, None


def _json(request: Request) -> object:
    try:
        return request.json()
    except ValueError:
        raise _bad("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                   "valid JSON format.") from None


# Service principals.

def _tenant_sps(emu: Emulator, user: User) -> list[dict]:
    own = [sp for sp in emu.directory.service_principals.values() if sp["_tenant"] == user.tenant_id]
    return [emu.directory.graph_service_principal(), *own]


def _find_sp(emu: Emulator, user: User, field: str, key: str) -> dict | None:
    return next((sp for sp in _tenant_sps(emu, user) if str(sp.get(field)).lower() == key.lower()), None)


def _list_sps(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need(token, READ_APPS)
    return 200, _collection(emu, "servicePrincipals", _tenant_sps(emu, user), request)


def _get_sp(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None, field: str = ""):
    _need(token, READ_APPS)
    sp = _find_sp(emu, user, field, key)
    if sp is None:
        raise _not_found(key)
    return 200, _public(sp, request.query.get("$select"))


def _create_sp(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need(token, WRITE_APPS)
    body = _json(request)
    app_id = body.get("appId") if isinstance(body, dict) else None
    if not isinstance(app_id, str) or not app_id:
        raise _bad("Property 'appId' is required.")
    app = emu.fixtures.app(app_id)
    if app is None:
        raise _bad(f"The appId '{app_id}' of the service principal does not reference a valid application object.")
    if _find_sp(emu, user, "appId", app_id):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                         "The service principal name is already present for the tenant.")
    sp = {"_tenant": user.tenant_id, "id": ids.guid(), "appId": app.client_id, "displayName": app.name,
          "servicePrincipalType": "Application", "appOwnerOrganizationId": app.home_tenant_id,
          "signInAudience": app.audience, "accountEnabled": True, "oauth2PermissionScopes": [], "appRoles": []}
    emu.directory.service_principals[sp["id"]] = sp
    return 201, _public(sp)


# Delegated permission grants.

def _need_consent_right(token: AccessToken, user: User) -> None:
    _need(token, WRITE_GRANTS)
    if user.personal or not set(user.roles) & CONSENT_ROLES:
        raise _denied()


def _tenant_grants(emu: Emulator, user: User) -> list[dict]:
    return [g for g in emu.directory.grants.values() if g["_tenant"] == user.tenant_id]


def _checked_scope(emu: Emulator, scope: object) -> str:
    known = set(emu.directory.scope_names().values())
    names = scope.split() if isinstance(scope, str) else None
    if not names or any(name not in known for name in names):
        raise _bad("Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant'.")
    return " ".join(names)


def _list_grants(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need(token, READ_GRANTS)
    return 200, _collection(emu, "oauth2PermissionGrants", _tenant_grants(emu, user), request)


def _create_grant(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need_consent_right(token, user)
    body = _json(request)
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    client = _find_sp(emu, user, "id", str(body.get("clientId")))
    resource = _find_sp(emu, user, "id", str(body.get("resourceId")))
    consent_type = body.get("consentType")
    if client is None or resource is None or consent_type not in ("AllPrincipals", "Principal"):
        raise _bad("One or more properties contains invalid values.")
    principal = body.get("principalId") if consent_type == "Principal" else None
    scope = _checked_scope(emu, body.get("scope"))
    for grant in _tenant_grants(emu, user):
        if (grant["clientId"], grant["resourceId"], grant["consentType"], grant["principalId"]) == (
                client["id"], resource["id"], consent_type, principal):
            raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.")
    grant = {"_tenant": user.tenant_id, "id": ids.opaque("", 32), "clientId": client["id"],
             "consentType": consent_type, "principalId": principal, "resourceId": resource["id"], "scope": scope}
    emu.directory.grants[grant["id"]] = grant
    return 201, _public(grant)


def _patch_grant(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need_consent_right(token, user)
    grant = next((g for g in _tenant_grants(emu, user) if g["id"] == key), None)
    if grant is None:
        raise _not_found(key)
    body = _json(request)
    if not isinstance(body, dict) or set(body) - {"scope"}:
        raise _bad("Only the property 'scope' of an oAuth2PermissionGrant can be updated.")
    grant["scope"] = _checked_scope(emu, body.get("scope"))
    return 204, None


def _delete_grant(emu: Emulator, request: Request, token: AccessToken, user: User, key: str | None):
    _need_consent_right(token, user)
    grant = next((g for g in _tenant_grants(emu, user) if g["id"] == key), None)
    if grant is None:
        raise _not_found(key)
    del emu.directory.grants[grant["id"]]
    return 204, None


def _keyed(handler: Callable, kind: str) -> Callable:
    return lambda emu, request, token, user, key: handler(emu, request, token, user, key, kind)


_HANDLERS: dict[tuple[str | None, str], Callable] = {
    ("applications", "GET"): _list_apps,
    ("applications", "POST"): _create_app,
    ("servicePrincipals", "GET"): _list_sps,
    ("servicePrincipals", "POST"): _create_sp,
    ("servicePrincipal:appId", "GET"): _keyed(_get_sp, "appId"),
    ("servicePrincipal:id", "GET"): _keyed(_get_sp, "id"),
    ("grants", "GET"): _list_grants,
    ("grants", "POST"): _create_grant,
    ("grant:id", "PATCH"): _patch_grant,
    ("grant:id", "DELETE"): _delete_grant,
}
for _kind in ("application:uniqueName", "application:appId", "application:id"):
    _HANDLERS[(_kind, "GET")] = _keyed(_get_app, _kind)
    _HANDLERS[(_kind, "PATCH")] = _keyed(_patch_app, _kind)
    _HANDLERS[(_kind, "DELETE")] = _keyed(_delete_app, _kind)
