from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.app_registration import (
    GRAPH_APP_ID,
    Declaration,
    Permission,
    admin_consent_url,
    changes,
    owned,
    resolve_permissions,
    same_scope,
    validate_unique_name,
)
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
PUBLISHED = [
    {"value": "offline_access", "id": "id-offline"},
    {"value": "User.Read", "id": "id-user-read"},
    {"value": "Files.Read", "id": "id-files-read"},
    {"value": "Files.Old", "id": "id-files-old", "isEnabled": False},
]
PERMISSIONS = [Permission("offline_access", "id-offline"), Permission("User.Read", "id-user-read")]
DECLARED = Declaration(
    "plugin",
    "Plugin",
    "AzureADandPersonalMicrosoftAccount",
    (NATIVE, "http://localhost"),
    True,
    ("offline_access", "User.Read"),
)
OTHER_API = {"resourceAppId": "00000002-0000-0ff1-ce00-000000000000", "resourceAccess": [{"id": "x", "type": "Role"}]}


def as_declared(**overrides):
    application = {
        "id": "object",
        "appId": "client",
        "displayName": "Plugin",
        "signInAudience": "AzureADandPersonalMicrosoftAccount",
        "api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": []},
        "isFallbackPublicClient": True,
        "publicClient": {"redirectUris": ["http://localhost", NATIVE]},
        "notes": "theirs",
        "requiredResourceAccess": [
            {
                "resourceAppId": GRAPH_APP_ID,
                "resourceAccess": [
                    {"id": "id-user-read", "type": "Scope"},
                    {"id": "id-offline", "type": "Scope"},
                    {"id": "app-role", "type": "Role"},
                ],
            },
            OTHER_API,
        ],
    }
    application.update(overrides)
    return application


def test_resolve_by_name_regardless_of_case_and_prefix():
    resolved = resolve_permissions(["user.read", "https://graph.microsoft.com/Files.Read", "User.Read"], PUBLISHED)
    assert resolved == [Permission("User.Read", "id-user-read"), Permission("Files.Read", "id-files-read")]


def test_unknown_or_disabled_permissions_are_named():
    with pytest.raises(OneDriveError, match="Files.Old, Nope are not") as failed:
        resolve_permissions(["User.Read", "Files.Old", "Nope"], PUBLISHED)
    assert failed.value.reason == "invalid_option"


def test_nothing_to_change_when_as_declared_in_any_order():
    assert changes(as_declared(), DECLARED, PERMISSIONS) == {}


def test_creation_sends_every_owned_property():
    patch = changes(None, DECLARED, PERMISSIONS)
    assert patch == {
        "displayName": "Plugin",
        "signInAudience": "AzureADandPersonalMicrosoftAccount",
        "api": {"requestedAccessTokenVersion": 2},
        "isFallbackPublicClient": True,
        "publicClient": {"redirectUris": [NATIVE, "http://localhost"]},
        "requiredResourceAccess": [
            {
                "resourceAppId": GRAPH_APP_ID,
                "resourceAccess": [{"id": "id-offline", "type": "Scope"}, {"id": "id-user-read", "type": "Scope"}],
            }
        ],
    }


def test_permissions_change_keeps_application_permissions_and_other_apis():
    patch = changes(as_declared(), DECLARED, [Permission("Files.Read", "id-files-read")])
    assert patch == {
        "requiredResourceAccess": [
            {
                "resourceAppId": GRAPH_APP_ID,
                "resourceAccess": [{"id": "id-files-read", "type": "Scope"}, {"id": "app-role", "type": "Role"}],
            },
            OTHER_API,
        ]
    }


def test_personal_audience_sets_the_token_version_keeping_the_rest_of_api():
    application = as_declared(api={"requestedAccessTokenVersion": None, "oauth2PermissionScopes": ["kept"]})
    assert changes(application, DECLARED, PERMISSIONS) == {
        "api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": ["kept"]}
    }


def test_work_audience_and_flows_and_redirects():
    declaration = Declaration("plugin", "Plugin", "AzureADMultipleOrgs", (NATIVE,), False, ())
    patch = changes(as_declared(), declaration, PERMISSIONS)
    assert patch == {
        "signInAudience": "AzureADMultipleOrgs",
        "isFallbackPublicClient": False,
        "publicClient": {"redirectUris": [NATIVE]},
    }


def test_owned_view_for_diff():
    assert owned(as_declared(), {"id-user-read": "User.Read", "id-offline": "offline_access"}) == {
        "display_name": "Plugin",
        "sign_in_audience": "AzureADandPersonalMicrosoftAccount",
        "redirect_uris": ["http://localhost", NATIVE],
        "allow_public_client_flows": True,
        "scopes": ["User.Read", "offline_access"],
    }
    assert owned(None, {}) == {}


def test_admin_consent_url_leaves_out_openid_scopes():
    where = endpoints(tenant="organizations")
    url = admin_consent_url(where, "client", PERMISSIONS, NATIVE)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://login.microsoftonline.com/organizations/v2.0/adminconsent"
    )
    assert dict(parse_qsl(parts.query)) == {
        "client_id": "client",
        "scope": "https://graph.microsoft.com/User.Read",
        "redirect_uri": NATIVE,
    }
    assert " " not in url


@pytest.mark.parametrize("name", ["", "-lead", "has space", "quote'", "a/b", "x" * 121])
def test_unique_name_rejects_what_would_not_stay_a_key(name):
    with pytest.raises(OneDriveError):
        validate_unique_name(name)


def test_same_scope_ignores_order_and_case():
    assert same_scope("User.Read offline_access", "offline_access user.read")
    assert not same_scope("User.Read", "User.Read Files.Read")
    assert not same_scope(None, "User.Read")
