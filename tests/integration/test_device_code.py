"""onedrive.connection.device_code and redeem_code given device_code: real ansible-playbook runs that poll the
emulator while a user signs in on its /devicelogin page."""

from __future__ import annotations

import json
import pathlib
import threading

import pytest
import requests

from background_run import BackgroundRun

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "device_code" / "sign_in.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
NO_PUBLIC_FLOWS_APP = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b44"
ADELE = "adele@contoso.onmicrosoft.com"


def variables(emulator, tmp_path, **extra):
    return {
        **dict(client_id=PUBLIC_APP, emulator_url=emulator.base_url, ca_path=str(emulator.ca_path),
               handover=str(tmp_path / "user_code"), token_file=str(tmp_path / "tokens.json")),
        **extra,
    }


def reported(run, name="Report"):
    return run.task(name)["msg"]


def no_secret_shown(emulator, *runs):
    secrets = emulator.issued()
    assert any(secret.startswith("DAQABIQEAAAD") for secret in secrets), "a device code was issued"
    for run in runs:
        shown = run.output + json.dumps(run.tasks)
        assert not [secret for secret in secrets if secret in shown]


def sign_in_when_asked(emulator, tmp_path, consent=True, before=None):
    """Signs Adele in on /devicelogin once the playbook handed the user code over; returns the thread."""

    def act():
        handover = tmp_path / "user_code"
        for _ in range(600):
            if handover.exists() and handover.read_text():
                break
            threading.Event().wait(0.1)
        if before:
            before()
        emulator.device_sign_in(handover.read_text(), ADELE, consent=consent)

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def test_device_code_sign_in_returns_what_a_code_redemption_returns(ansible_run, emulator, tmp_path):
    emulator.device_answer(interval=1)
    run = BackgroundRun(ansible_run, PLAYBOOK, extra_vars=variables(emulator, tmp_path))
    shown = run.wait_for(r"enter the code (\w+) to authenticate")
    emulator.device_sign_in(shown.group(1), ADELE)
    result = run.finish()
    assert result.rc == 0, result.output
    device = reported(result, "Show the message")
    assert device["user_code"] == shown.group(1) and device["interval"] == 1 and device["expires_in"] == 900
    assert device["verification_uri"] == f"{emulator.base_url}/devicelogin" and device["expires_at"].endswith("Z")
    assert "verification_uri_complete" not in device
    tokens = reported(result)
    assert tokens["changed"] is True and tokens["token_type"] == "Bearer"
    assert set(tokens) >= {"granted_scopes", "expires_in", "access_token_expires_at", "tenant_id", "id_token_claims"}
    stored = json.loads((tmp_path / "tokens.json").read_text())
    answer = requests.post(
        f"{emulator.base_url}/common/oauth2/v2.0/token", verify=emulator.ca_path, timeout=30,
        data=dict(client_id=PUBLIC_APP, grant_type="refresh_token", refresh_token=stored["refresh_token"]),
    )
    assert answer.status_code == 200
    no_secret_shown(emulator, result)


def test_an_rfc_8628_answer_without_interval_and_message(ansible_run, emulator, tmp_path):
    emulator.device_answer(omit=["interval", "message"], complete=True)
    thread = sign_in_when_asked(emulator, tmp_path)
    result = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path))
    thread.join(30)
    assert result.rc == 0, result.output
    device = reported(result, "Show the message")
    assert device["interval"] == 5
    assert device["verification_uri_complete"] == f"{emulator.base_url}/devicelogin?otc={device['user_code']}"
    # Composed, since the server sent none.
    assert device["message"] == (
        f"To sign in, open {device['verification_uri_complete']} in a web browser, or open"
        f" {device['verification_uri']} and enter the code {device['user_code']}."
    )
    assert reported(result)["changed"] is True


@pytest.mark.parametrize(("prepare", "reason"), [
    ("declined", "access_denied"),
    ("expired", "code_expired"),
])
def test_final_answers_are_mapped(ansible_run, emulator, tmp_path, prepare, reason):
    emulator.device_answer(interval=1, expires_in=3 if prepare == "expired" else None)
    if prepare == "declined":
        thread = sign_in_when_asked(emulator, tmp_path, consent=False)
    result = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, use_expires_at=prepare != "expired"))
    assert result.rc == 0, result.output
    tokens = reported(result)
    assert tokens["failed"] is True and tokens["reason"] == reason, tokens
    if prepare == "declined":
        thread.join(30)
        assert tokens["error"] == "authorization_declined"
    else:
        assert tokens["error"] == "expired_token"
    no_secret_shown(emulator, result)


def test_wait_timeout_ends_the_wait_with_its_reason(ansible_run, emulator, tmp_path):
    emulator.device_answer(interval=1)
    result = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, wait_timeout=2))
    tokens = reported(result)
    assert tokens["reason"] == "sign_in_timeout" and "wait_timeout (2 s)" in tokens["msg"]


def test_an_unknown_device_code_is_code_invalid(ansible_run, emulator, tmp_path):
    playbook = tmp_path / "unknown.yml"
    playbook.write_text(f"""---
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Wait
      onedrive.connection.redeem_code:
        client_id: {PUBLIC_APP}
        login_url: {emulator.base_url}
        ca_path: {emulator.ca_path}
        device_code: DAQABIQEAAADnothing
      register: redeemed
      ignore_errors: true
    - name: Report
      ansible.builtin.debug:
        msg: "{{{{ redeemed }}}}"
""")
    result = ansible_run(playbook)
    assert reported(result)["reason"] == "code_invalid"
    assert "DAQABIQEAAADnothing" not in result.output


def test_public_client_flows_off(ansible_run, emulator, tmp_path):
    result = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, client_id=NO_PUBLIC_FLOWS_APP))
    assert reported(result)["reason"] == "client_secret_required"


def test_a_poll_that_may_have_arrived_is_not_sent_again(ansible_run, emulator, tmp_path):
    emulator.device_answer(interval=1)
    emulator.fault("token", "drop")
    result = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path))
    assert reported(result)["reason"] == "network"
    assert emulator.log()["counts"].get("token", 0) == 1


def test_unknown_app_fails_at_the_start(ansible_run, emulator, tmp_path):
    result = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, client_id="00000000-1111-4222-8333-444444444444"))
    device = reported(result, "Show the message")
    assert device["failed"] is True and device["reason"] == "app_not_found"
