"""Graph's application registrations: the uniqueName upsert, get, list, patch, delete, Graph's service principal,
admin consent grants, the permission errors, and an app registered here being usable at once by the login side."""

from __future__ import annotations

import pytest
import requests

GRAPH = "00000003-0000-0000-c000-000000000000"
CLI = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
ADMIN = "admin@contoso.onmicrosoft.com"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"


def _token(emulator, scopes=("Application.ReadWrite.All",), user=ADMIN):
    return emulator.grant(CLI, user, list(scopes))["access_token"]


def _scope_ids(proto, token):
    sp = proto.graph(f"/servicePrincipals(appId='{GRAPH}')", token).json()
    return {scope["value"]: scope["id"] for scope in sp["oauth2PermissionScopes"]}


def _declaration(ids, audience="AzureADandPersonalMicrosoftAccount", scopes=("offline_access", "User.Read",
                                                                               "Files.Read")):
    return {
        "displayName": "OneDrive plugin",
        "signInAudience": audience,
        "api": {"requestedAccessTokenVersion": 2},
        "isFallbackPublicClient": True,
        "publicClient": {"redirectUris": [NATIVE, "http://localhost"]},
        "requiredResourceAccess": [{"resourceAppId": GRAPH,
                                    "resourceAccess": [{"id": ids[name], "type": "Scope"} for name in scopes]}],
    }


def _devicecode(proto, client_id, scope):
    return requests.post(f"{proto.base}/common/oauth2/v2.0/devicecode", verify=proto.ca, timeout=30,
                         data={"client_id": client_id, "scope": scope})


def _upsert(proto, token, name, body, create=True):
    headers = {"Content-Type": "application/json"}
    if create:
        headers["Prefer"] = "create-if-missing"
    return proto.graph(f"/applications(uniqueName='{name}')", token, "PATCH", body, headers)


def test_upsert_creates_then_updates(proto, emulator):
    token = _token(emulator)
    ids = _scope_ids(proto, token)
    created = _upsert(proto, token, "onedrive-plugin", _declaration(ids))
    assert created.status_code == 201, created.text
    app = created.json()
    assert app["uniqueName"] == "onedrive-plugin"
    assert app["isFallbackPublicClient"] is True
    assert app["publicClient"]["redirectUris"] == [NATIVE, "http://localhost"]
    assert app["web"]["implicitGrantSettings"] == {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False}

    updated = _upsert(proto, token, "onedrive-plugin", {"displayName": "Renamed", "notes": "kept"})
    assert updated.status_code == 204 and updated.content == b""
    got = proto.graph("/applications(uniqueName='onedrive-plugin')", token).json()
    assert (got["id"], got["appId"], got["displayName"], got["notes"]) == (app["id"], app["appId"], "Renamed", "kept")
    by_id = proto.graph(f"/applications/{app['id']}?$select=appId,displayName", token).json()
    assert by_id == {"id": app["id"], "appId": app["appId"], "displayName": "Renamed"}
    listed = proto.graph("/applications?$filter=uniqueName eq 'onedrive-plugin'", token).json()["value"]
    assert [a["appId"] for a in listed] == [app["appId"]]
    assert proto.graph("/applications?$filter=uniqueName eq 'other'", token).json()["value"] == []


def test_patch_without_prefer_does_not_create(proto, emulator):
    token = _token(emulator)
    response = _upsert(proto, token, "absent", {"displayName": "x"}, create=False)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "Request_ResourceNotFound"
    assert proto.graph("/applications(uniqueName='absent')", token).status_code == 404


@pytest.mark.parametrize("body, message", [
    ({"displayName": "x", "colour": "red"}, "colour"),
    ({"displayName": "x", "appId": "00000000-0000-0000-0000-000000000000"}, "read-only"),
    ({"displayName": "x", "signInAudience": "Everyone"}, "signInAudience"),
    ({"displayName": "x", "signInAudience": "AzureADandPersonalMicrosoftAccount"}, "InvalidAccessTokenVersion"),
    ({"displayName": "x", "publicClient": {"redirectUris": ["http://example.com/cb"]}}, "redirectUris"),
    ({"displayName": "x", "requiredResourceAccess": [
        {"resourceAppId": GRAPH, "resourceAccess": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}]}]},
     "resourceAccess"),
    ({"signInAudience": "AzureADMyOrg"}, "displayName"),
])
def test_invalid_bodies_are_refused_and_change_nothing(proto, emulator, body, message):
    token = _token(emulator)
    response = _upsert(proto, token, "bad", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] in ("Request_BadRequest", "InvalidAccessTokenVersion")
    assert message in error["code"] + error["message"]
    assert proto.graph("/applications", token).json()["value"] == []


def test_missing_permission_is_authorization_request_denied(proto, emulator):
    reader = _token(emulator, ("Application.Read.All",))
    response = _upsert(proto, reader, "x", {"displayName": "x"})
    assert response.status_code == 403
    assert response.json()["error"] == {**response.json()["error"], "code": "Authorization_RequestDenied",
                                        "message": "Insufficient privileges to complete the operation."}
    assert proto.graph("/applications", reader).status_code == 200
    user_read = _token(emulator, ("User.Read",))
    assert proto.graph("/applications", user_read).status_code == 403
    assert proto.graph(f"/servicePrincipals(appId='{GRAPH}')", user_read).status_code == 403
    assert proto.graph("/applications", None).status_code == 401


def test_graph_service_principal_lists_delegated_permissions(proto, emulator):
    token = _token(emulator)
    sp = proto.graph(f"/servicePrincipals(appId='{GRAPH}')", token).json()
    scopes = {scope["value"]: scope for scope in sp["oauth2PermissionScopes"]}
    assert {"offline_access", "User.Read", "Files.Read", "Application.ReadWrite.All"} <= set(scopes)
    assert scopes["Application.ReadWrite.All"]["type"] == "Admin" and scopes["User.Read"]["type"] == "User"
    # Not Microsoft's ids: a client must look them up.
    assert scopes["User.Read"]["id"] != "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
    listed = proto.graph(f"/servicePrincipals?$filter=appId eq '{GRAPH}'", token).json()["value"]
    assert [item["id"] for item in listed] == [sp["id"]]


def test_registered_app_is_usable_at_once_by_the_login_side(proto, emulator):
    token = _token(emulator)
    ids = _scope_ids(proto, token)
    app = _upsert(proto, token, "plugin", _declaration(ids)).json()
    client_id = app["appId"]
    # Authorization code with the declared redirect URI, as a public client without a secret.
    response = proto.redeem(user=proto.MEGAN, client_id=client_id, scope="offline_access User.Read Files.Read")
    assert response.status_code == 200, response.text
    assert "refresh_token" in response.json()
    # The device code flow, and .default expanding to exactly the declared Graph permissions.
    flow = _devicecode(proto, client_id, "https://graph.microsoft.com/.default")
    assert flow.status_code == 200, flow.text
    emulator.device_sign_in(flow.json()["user_code"], proto.ADELE)
    redeemed = proto.token(client_id=client_id, grant_type="urn:ietf:params:oauth:grant-type:device_code",
                           device_code=flow.json()["device_code"])
    assert redeemed.status_code == 200, redeemed.text
    granted = set(redeemed.json()["scope"].split())
    assert granted == {"https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/Files.Read"}

    # An undeclared redirect URI is refused; turning public client flows off demands a secret.
    with pytest.raises(Exception) as refused:
        emulator.sign_in(proto.authorize_url(client_id=client_id, redirect_uri="https://example.com/cb"), proto.ADELE)
    assert "AADSTS50011" in str(getattr(refused.value, "page", refused.value))
    assert _upsert(proto, token, "plugin", {"isFallbackPublicClient": False}).status_code == 204
    refresh = proto.refresh(response.json()["refresh_token"], client_id=client_id)
    assert refresh.status_code == 401 and refresh.json()["error_codes"] == [7000218]


def test_audience_is_enforced_for_registered_apps(proto, emulator):
    token = _token(emulator)
    ids = _scope_ids(proto, token)
    body = _declaration(ids, audience="AzureADMultipleOrgs")
    body["api"] = {"requestedAccessTokenVersion": None}
    client_id = _upsert(proto, token, "work-only", body).json()["appId"]
    with pytest.raises(Exception) as refused:
        emulator.sign_in(proto.authorize_url(client_id=client_id), proto.MEGAN)
    assert "AADSTS50020" in str(getattr(refused.value, "page", refused.value))
    assert proto.redeem(client_id=client_id).status_code == 200


def test_delete_removes_the_app_its_service_principal_and_grants(proto, emulator):
    token = _token(emulator, ("Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"))
    ids = _scope_ids(proto, token)
    app = _upsert(proto, token, "gone", _declaration(ids)).json()
    sp = proto.graph("/servicePrincipals", token, "POST", {"appId": app["appId"]})
    assert sp.status_code == 201, sp.text
    assert proto.graph("/servicePrincipals", token, "POST", {"appId": app["appId"]}).status_code == 409
    graph_sp = proto.graph(f"/servicePrincipals(appId='{GRAPH}')", token).json()
    grant = proto.graph("/oauth2PermissionGrants", token, "POST", {
        "clientId": sp.json()["id"], "consentType": "AllPrincipals", "resourceId": graph_sp["id"],
        "scope": "User.Read Files.Read"})
    assert grant.status_code == 201, grant.text
    again = proto.graph("/oauth2PermissionGrants", token, "POST", {
        "clientId": sp.json()["id"], "consentType": "AllPrincipals", "resourceId": graph_sp["id"],
        "scope": "User.Read"})
    assert again.status_code == 409
    patched = proto.graph(f"/oauth2PermissionGrants/{grant.json()['id']}", token, "PATCH", {"scope": "User.Read"})
    assert patched.status_code == 204
    listed = proto.graph(f"/oauth2PermissionGrants?$filter=clientId eq '{sp.json()['id']}' and consentType eq "
                         "'AllPrincipals'", token).json()["value"]
    assert [g["scope"] for g in listed] == ["User.Read"]

    assert proto.graph(f"/applications/{app['id']}", token, "DELETE").status_code == 204
    assert proto.graph("/applications(uniqueName='gone')", token).status_code == 404
    assert proto.graph(f"/servicePrincipals(appId='{app['appId']}')", token).status_code == 404
    assert proto.graph("/oauth2PermissionGrants", token).json()["value"] == []
    start = _devicecode(proto, app["appId"], "User.Read")
    assert start.status_code == 400 and start.json()["error_codes"] == [700016]


def test_admin_consent_needs_the_permission_and_an_admin_role(proto, emulator):
    token = _token(emulator, ("Application.ReadWrite.All",))
    assert proto.graph("/oauth2PermissionGrants", token, "POST", {}).status_code == 403
    adele = emulator.grant(CLI, proto.ADELE, ["DelegatedPermissionGrant.ReadWrite.All"])["access_token"]
    assert proto.graph("/oauth2PermissionGrants", adele, "POST", {}).status_code == 403


def test_reset_forgets_registered_apps(proto, emulator):
    token = _token(emulator)
    client_id = _upsert(proto, token, "temp", _declaration(_scope_ids(proto, token))).json()["appId"]
    emulator.reset()
    start = _devicecode(proto, client_id, "User.Read")
    assert start.status_code == 400 and start.json()["error_codes"] == [700016]
