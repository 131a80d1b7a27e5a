from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.pkce import s256_challenge
from ansible_collections.onedrive.connection.plugins.modules.authorize_url import main

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"


def query(url):
    return dict(parse_qsl(urlsplit(url).query))


def test_defaults(run_module, fake_http):
    result = run_module(main, dict(client_id=CLIENT_ID))
    assert result["changed"] is False and "warnings" not in result
    assert result["authorize_endpoint"] == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    assert result["token_endpoint"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert result["url"].startswith(result["authorize_endpoint"] + "?")
    assert result["scopes"] == ["offline_access", "User.Read", "Files.Read", "Files.Read.All"]
    assert result["redirect_uri"] == NATIVE
    assert result["code_challenge"] == s256_challenge(result["code_verifier"])
    assert query(result["url"]) == dict(
        client_id=CLIENT_ID,
        response_type="code",
        redirect_uri=NATIVE,
        scope="offline_access User.Read Files.Read Files.Read.All",
        state=result["state"],
        code_challenge=result["code_challenge"],
        code_challenge_method="S256",
    )
    assert fake_http.requests == []


def test_every_run_gets_a_fresh_state_and_verifier(run_module):
    first, second = (run_module(main, dict(client_id=CLIENT_ID)) for _ in range(2))
    assert first["state"] != second["state"] and first["code_verifier"] != second["code_verifier"]


def test_check_mode_gives_the_same_kind_of_result(run_module):
    result = run_module(main, dict(client_id=CLIENT_ID, state="fixed"), check_mode=True)
    assert result["changed"] is False and result["state"] == "fixed" and "url" in result


def test_options_reach_the_url(run_module):
    result = run_module(
        main,
        dict(
            client_id=CLIENT_ID,
            cloud="china",
            tenant="contoso.partner.onmschina.cn",
            scopes=["offline_access User.Read", "https://microsoftgraph.chinacloudapi.cn/Files.ReadWrite"],
            redirect_uri="http://localhost:53682/",
            state="my state",
            pkce=False,
            prompt="select_account",
            login_hint="李雷@contoso.partner.onmschina.cn",
            domain_hint="contoso.cn",
        ),
    )
    assert result["authorize_endpoint"] == (
        "https://login.partner.microsoftonline.cn/contoso.partner.onmschina.cn/oauth2/v2.0/authorize"
    )
    assert "code_verifier" not in result and "code_challenge" not in result
    assert "state=my%20state&" in result["url"]
    assert query(result["url"]) == dict(
        client_id=CLIENT_ID,
        response_type="code",
        redirect_uri="http://localhost:53682/",
        scope="offline_access User.Read https://microsoftgraph.chinacloudapi.cn/Files.ReadWrite",
        state="my state",
        prompt="select_account",
        login_hint="李雷@contoso.partner.onmschina.cn",
        domain_hint="contoso.cn",
    )


def test_offline_access_is_added_with_a_warning(run_module):
    result = run_module(main, dict(client_id=CLIENT_ID, scopes=["Files.Read"]))
    assert result["scopes"] == ["offline_access", "Files.Read"]
    assert "offline_access was added to scopes" in json.dumps(result["warnings"])


def test_offline_access_in_another_case_is_recognised(run_module):
    result = run_module(main, dict(client_id=CLIENT_ID, scopes=["Offline_Access", "Files.Read"]))
    assert result["scopes"] == ["Offline_Access", "Files.Read"] and "warnings" not in result


@pytest.mark.parametrize(
    "args, words",
    [
        (dict(client_id="not-a-guid"), "GUID"),
        (dict(client_id=CLIENT_ID, tenant="common/../x"), "tenant must be"),
        (dict(client_id=CLIENT_ID, redirect_uri="http://app.example/"), "redirect_uri must be"),
        (dict(client_id=CLIENT_ID, login_url="login.example"), "login_url must be"),
        (dict(client_id=CLIENT_ID, scopes=[]), "scopes must not be empty"),
    ],
)
def test_invalid_options_fail_with_the_stable_fields(run_module, args, words):
    result = run_module(main, args)
    assert result["failed"] is True and words in result["msg"]
    assert result["reason"] == "invalid_option"
    assert {"error", "error_codes", "trace_id", "correlation_id"} <= set(result)


def test_network_options_are_accepted_and_unused(run_module, fake_http):
    result = run_module(
        main,
        dict(client_id=CLIENT_ID, client_secret="s", graph_url="https://g.example", timeout=0, max_retry_wait=-1),
    )
    assert "url" in result and fake_http.requests == []
