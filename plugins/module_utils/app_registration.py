# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An application registration made to be as declared, through Microsoft Graph v1.0, with an administrator's
delegated access token: the properties the collection's app needs, and nothing else of the registration.

Graph's own documentation is the source of every request here: the upsert by the alternate key uniqueName
(``PATCH /applications(uniqueName='x')`` with ``Prefer: create-if-missing``: 201 with the new object, 204 for
an update), the delegated permission ids from Microsoft Graph's service principal (``oauth2PermissionScopes``),
and tenant-wide admin consent as an ``oAuth2PermissionGrant`` with ``consentType`` ``AllPrincipals``.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from urllib.parse import quote, urlencode

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import Endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError, redact, status_error
from ansible_collections.onedrive.connection.plugins.module_utils.transport import (
    Transport,
    json_body,
    parse_retry_after,
)

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
# Audiences that admit personal accounts, which Graph accepts only with v2.0 access tokens.
PERSONAL_AUDIENCES = ("AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount")
AUDIENCES = ("AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount")
# What each kind of request needs, named in a refusal so the administrator knows what to consent to.
WRITE_APPS = "Application.ReadWrite.All"
GRANT_CONSENT = "DelegatedPermissionGrant.ReadWrite.All"
# Kept to what goes into a URL path unescaped, so the key the module sends is the key Graph stores.
_UNIQUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
# The OpenID Connect scopes, which the admin consent URL leaves out (they are not resource permissions).
_OIDC = ("offline_access", "openid", "profile", "email")


def validate_unique_name(value: str) -> str:
    if not _UNIQUE_NAME.fullmatch(value):
        raise OneDriveError(
            "unique_name must be 1 to 120 letters, digits, '.', '_' or '-', starting with a letter or digit, such as"
            " onedrive-plugin; it is the key the registration is found by, so keep it the same on every run.",
            "invalid_option",
        )
    return value


@dataclasses.dataclass(frozen=True)
class Declaration:
    """The registration as the module's options declare it."""

    unique_name: str
    display_name: str
    sign_in_audience: str
    redirect_uris: tuple[str, ...]
    allow_public_client_flows: bool
    scopes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Permission:
    name: str  # as Graph spells it
    id: str


class GraphAdmin:
    """The Graph requests of an application registration, each failure classified with the permission it needs."""

    def __init__(self, transport: Transport, endpoints: Endpoints, access_token: str) -> None:
        self._transport = transport
        self._endpoints = endpoints
        self._token = access_token

    def request(
        self,
        method: str,
        path: str,
        what: str,
        needs: str,
        body: t.Any = None,
        headers: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> t.Any:
        """The parsed answer (None for 204, or for 404 when ``missing_ok``); a failure raises OneDriveError."""
        all_headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        all_headers.update(headers or {})
        response = self._transport.request(
            method,
            self._endpoints.graph(path),
            json=body,
            headers=all_headers,
            # Sending the same PATCH or DELETE twice leaves the same registration; a POST could create two.
            idempotent=method in ("GET", "PATCH", "DELETE"),
        )
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status == 204:
            return None
        parsed = json_body(response)
        if 200 <= status < 300 and isinstance(parsed, dict):
            return parsed
        raise self._failure(status, parsed, response.headers.get("Retry-After"), what, needs)

    def _failure(self, status: int, body: t.Any, retry_after: str | None, what: str, needs: str) -> OneDriveError:
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        inner = error.get("innerError") if isinstance(error.get("innerError"), dict) else {}
        details = dict(
            error=_text(error.get("code")),
            trace_id=_text(inner.get("request-id")),
            correlation_id=_text(inner.get("client-request-id")),
        )
        generic = status_error(status, retry_after=parse_retry_after(retry_after), **details)
        if generic is not None:
            return generic
        said = redact(_text(error.get("message")) or "", (self._token,)).strip()
        said = f" Graph said: {said.splitlines()[0]}" if said else ""
        if status == 401:
            return OneDriveError(
                f"Graph refused the access token while trying to {what} (HTTP 401): it has expired, is malformed, or"
                " was issued for another cloud or resource. Sign in again for a fresh token for graph_url." + said,
                "graph_unauthorized",
                **details,
            )
        if status == 403:
            return OneDriveError(
                f"Graph denied the request to {what} (HTTP 403): the token lacks the delegated permission {needs}, or"
                " the signed-in user may not do this. Sign in, with a client an administrator consented to once for"
                f" {needs}, as a user allowed to manage applications (for admin consent, a Global Administrator,"
                " Privileged Role Administrator or Cloud Application Administrator)." + said,
                "forbidden",
                **details,
            )
        if status == 400:
            return OneDriveError(
                f"Graph refused the request to {what} (HTTP 400); check the options." + said,
                "invalid_request",
                **details,
            )
        if status == 404:
            return OneDriveError(
                f"Graph found nothing to {what} (HTTP 404): it was removed meanwhile; run again." + said,
                "not_found",
                **details,
            )
        return OneDriveError(
            f"Graph answered HTTP {status} to the request to {what}; check graph_url and any proxy between." + said,
            "unexpected_response",
            **details,
        )

    # The requests.

    def application(self, unique_name: str) -> dict[str, t.Any] | None:
        return self.request("GET", _app_path(unique_name), "read the application", WRITE_APPS, missing_ok=True)

    def graph_permissions(self) -> tuple[str, list[dict[str, t.Any]]]:
        """Microsoft Graph's service principal id in the tenant, and its delegated permissions."""
        body = self.request(
            "GET",
            f"/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,appId,oauth2PermissionScopes",
            "read Microsoft Graph's delegated permissions",
            WRITE_APPS,
        )
        found = body.get("oauth2PermissionScopes")
        if not _text(body.get("id")) or not isinstance(found, list):
            raise OneDriveError(
                "Graph answered for its own service principal without an id or oauth2PermissionScopes; check"
                " graph_url and any proxy between.",
                "unexpected_response",
            )
        return body["id"], [scope for scope in found if isinstance(scope, dict)]


def _app_path(unique_name: str) -> str:
    # OData doubles a quote inside a string literal; validate_unique_name keeps quotes out anyway.
    return "/applications(uniqueName='{}')".format(quote(unique_name.replace("'", "''"), safe="._-"))


def _text(value: t.Any) -> str | None:
    return value if isinstance(value, str) and value else None


def resolve_permissions(wanted: t.Iterable[str], published: list[dict[str, t.Any]]) -> list[Permission]:
    """The ids of the delegated permissions named, as Graph's service principal publishes them."""
    by_name = {}
    for scope in published:
        value, scope_id = _text(scope.get("value")), _text(scope.get("id"))
        if value and scope_id and scope.get("isEnabled", True) is not False:
            by_name[value.casefold()] = Permission(value, scope_id)
    resolved, unknown = [], []
    for name in wanted:
        permission = by_name.get(scope_list.normalise(name).casefold())
        if permission is None:
            unknown.append(name)
        elif permission not in resolved:
            resolved.append(permission)
    if unknown:
        raise OneDriveError(
            f"scopes: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among Microsoft Graph's"
            " delegated permissions in this tenant; use names such as offline_access, User.Read or Files.Read.",
            "invalid_option",
        )
    return resolved


# What the module owns of a registration, in its own vocabulary (for diff and the result).


def owned(application: dict[str, t.Any] | None, names_by_id: dict[str, str]) -> dict[str, t.Any]:
    if application is None:
        return {}
    return dict(
        display_name=application.get("displayName"),
        sign_in_audience=application.get("signInAudience"),
        redirect_uris=list(_public_client(application).get("redirectUris") or []),
        allow_public_client_flows=bool(application.get("isFallbackPublicClient")),
        scopes=sorted(names_by_id.get(scope_id, scope_id) for scope_id in _graph_scope_ids(application)),
    )


def declared(declaration: Declaration, permissions: list[Permission]) -> dict[str, t.Any]:
    return dict(
        display_name=declaration.display_name,
        sign_in_audience=declaration.sign_in_audience,
        redirect_uris=list(declaration.redirect_uris),
        allow_public_client_flows=declaration.allow_public_client_flows,
        scopes=sorted(permission.name for permission in permissions),
    )


def _public_client(application: dict[str, t.Any]) -> dict[str, t.Any]:
    value = application.get("publicClient")
    return value if isinstance(value, dict) else {}


def _access_list(application: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    value = application.get("requiredResourceAccess")
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _graph_scope_ids(application: dict[str, t.Any]) -> set[str]:
    return {
        access.get("id")
        for entry in _access_list(application)
        if entry.get("resourceAppId") == GRAPH_APP_ID
        for access in entry.get("resourceAccess") or ()
        if isinstance(access, dict) and access.get("type") == "Scope"
    }


def _required_access(application: dict[str, t.Any], permissions: list[Permission]) -> list[dict[str, t.Any]]:
    """The registration's API permissions with Graph's delegated ones as declared, every other kept as it is."""
    wanted = [{"id": permission.id, "type": "Scope"} for permission in permissions]
    result, placed = [], False
    for entry in _access_list(application):
        if entry.get("resourceAppId") != GRAPH_APP_ID or placed:
            result.append(entry)
            continue
        # Graph's application permissions (type Role) are not the module's to change.
        others = [a for a in entry.get("resourceAccess") or () if isinstance(a, dict) and a.get("type") != "Scope"]
        result.append(dict(entry, resourceAccess=wanted + others))
        placed = True
    if not placed:
        result.append({"resourceAppId": GRAPH_APP_ID, "resourceAccess": wanted})
    return result


def changes(
    application: dict[str, t.Any] | None, declaration: Declaration, permissions: list[Permission]
) -> dict[str, t.Any]:
    """The Graph properties to send so that ``application`` (None: not there yet) is as declared; empty when it is."""
    current = application or {}
    patch: dict[str, t.Any] = {}
    if current.get("displayName") != declaration.display_name:
        patch["displayName"] = declaration.display_name
    if current.get("signInAudience") != declaration.sign_in_audience:
        patch["signInAudience"] = declaration.sign_in_audience
    api = current.get("api") if isinstance(current.get("api"), dict) else {}
    if declaration.sign_in_audience in PERSONAL_AUDIENCES and api.get("requestedAccessTokenVersion") != 2:
        # The whole object goes back, changed in this one property, whatever else of it Graph replaces.
        patch["api"] = dict(api, requestedAccessTokenVersion=2)
    if application is None or bool(current.get("isFallbackPublicClient")) != declaration.allow_public_client_flows:
        patch["isFallbackPublicClient"] = declaration.allow_public_client_flows
    have_uris = list(_public_client(current).get("redirectUris") or [])
    if application is None or sorted(have_uris) != sorted(declaration.redirect_uris):
        patch["publicClient"] = dict(_public_client(current), redirectUris=list(declaration.redirect_uris))
    if application is None or _graph_scope_ids(current) != {permission.id for permission in permissions}:
        patch["requiredResourceAccess"] = _required_access(current, permissions)
    return patch


def admin_consent_url(endpoints: Endpoints, client_id: str, permissions: list[Permission], redirect_uri: str) -> str:
    """Where an administrator of the tenant grants consent for every user, in a browser."""
    scope = " ".join(f"{GRAPH_RESOURCE}/{p.name}" for p in permissions if p.name.lower() not in _OIDC)
    query = urlencode(dict(client_id=client_id, scope=scope, redirect_uri=redirect_uri), quote_via=quote)
    return f"{endpoints.login_url}/{endpoints.tenant}/v2.0/adminconsent?{query}"


def consent_scope(permissions: list[Permission]) -> str:
    return " ".join(permission.name for permission in permissions)


def same_scope(current: t.Any, wanted: str) -> bool:
    have = current.split() if isinstance(current, str) else []
    return {name.casefold() for name in have} == {name.casefold() for name in wanted.split()}


def _service_principal(admin: GraphAdmin, client_id: str) -> dict[str, t.Any] | None:
    return admin.request(
        "GET",
        "/servicePrincipals(appId='{}')".format(quote(client_id, safe="-")),
        "read the app's service principal",
        WRITE_APPS,
        missing_ok=True,
    )


def _consent(
    admin: GraphAdmin, client_id: str | None, graph_sp_id: str, permissions: list[Permission], check_mode: bool
) -> dict[str, t.Any]:
    """Tenant-wide consent to the declared permissions: the app's service principal in the tenant, and one
    AllPrincipals grant to Microsoft Graph holding exactly them."""
    wanted = consent_scope(permissions)
    result: dict[str, t.Any] = dict(scope=wanted, changed=False)
    sp = _service_principal(admin, client_id) if client_id else None
    grant = None
    if sp is not None:
        grants = admin.request(
            "GET",
            "/oauth2PermissionGrants?$filter=" + quote(f"clientId eq '{sp['id']}'", safe="='"),
            "read the app's delegated permission grants",
            GRANT_CONSENT,
        )
        grant = next(
            (
                g
                for g in grants.get("value") or ()
                if isinstance(g, dict)
                and g.get("consentType") == "AllPrincipals"
                and g.get("resourceId") == graph_sp_id
            ),
            None,
        )
    if grant is not None and same_scope(grant.get("scope"), wanted):
        return result
    result["changed"] = True
    if check_mode:
        return result
    if sp is None:
        sp = admin.request(
            "POST",
            "/servicePrincipals",
            "create the app's service principal in the tenant",
            WRITE_APPS,
            body={"appId": client_id},
        )
    if grant is None:
        admin.request(
            "POST",
            "/oauth2PermissionGrants",
            "grant tenant-wide admin consent",
            GRANT_CONSENT,
            body=dict(clientId=sp["id"], consentType="AllPrincipals", resourceId=graph_sp_id, scope=wanted),
        )
    else:
        admin.request(
            "PATCH",
            f"/oauth2PermissionGrants/{quote(str(grant['id']), safe='')}",
            "update the tenant-wide admin consent",
            GRANT_CONSENT,
            body={"scope": wanted},
        )
    return result


def ensure(
    admin: GraphAdmin,
    endpoints: Endpoints,
    declaration: Declaration,
    *,
    present: bool,
    grant_admin_consent: bool,
    check_mode: bool,
) -> dict[str, t.Any]:
    """Make the registration as declared (or gone); the module's result, with before/after for diff mode."""
    application = admin.application(declaration.unique_name)
    if not present:
        before_absent = owned(application, {})
        if application is not None and not check_mode:
            admin.request(
                "DELETE",
                f"/applications/{quote(str(application['id']), safe='')}",
                "delete the application",
                WRITE_APPS,
            )
        return dict(
            changed=application is not None,
            client_id=application.get("appId") if application else None,
            object_id=application.get("id") if application else None,
            unique_name=declaration.unique_name,
            changes=["deleted"] if application is not None else [],
            diff=dict(before=before_absent, after={}),
        )
    graph_sp_id, published = admin.graph_permissions()
    permissions = resolve_permissions(declaration.scopes, published)
    names_by_id = {p.get("id"): p.get("value") for p in published}
    patch = changes(application, declaration, permissions)
    client_id = application.get("appId") if application else None
    object_id = application.get("id") if application else None
    if patch and not check_mode:
        if application is None:
            created = admin.request(
                "PATCH",
                _app_path(declaration.unique_name),
                "create the application",
                WRITE_APPS,
                body=patch,
                headers={"Prefer": "create-if-missing"},
            )
            # 204 instead of 201: it was created meanwhile by another run, and is now updated as declared.
            created = created or admin.application(declaration.unique_name) or {}
            client_id, object_id = created.get("appId"), created.get("id")
        else:
            admin.request("PATCH", _app_path(declaration.unique_name), "update the application", WRITE_APPS, body=patch)
    result: dict[str, t.Any] = dict(
        changed=bool(patch),
        created=application is None,
        client_id=client_id,
        object_id=object_id,
        unique_name=declaration.unique_name,
        changes=sorted(patch),
        permissions=[dataclasses.asdict(p) for p in permissions],
        admin_consent_url=(
            admin_consent_url(endpoints, client_id, permissions, declaration.redirect_uris[0])
            if client_id and declaration.redirect_uris
            else None
        ),
        diff=dict(before=owned(application, names_by_id), after=declared(declaration, permissions)),
    )
    if grant_admin_consent:
        consent = _consent(admin, client_id, graph_sp_id, permissions, check_mode)
        result["admin_consent"] = consent
        result["changed"] = result["changed"] or consent["changed"]
        if consent["changed"]:
            result["changes"].append("adminConsent")
        result["diff"]["after"]["admin_consent"] = consent["scope"]
        result["diff"]["before"]["admin_consent"] = None if consent["changed"] else consent["scope"]
    return result
