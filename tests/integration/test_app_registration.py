"""onedrive.connection.app_registration: real ansible-playbook runs against the emulator's Graph."""

from __future__ import annotations

import json
import pathlib

import pytest
import requests

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "app_registration" / "app_registration.yml"
GRAPH_CLI = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
GRAPH = "00000003-0000-0000-c000-000000000000"
ADMIN = "admin@contoso.onmicrosoft.com"
ADELE = "adele@contoso.onmicrosoft.com"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
DIRECTORY = ("applications", "servicePrincipals", "oauth2PermissionGrants")


def admin_token(emulator, scopes=("Application.ReadWrite.All",), user=ADMIN):
    return emulator.grant(GRAPH_CLI, user, list(scopes))["access_token"]


@pytest.fixture
def register(ansible_run, emulator):
    """Runs the playbook; returns the module's result (the Register task's) and keeps the run as .last."""

    def run(check=False, diff=False, verbosity=0, token=None, **variables):
        variables = dict(
            dict(unique_name="onedrive-plugin"),
            emulator_url=emulator.base_url,
            ca_path=str(emulator.ca_path),
            access_token=token or admin_token(emulator),
            **variables,
        )
        result = ansible_run(str(PLAYBOOK), extra_vars=variables, check=check, diff=diff, verbosity=verbosity)
        run.last = result
        assert result.rc == 0, result.output
        run.status = next(task["status"] for task in result.tasks if task["name"] == "Register")
        return result.task("Register")

    return run


def writes(emulator):
    """The directory requests that were not reads, since the log was last cleared."""
    return [
        (r["method"], r["path"])
        for r in emulator.log()["requests"]
        if r["endpoint"] in DIRECTORY and r["method"] != "GET"
    ]


def graph(emulator, token, path, method="GET", body=None, headers=None):
    return requests.request(
        method,
        f"{emulator.base_url}/v1.0{path}",
        verify=emulator.ca_path,
        timeout=30,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        data=json.dumps(body) if body is not None else None,
    )


def test_registers_from_nothing_and_the_app_works_at_once(emulator, register):
    result = register(display_name="OneDrive plugin")
    assert result["changed"] is True and result["created"] is True
    assert result["unique_name"] == "onedrive-plugin"
    assert result["changes"] == [
        "api",
        "displayName",
        "isFallbackPublicClient",
        "publicClient",
        "requiredResourceAccess",
        "signInAudience",
    ]
    assert [p["name"] for p in result["permissions"]] == ["offline_access", "User.Read", "Files.Read", "Files.Read.All"]
    client_id = result["client_id"]
    assert result["admin_consent_url"].startswith(
        f"{emulator.base_url}/organizations/v2.0/adminconsent?client_id={client_id}&scope=https%3A%2F%2Fgraph"
    )
    app = graph(emulator, admin_token(emulator), "/applications(uniqueName='onedrive-plugin')").json()
    assert (app["appId"], app["id"], app["displayName"]) == (client_id, result["object_id"], "OneDrive plugin")
    assert app["signInAudience"] == "AzureADandPersonalMicrosoftAccount" and app["isFallbackPublicClient"] is True
    assert app["publicClient"]["redirectUris"] == [NATIVE, "http://localhost"]
    assert app["api"]["requestedAccessTokenVersion"] == 2
    # Work and personal accounts sign in to it, as a public client, with the declared permissions.
    for user in (ADELE, "megan@outlook.com"):
        tokens = emulator.grant(client_id, user, ["offline_access", "User.Read", "Files.Read"])
        assert tokens["refresh_token"]


def test_a_second_run_changes_nothing_and_sends_no_write(emulator, register):
    first = register()
    emulator.clear_log()
    again = register()
    assert again["changed"] is False and again["changes"] == []
    assert (again["client_id"], again["object_id"]) == (first["client_id"], first["object_id"])
    assert writes(emulator) == []
    assert register.last.changed == 0


def test_check_mode_reports_without_writing(emulator, register):
    preview = register(check=True)
    assert preview["changed"] is True and preview["created"] is True and preview["client_id"] is None
    assert writes(emulator) == []
    assert graph(emulator, admin_token(emulator), "/applications").json()["value"] == []

    register()
    emulator.clear_log()
    changed = register(check=True, scopes=["offline_access", "User.Read", "Files.ReadWrite"])
    assert changed["changed"] is True and changed["changes"] == ["requiredResourceAccess"]
    assert writes(emulator) == []
    assert register(check=True)["changed"] is False


def test_diff_shows_the_owned_properties(emulator, register):
    register()
    result = register(diff=True, redirect_uris=[NATIVE], display_name="Renamed")
    assert result["changed"] is True and result["changes"] == ["displayName", "publicClient"]
    diff = result["diff"]
    assert diff["before"]["display_name"] == "onedrive-plugin" and diff["after"]["display_name"] == "Renamed"
    assert diff["before"]["redirect_uris"] == [NATIVE, "http://localhost"]
    assert diff["after"]["redirect_uris"] == [NATIVE]
    assert diff["before"]["scopes"] == diff["after"]["scopes"]
    assert "display_name" in register.last.stdout  # ansible-playbook --diff prints it
    assert "diff" not in register()  # without --diff, nothing of it


def test_only_owned_properties_change(emulator, register):
    first = register()
    token = admin_token(emulator)
    other_api = {
        "resourceAppId": "00000002-0000-0ff1-ce00-000000000000",
        "resourceAccess": [{"id": "6ff8e1b5-6d3b-44c0-9b3b-8a2e1c0f0a11", "type": "Role"}],
    }
    app = graph(emulator, token, "/applications(uniqueName='onedrive-plugin')").json()
    response = graph(
        emulator,
        token,
        "/applications(uniqueName='onedrive-plugin')",
        "PATCH",
        {
            "notes": "owned by the RPA team",
            "web": {"redirectUris": ["https://rpa.example/cb"]},
            "requiredResourceAccess": [*app["requiredResourceAccess"], other_api],
            "tags": ["rpa"],
        },
    )
    assert response.status_code == 204, response.text
    assert register()["changed"] is False
    result = register(
        sign_in_audience="AzureADMultipleOrgs",
        allow_public_client_flows=False,
        scopes=["offline_access", "User.Read", "Files.ReadWrite.All"],
    )
    assert result["changes"] == ["isFallbackPublicClient", "requiredResourceAccess", "signInAudience"]
    app = graph(emulator, token, "/applications(uniqueName='onedrive-plugin')").json()
    assert (app["notes"], app["tags"], app["web"]["redirectUris"]) == (
        "owned by the RPA team",
        ["rpa"],
        ["https://rpa.example/cb"],
    )
    assert other_api in app["requiredResourceAccess"]
    assert app["signInAudience"] == "AzureADMultipleOrgs" and app["isFallbackPublicClient"] is False
    assert app["appId"] == first["client_id"]


def test_missing_permission_fails_with_forbidden(emulator, register):
    reader = admin_token(emulator, ("Application.Read.All",))
    result = register(token=reader)
    assert register.status == "failed" and result["reason"] == "forbidden"
    assert result["error"] == "Authorization_RequestDenied"
    assert "Application.ReadWrite.All" in result["msg"] and reader not in register.last.output
    assert writes(emulator) == [("PATCH", "/v1.0/applications(uniqueName='onedrive-plugin')")]
    no_rights = admin_token(emulator, ("User.Read",))
    assert register(token=no_rights)["reason"] == "forbidden"


def test_admin_consent_granted_once_and_only_by_an_admin(emulator, register):
    token = admin_token(emulator, ("Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"))
    result = register(token=token, grant_admin_consent=True)
    assert result["changed"] is True and "adminConsent" in result["changes"]
    assert result["admin_consent"] == {"scope": "offline_access User.Read Files.Read Files.Read.All", "changed": True}
    grants = graph(emulator, token, "/oauth2PermissionGrants").json()["value"]
    assert [(g["consentType"], g["scope"]) for g in grants] == [
        ("AllPrincipals", "offline_access User.Read Files.Read Files.Read.All")
    ]
    emulator.clear_log()
    again = register(token=token, grant_admin_consent=True)
    assert again["changed"] is False and again["admin_consent"]["changed"] is False and writes(emulator) == []
    narrower = register(token=token, grant_admin_consent=True, scopes=["offline_access", "User.Read"])
    assert narrower["changes"] == ["requiredResourceAccess", "adminConsent"]
    grants = graph(emulator, token, "/oauth2PermissionGrants").json()["value"]
    assert [g["scope"] for g in grants] == ["offline_access User.Read"]

    adele = emulator.grant(GRAPH_CLI, ADELE, ["Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"])
    refused = register(token=adele["access_token"], unique_name="adeles-app", grant_admin_consent=True)
    assert refused["reason"] == "forbidden" and "DelegatedPermissionGrant.ReadWrite.All" in refused["msg"]


def test_state_absent_deletes_and_then_changes_nothing(emulator, register):
    client_id = register()["client_id"]
    preview = register(state="absent", check=True)
    assert preview["changed"] is True and writes(emulator) != [] and preview["client_id"] == client_id
    emulator.clear_log()
    register(state="absent", check=True)
    assert writes(emulator) == []
    gone = register(state="absent", diff=True)
    assert gone["changed"] is True and gone["changes"] == ["deleted"] and gone["diff"]["after"] == {}
    assert graph(emulator, admin_token(emulator), "/applications(uniqueName='onedrive-plugin')").status_code == 404
    with pytest.raises(Exception, match="700016"):
        emulator.grant(client_id, ADELE, ["User.Read"])
    again = register(state="absent")
    assert again["changed"] is False and again["client_id"] is None


def test_unknown_scope_and_bad_unique_name_fail_before_any_write(emulator, register):
    result = register(scopes=["User.Read", "Files.Everything"])
    assert result["reason"] == "invalid_option" and "Files.Everything" in result["msg"]
    assert register(unique_name="no spaces")["reason"] == "invalid_option"
    assert register(redirect_uris=["http://example.com/cb"])["reason"] == "invalid_option"
    assert writes(emulator) == []


def test_expired_token_is_graph_unauthorized(emulator, register):
    token = admin_token(emulator)
    emulator.advance_clock(6000)
    result = register(token=token)
    assert result["reason"] == "graph_unauthorized" and "Sign in again" in result["msg"]


def test_the_access_token_never_reaches_the_output(emulator, register):
    token = admin_token(emulator)
    register(token=token, verbosity=4, diff=True)
    assert token not in register.last.output
    reader = admin_token(emulator, ("Application.Read.All",))
    register(token=reader, verbosity=4, display_name="Renamed")
    assert reader not in register.last.output
    assert register.last.task("Register")["reason"] == "forbidden"


def test_throttling_is_waited_out_and_a_failing_graph_is_server_error(emulator, register):
    emulator.fault("applications", "status", status=429, retry_after="0.2")
    result = register()
    assert result["changed"] is True and result["client_id"]
    assert emulator.pending_faults() == 0
    # The first request and its three retries, each answered 503.
    emulator.fault("applications", "status", count=4, status=503)
    failed = register(display_name="Renamed")
    assert failed["reason"] == "server_error" and emulator.pending_faults() == 0
    apps = graph(emulator, admin_token(emulator), "/applications").json()["value"]
    assert [app["displayName"] for app in apps] == ["onedrive-plugin"]
