"""onedrive.connection.authorize_url: real ansible-playbook runs, offline and against the emulator."""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
from urllib.parse import parse_qs, urlsplit

import pytest

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "authorize_url" / "sign_in_url.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"


@pytest.fixture
def authorize(ansible_run):
    """Runs the playbook; returns the Report (the result without the code verifier) and the run."""

    def run(check=False, **variables):
        result = ansible_run(PLAYBOOK, extra_vars=dict(client_id=PUBLIC_APP, **variables), check=check)
        assert result.rc == 0, result.output
        return result.task("Report")["msg"], result

    return run


def query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_each_cloud_maps_to_its_login_host(ansible_run):
    run = ansible_run(PLAYBOOK.parent / "clouds.yml")
    assert run.rc == 0 and run.changed == 0, run.output
    hosts = {
        "public": "login.microsoftonline.com",
        "usgov": "login.microsoftonline.us",
        "usgov_dod": "login.microsoftonline.us",
        "china": "login.partner.microsoftonline.cn",
    }
    reports = {report["item"]: report for report in run.task("Report")["msg"]}
    assert set(reports) == set(hosts)
    for cloud, host in hosts.items():
        report = reports[cloud]
        assert report["authorize_endpoint"] == f"https://{host}/organizations/oauth2/v2.0/authorize"
        assert report["token_endpoint"] == f"https://{host}/organizations/oauth2/v2.0/token"
        assert report["url"].startswith(report["authorize_endpoint"] + "?client_id=")


def test_defaults_give_an_encoded_pkce_url(authorize):
    report, _ = authorize()
    assert report["changed"] is False and report["redirect_uri"] == NATIVE
    assert report["scopes"] == ["offline_access", "User.Read", "Files.Read", "Files.Read.All"]
    assert " " not in report["url"]
    assert "&scope=offline_access%20User.Read%20Files.Read%20Files.Read.All&" in report["url"]
    assert query(report["url"]) == dict(
        client_id=PUBLIC_APP,
        response_type="code",
        redirect_uri=NATIVE,
        scope="offline_access User.Read Files.Read Files.Read.All",
        state=report["state"],
        code_challenge=report["code_challenge"],
        code_challenge_method="S256",
    )


def test_check_mode_gives_the_same_result(authorize):
    report, run = authorize(check=True, state="fixed-state")
    assert report["state"] == "fixed-state" and report["url"].startswith("https://login.microsoftonline.com/")
    assert run.changed == 0


def test_missing_offline_access_is_added_with_a_warning(authorize):
    report, run = authorize(scopes="User.Read Files.Read")
    assert report["scopes"] == ["offline_access", "User.Read", "Files.Read"]
    assert "offline_access was added to scopes" in run.output


def test_the_url_signs_in_at_the_emulator(authorize, emulator, tmp_path):
    handover = tmp_path / "signin.json"
    report, run = authorize(
        login_url=emulator.base_url, handover=str(handover), login_hint="megan@outlook.com", prompt="login"
    )
    signin = json.loads(handover.read_text())
    challenge = base64.urlsafe_b64encode(hashlib.sha256(signin["code_verifier"].encode()).digest()).rstrip(b"=")
    assert signin["code_challenge"] == challenge.decode() == report["code_challenge"]

    # No user chosen: the sign-in page's login_hint prefill must name megan, decoded intact.
    response = emulator.sign_in(report["url"], None)
    assert response.startswith(NATIVE + "?")
    answer = query(response)
    assert answer["state"] == report["state"] and answer["code"]
    assert signin["code_verifier"] not in run.output and "code_verifier" not in json.dumps(run.task("Report"))


def test_invalid_options_fail_with_a_reason(authorize):
    report, _ = authorize(tenant="contoso.com/../x")
    assert report["failed"] is True and report["reason"] == "invalid_option"
    assert "tenant must be" in report["msg"]
