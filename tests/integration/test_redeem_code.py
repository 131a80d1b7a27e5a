"""onedrive.connection.redeem_code: sign-ins through the emulator, then real ansible-playbook runs."""

from __future__ import annotations

import json
import pathlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.pkce import new_state, new_verifier, s256_challenge

HERE = pathlib.Path(__file__).parent
AUTHORIZE = HERE / "playbooks" / "authorize_url" / "sign_in_url.yml"
REDEEM = HERE / "playbooks" / "redeem_code" / "redeem.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
CONFIDENTIAL_APP = "8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
CONFIDENTIAL_SECRET = "emu-secret-8c2a9f4e-value"
SINGLE_TENANT_APP = "1b7e4c2d-3a5f-4e8b-9c0d-6f2a1e3b4c33"
NO_PUBLIC_FLOWS_APP = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b44"
CONTOSO = "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"
CONSUMERS = "9188040d-6c67-4c5b-b112-36a304b66dad"
ADELE = "adele@contoso.onmicrosoft.com"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
DEFAULT_SCOPES = ["offline_access", "User.Read", "Files.Read", "Files.Read.All"]


class Flow:
    """The steps a user takes: authorize_url, sign-in in a browser, redeem_code; every run is kept."""

    def __init__(self, ansible_run, emulator, folder: pathlib.Path) -> None:
        self._run = ansible_run
        self._emulator = emulator
        self._folder = folder
        self.runs = []
        self.verifiers = []

    def authorize(self, client_id=PUBLIC_APP, **options) -> dict:
        """The whole authorize_url result, code verifier included, from a playbook run."""
        handover = self._folder / f"signin{len(self.runs)}.json"
        options.setdefault("login_url", self._emulator.base_url)
        run = self._run(AUTHORIZE, extra_vars=dict(client_id=client_id, handover=str(handover), **options))
        self.runs.append(run)
        assert run.rc == 0 and handover.exists(), run.output
        signin = json.loads(handover.read_text())
        self.verifiers.append(signin["code_verifier"])
        return signin

    def build(self, client_id=PUBLIC_APP, tenant="common", redirect_uri=NATIVE, scopes=DEFAULT_SCOPES) -> dict:
        """What authorize() gives, from the module's own module_utils in-process: tests of redeem_code's
        failures need a sign-in, not another playbook run (authorize() covers the module)."""
        verifier, state = new_verifier(), new_state()
        self.verifiers.append(verifier)
        url = endpoints(tenant=tenant, login_url=self._emulator.base_url).authorize_url(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_challenge=s256_challenge(verifier),
        )
        return dict(url=url, state=state, code_verifier=verifier)

    def sign_in(self, user, client_id=PUBLIC_APP, consent=True, playbook=False, **options) -> tuple[dict, str]:
        """A sign-in (built by a playbook run when asked) and the address the browser ends on."""
        signin = (self.authorize if playbook else self.build)(client_id, **options)
        return signin, self._emulator.sign_in(signin["url"], user, consent=consent)

    def redeem(self, client_id=PUBLIC_APP, check=False, **variables) -> dict:
        """Runs redeem_code; returns its result without the tokens, plus the task's status. A variable set to
        None is left out."""
        variables = dict(
            dict(emulator_url=self._emulator.base_url, ca_path=str(self._emulator.ca_path), client_id=client_id),
            **variables,
        )
        variables = {name: value for name, value in variables.items() if value is not None}
        run = self._run(REDEEM, extra_vars=dict(token_file=str(self.token_file), **variables), check=check)
        self.runs.append(run)
        assert run.rc == 0, run.output
        status = next(task["status"] for task in run.tasks if task["name"] == "Redeem")
        return dict(run.task("Report")["msg"], status=status)

    @property
    def token_file(self) -> pathlib.Path:
        return self._folder / "tokens.json"

    def tokens(self) -> dict:
        return json.loads(self.token_file.read_text())


@pytest.fixture
def flow(ansible_run, emulator, tmp_path):
    """A Flow; afterwards no secret the emulator issued or received, nor any code verifier, was shown."""
    flow = Flow(ansible_run, emulator, tmp_path)
    yield flow
    secrets = [*emulator.issued(), *flow.verifiers]
    for run in flow.runs:
        shown = run.output + json.dumps(run.tasks)
        leaked = [secret for secret in secrets if secret in shown]
        assert not leaked, f"{len(leaked)} secret(s) in the output of a run"


def token_requests(emulator) -> int:
    return emulator.log()["counts"].get("token", 0)


def refresh_works(emulator, client_id, refresh_token, **form) -> bool:
    """Whether the emulator accepts the refresh token, as a client outside Ansible would use it."""
    response = requests.post(
        f"{emulator.base_url}/common/oauth2/v2.0/token",
        data=dict(client_id=client_id, grant_type="refresh_token", refresh_token=refresh_token, **form),
        verify=emulator.ca_path,
        timeout=30,
    )
    return response.status_code == 200


def redeem_pasted(flow, signin, response, **variables):
    return flow.redeem(response_url=response, state=signin["state"], code_verifier=signin["code_verifier"], **variables)


def test_work_account_with_a_public_app(flow, emulator):
    signin, response = flow.sign_in(ADELE, playbook=True, scopes=["offline_access User.Read Files.Read openid"])
    result = redeem_pasted(flow, signin, f"\n  {response}  \n")
    assert result["status"] == "changed"
    assert set(result["granted_scopes"]) == {"offline_access", "openid", "User.Read", "Files.Read"}
    assert result["token_type"] == "Bearer" and 3600 <= result["expires_in"] < 5400
    assert result["access_token_expires_at"].endswith("Z")
    assert result["tenant_id"] == CONTOSO
    assert result["id_token_claims"]["preferred_username"] == ADELE and result["id_token_claims"]["tid"] == CONTOSO
    assert set(result["id_token_claims"]) <= {"tid", "oid", "preferred_username", "name"}
    assert refresh_works(emulator, PUBLIC_APP, flow.tokens()["refresh_token"])


def test_personal_account(flow):
    signin, response = flow.sign_in(
        "megan@outlook.com", playbook=True, tenant="consumers", scopes=["offline_access", "Files.Read", "openid"]
    )
    result = redeem_pasted(flow, signin, response, tenant="consumers")
    assert result["status"] == "changed" and result["tenant_id"] == CONSUMERS
    assert set(result["granted_scopes"]) == {"offline_access", "openid", "Files.Read"}
    assert flow.tokens()["refresh_token"].startswith("M.C5")


def test_confidential_app_with_a_bare_code(flow, emulator):
    signin, response = flow.sign_in(
        "alex@fabrikam.onmicrosoft.com",
        client_id=CONFIDENTIAL_APP,
        playbook=True,
        tenant="organizations",
        redirect_uri="http://localhost/callback",
    )
    assert response.startswith("http://localhost/callback?")
    result = flow.redeem(
        client_id=CONFIDENTIAL_APP,
        client_secret=CONFIDENTIAL_SECRET,
        tenant="organizations",
        redirect_uri="http://localhost/callback",
        code=parse_qs(urlsplit(response).query)["code"][0],
        code_verifier=signin["code_verifier"],
    )
    assert result["status"] == "changed" and result["tenant_id"] is None
    assert refresh_works(emulator, CONFIDENTIAL_APP, flow.tokens()["refresh_token"], client_secret=CONFIDENTIAL_SECRET)


def test_single_tenant_app_through_its_tenant_domain(flow, emulator):
    signin, response = flow.sign_in(ADELE, client_id=SINGLE_TENANT_APP, playbook=True, tenant="contoso.onmicrosoft.com")
    result = redeem_pasted(flow, signin, response, client_id=SINGLE_TENANT_APP, tenant="contoso.onmicrosoft.com")
    assert result["status"] == "changed"


def test_check_mode_does_not_redeem(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    checked = redeem_pasted(flow, signin, response, check=True)
    assert checked["status"] == "changed" and "not redeemed" in checked["msg"]
    assert "granted_scopes" not in checked and token_requests(emulator) == 0
    assert redeem_pasted(flow, signin, response)["status"] == "changed"


def test_throttling_within_the_bound_is_retried(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    emulator.fault("token", "status", status=429, retry_after="0.2")
    emulator.fault("token", "status", status=503)
    assert redeem_pasted(flow, signin, response)["status"] == "changed"
    assert token_requests(emulator) == 3


def test_a_code_is_never_sent_twice_once_it_may_have_arrived(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    emulator.fault("token", "drop")
    result = redeem_pasted(flow, signin, response)
    assert (result["status"], result["reason"]) == ("failed", "network")
    assert token_requests(emulator) == 1


def test_throttling_beyond_the_bound_fails_with_the_wait(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    emulator.fault("token", "status", status=429, retry_after=120)
    result = redeem_pasted(flow, signin, response, max_retry_wait=30)
    assert (result["status"], result["reason"], result["retry_after"]) == ("failed", "throttled", 120)
    assert token_requests(emulator) == 1


def test_untrusted_certificate_fails_with_tls(flow, emulator):
    result = flow.redeem(code="any", ca_path=None)
    assert result["reason"] == "tls" and "ca_path" in result["msg"]


# Each error class: what the service (or the pasted response) says, and the reason the module gives.


def test_code_redeemed(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    assert redeem_pasted(flow, signin, response)["status"] == "changed"
    result = redeem_pasted(flow, signin, response)
    assert (result["status"], result["reason"], result["error"], result["error_codes"]) == (
        "failed",
        "code_redeemed",
        "invalid_grant",
        [54005],
    )
    assert result["msg"].startswith("The code was already used; sign in again")
    assert result["trace_id"] and result["correlation_id"]


def test_code_expired(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    emulator.advance_clock(601)
    assert redeem_pasted(flow, signin, response)["reason"] == "code_expired"


@pytest.mark.parametrize("verifier", ["another sign-in's", "none"])
def test_pkce_mismatch(flow, emulator, verifier):
    signin, response = flow.sign_in(ADELE)
    other = flow.build()["code_verifier"] if verifier != "none" else None
    result = flow.redeem(response_url=response, state=signin["state"], code_verifier=other)
    assert result["reason"] == "pkce_mismatch" and "code_verifier" in result["msg"]


def test_redirect_mismatch(flow, emulator):
    signin, response = flow.sign_in(ADELE, redirect_uri="http://localhost")
    assert response.startswith("http://localhost/?code=")
    result = redeem_pasted(flow, signin, response)  # redirect_uri left at its default, the nativeclient URI
    # Seen by the address's origin, before the code is spent on a token request the service would refuse.
    assert result["reason"] == "redirect_mismatch" and "give redirect_uri as it was at sign-in" in result["msg"]
    assert token_requests(emulator) == 0


def test_state_mismatch_makes_no_token_request(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    other = flow.build()
    result = flow.redeem(response_url=response, state=other["state"], code_verifier=signin["code_verifier"])
    assert result["reason"] == "state_mismatch" and token_requests(emulator) == 0


def test_declined_consent_makes_no_token_request(flow, emulator):
    signin, response = flow.sign_in(ADELE, consent=False)
    assert "error=access_denied" in response
    result = redeem_pasted(flow, signin, response)
    assert (result["reason"], result["error"]) == ("access_denied", "access_denied")
    assert "Microsoft said: AADSTS" in result["msg"] and result["trace_id"] and result["correlation_id"]
    assert token_requests(emulator) == 0


def test_invalid_scope_at_sign_in_makes_no_token_request(flow, emulator):
    signin, response = flow.sign_in(ADELE, scopes=["offline_access", "Files.Bogus"])
    result = redeem_pasted(flow, signin, response)
    assert (result["reason"], result["error_codes"]) == ("invalid_scope", [70011])
    assert token_requests(emulator) == 0


def test_invalid_scope_at_redemption(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    result = redeem_pasted(flow, signin, response, scopes=["Files.Bogus"])
    assert (result["reason"], result["error"]) == ("invalid_scope", "invalid_scope")


def test_without_offline_access_fails_naming_it(flow):
    # A sign-in URL built without offline_access, as by hand: authorize_url would add it.
    signin, response = flow.sign_in(ADELE, scopes=["User.Read", "Files.Read"])
    result = redeem_pasted(flow, signin, response)
    assert result["reason"] == "missing_scope" and "offline_access" in result["msg"]


def test_public_client_sending_a_secret(flow, emulator):
    signin, response = flow.sign_in(ADELE)
    result = redeem_pasted(flow, signin, response, client_secret="not-for-public-clients")
    assert (result["reason"], result["error_codes"]) == ("invalid_client", [700025])
    assert "remove client_secret" in result["msg"]


@pytest.mark.parametrize("client_id", [CONFIDENTIAL_APP, NO_PUBLIC_FLOWS_APP])
def test_missing_client_secret(flow, emulator, client_id):
    signin, response = flow.sign_in(ADELE, client_id=client_id, tenant="organizations")
    result = redeem_pasted(flow, signin, response, client_id=client_id, tenant="organizations")
    assert (result["reason"], result["error_codes"]) == ("client_secret_required", [7000218])
    assert "Allow public client flows" in result["msg"]


def test_wrong_client_secret(flow, emulator):
    signin, response = flow.sign_in(ADELE, client_id=CONFIDENTIAL_APP)
    result = redeem_pasted(flow, signin, response, client_id=CONFIDENTIAL_APP, client_secret="emu-secret-wrong")
    assert (result["reason"], result["error_codes"]) == ("invalid_client", [7000215])


def test_app_not_found(flow):
    result = flow.redeem(client_id="00000000-1111-2222-3333-444444444444", code="any-code")
    assert (result["reason"], result["error"], result["error_codes"]) == (
        "app_not_found",
        "unauthorized_client",
        [700016],
    )
