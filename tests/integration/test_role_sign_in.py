"""The bootstrap role's ways of signing in without pasting: onedrive_sign_in=device_code and loopback, through
real ansible-playbook runs at -vvvv, none of which shows a device code, code or token."""

from __future__ import annotations

import re
import socket

from background_run import BackgroundRun
from conftest import PUBLIC_APP, REPO_PLAYBOOKS
from test_receive_redirect import free_port, get
from test_role_secrets import everything_shown

ADELE = "adele@contoso.onmicrosoft.com"
URL = re.compile(r"(https://[^\s\"']+/oauth2/v2\.0/authorize\?[^\s\"']+)")


def start(ansible_run, emulator, collection_playbook, **extra_vars):
    """The bootstrap playbook in the background, as collection_playbook runs it, at -vvvv."""
    variables = dict(
        onedrive_client_id=PUBLIC_APP, onedrive_connection="robot1", onedrive_vault_file=str(collection_playbook.vault),
        onedrive_login_url=emulator.base_url, onedrive_graph_url=emulator.base_url,
        onedrive_ca_path=str(emulator.ca_path), **extra_vars,
    )
    return BackgroundRun(ansible_run, REPO_PLAYBOOKS / "bootstrap.yml", extra_vars=variables, verbosity=4,
                         vault_password_file=collection_playbook.password_file)


def assert_nothing_secret(emulator, collection_playbook, *runs):
    secrets = set(emulator.issued())
    stored = collection_playbook.read()["onedrive_connections"]["robot1"]
    secrets |= {stored["refresh_token"], stored["access_token"]}
    for run in runs:
        text = everything_shown(run)
        assert not [secret[:8] for secret in secrets if secret in text]


def test_device_code(ansible_run, emulator, collection_playbook):
    emulator.device_answer(interval=1)
    run = start(ansible_run, emulator, collection_playbook, onedrive_sign_in="device_code")
    code = run.wait_for(r"Connection robot1: To sign in, use a web browser to open the page \S+ and enter the code (\w+)")
    # The message shows while the run still waits: the task that polls has not finished.
    assert "Connection robot1 now works" not in run.output
    emulator.device_sign_in(code.group(1), ADELE)
    result = run.finish()
    assert result.rc == 0, result.output[-3000:]
    assert "Connection robot1 now works: adele@contoso.onmicrosoft.com" in result.output
    assert any(s.startswith("DAQABIQEAAAD") for s in emulator.issued()), "the device code counts as a secret"
    assert_nothing_secret(emulator, collection_playbook, result)
    again = collection_playbook("bootstrap", extra_vars={"onedrive_sign_in": "device_code"})
    assert again.rc == 0 and again.changed == 0 and "nothing to do" in again.output


def test_device_code_declined(ansible_run, emulator, collection_playbook):
    emulator.device_answer(interval=1)
    run = start(ansible_run, emulator, collection_playbook, onedrive_sign_in="device_code")
    code = run.wait_for(r"enter the code (\w+)")
    emulator.device_sign_in(code.group(1), ADELE, consent=False)
    result = run.finish()
    assert result.rc != 0
    assert "Signing in connection robot1 failed (access_denied): The user declined" in result.output


def test_device_code_timeout_names_the_role_variable(collection_playbook, emulator):
    emulator.device_answer(interval=1)
    result = collection_playbook(
        "bootstrap", extra_vars={"onedrive_sign_in": "device_code", "onedrive_sign_in_timeout": "2"}
    )
    assert result.rc != 0
    assert "failed (sign_in_timeout): Nobody finished signing in within onedrive_sign_in_timeout (2 s)" in result.output


def test_loopback(ansible_run, emulator, collection_playbook):
    port = free_port()
    run = start(ansible_run, emulator, collection_playbook, onedrive_sign_in="loopback",
                onedrive_loopback_redirect_uri=f"http://localhost:{port}/")
    url = run.wait_for(URL).group(1)
    assert f"ssh -L {port}:127.0.0.1:{port} <controller>" in run.output
    page = get(emulator.sign_in(url, ADELE))
    assert page.status_code == 200 and "You can close this tab" in page.text
    result = run.finish()
    assert result.rc == 0, result.output[-3000:]
    assert "Connection robot1 now works: adele@contoso.onmicrosoft.com" in result.output
    assert_nothing_secret(emulator, collection_playbook, result)


def test_loopback_port_in_use(collection_playbook):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = collection_playbook("bootstrap", extra_vars={
            "onedrive_sign_in": "loopback", "onedrive_loopback_redirect_uri": f"http://127.0.0.1:{port}/cb",
        })
    assert result.rc != 0
    assert f"failed (port_in_use): Port {port} on 127.0.0.1 is in use" in result.output
    assert "choose another port in onedrive_loopback_redirect_uri" in result.output


def test_loopback_refuses_another_redirect_uri(collection_playbook):
    result = collection_playbook("bootstrap", extra_vars={
        "onedrive_sign_in": "loopback", "onedrive_loopback_redirect_uri": "https://login.microsoftonline.com/common/oauth2/nativeclient",
    })
    assert result.rc != 0 and "failed (invalid_option): onedrive_loopback_redirect_uri must be http://localhost" in result.output


def test_sign_in_method_is_validated(collection_playbook):
    result = collection_playbook("bootstrap", extra_vars={"onedrive_sign_in": "carrier_pigeon"})
    assert result.rc != 0 and "onedrive_sign_in" in result.output
