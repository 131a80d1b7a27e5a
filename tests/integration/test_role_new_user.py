"""The bootstrap and rotate roles as a new user meets them (issue 12): each test reproduces what such a user saw."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from conftest import VAULT_PASSWORD
from test_role_bootstrap import ADELE, PROMPT, sign_in_url

NO_DRIVE = "nodrive@contoso.onmicrosoft.com"
LIB = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])


def pending(collection_playbook) -> dict:
    return collection_playbook.read().get("onedrive_pending_authorizations", {})


def test_a_pending_sign_in_is_reused_only_while_nothing_that_shapes_its_url_changed(emulator, collection_playbook):
    first = collection_playbook("bootstrap")
    url = sign_in_url(first.output)
    assert sign_in_url(collection_playbook("bootstrap").output) == url  # the same sign-in, still pending

    # A single-tenant app on /common fails in the browser; the user names the tenant and forces a new sign-in.
    fixed = collection_playbook(
        "bootstrap", extra_vars={"onedrive_tenant": "contoso.onmicrosoft.com", "onedrive_force_authorize": True}
    )
    new_url = re.findall(r"https://127\.0\.0\.1:\d+/contoso\.onmicrosoft\.com/oauth2/v2\.0/authorize\?\S+", fixed.output)
    assert new_url and "/common/" not in new_url[-1], fixed.output
    assert pending(collection_playbook)["robot1"]["sign_in"]["tenant"] == "contoso.onmicrosoft.com"

    # Forcing again starts anew even with every input the same...
    forced = collection_playbook(
        "bootstrap", extra_vars={"onedrive_tenant": "contoso.onmicrosoft.com", "onedrive_force_authorize": True}
    )
    assert re.findall(r"state=[^&\s]+", forced.output)[-1] != re.findall(r"state=[^&\s]+", new_url[-1])[-1]
    # ...but not for the run that answers it.
    latest = re.findall(r"https://127\.0\.0\.1:\d+/contoso\.onmicrosoft\.com/oauth2/v2\.0/authorize\?\S+", forced.output)[-1]
    answer = emulator.sign_in(latest, ADELE)
    done = collection_playbook("bootstrap", extra_vars={
        "onedrive_tenant": "contoso.onmicrosoft.com", "onedrive_force_authorize": True, "onedrive_auth_response": answer,
    })
    assert done.rc == 0, done.output


NUMBERS_AND_SWITCHES = {
    "onedrive_pending_lifetime": "0",
    "onedrive_force_authorize": "false",
    "onedrive_validate_certs": "true",
    "onedrive_timeout": "10",
    "onedrive_max_retry_wait": "5",
    "onedrive_check_drive": "false",
}


@pytest.mark.parametrize("name, value", NUMBERS_AND_SWITCHES.items(), ids=NUMBERS_AND_SWITCHES.keys())
def test_every_number_and_switch_works_given_as_text(emulator, collection_playbook, name, value):
    run = collection_playbook("bootstrap", extra_vars={name: value})
    assert "No sign-in response for connection robot1" in run.output, run.output
    assert "Error rendering template" not in run.output and "not supported between" not in run.output


def test_rotate_takes_its_numbers_and_switches_as_text(emulator, collection_playbook):
    run = collection_playbook("rotate", extra_vars={
        "onedrive_rotate_force": "false", "onedrive_rotate_check_not_due": "false", "onedrive_rotate_workers": "4",
        "onedrive_check_drive": "false", "onedrive_validate_certs": "true", "onedrive_timeout": "10",
    })
    assert "does not exist, so there is nothing to rotate" in run.output, run.output


def test_check_mode_shows_no_sign_in_url_it_could_not_honour(emulator, collection_playbook):
    run = collection_playbook("bootstrap", check=True)
    assert "Check mode: connection robot1 has no working token" in run.output, run.output
    assert "/oauth2/v2.0/authorize?" not in run.output and "Within 10 minutes" not in run.output
    assert not collection_playbook.vault.exists()


def test_an_account_without_a_drive_is_named_in_role_words_and_passes_with_onedrive_check_drive_false(
    emulator, collection_playbook
):
    first = collection_playbook("bootstrap")
    answer = emulator.sign_in(sign_in_url(first.output), NO_DRIVE)
    failed = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": answer})
    assert failed.rc != 0 and "(no_drive)" in failed.output
    assert "onedrive_check_drive=false" in failed.output and " check_drive=false" not in failed.output

    again = collection_playbook("bootstrap", extra_vars={"onedrive_check_drive": False})
    assert again.rc == 0, again.output
    rotated = collection_playbook("rotate", extra_vars={"onedrive_rotate_force": True, "onedrive_check_drive": False})
    assert rotated.rc == 0, rotated.output


def test_the_printed_command_runs_in_a_pipeline(emulator, collection_playbook, ansible_run, tmp_path):
    first = collection_playbook("bootstrap")
    command = re.findall(r"save it in a file and run: (ansible-playbook .*?)\s*\(-e onedrive_auth_response", first.output, re.S)[0]
    response = tmp_path / "response.txt"
    response.write_text(emulator.sign_in(sign_in_url(first.output), ADELE))
    words = shlex.split(command.replace("<that file>", str(response)))
    assert "--ask-vault-pass" not in words

    # As a pipeline runs it: no terminal, the same environment, nothing else given.
    env = ansible_run._environment(tmp_path, None)
    env["PATH"] = f"{ansible_run_bin()}{os.pathsep}{env['PATH']}"
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={env['ANSIBLE_PYTHON_INTERPRETER']}\n")
    done = subprocess.run(
        [*words, "-i", str(inventory)], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert collection_playbook.read()["onedrive_connections"]["robot1"]["user_principal_name"] == ADELE


def ansible_run_bin():
    from runner import BIN

    return BIN


def test_nothing_pasted_at_the_prompt_is_said_as_it_is(emulator, collection_playbook):
    run = collection_playbook("bootstrap", terminal=(PROMPT, lambda screen: ""))
    assert run.rc != 0
    assert "nothing was pasted at the prompt, or there was" in run.output, run.output
    assert "(input is hidden) (output is hidden)" not in run.output


def test_a_wrong_password_says_only_the_real_reason(emulator, collection_playbook, ansible_run, tmp_path):
    collection_playbook.vault.write_bytes(
        VaultLib([("default", VaultSecret(b"another password"))]).encrypt("onedrive_connections: {}\n")
    )
    before = collection_playbook.vault.read_bytes()
    run = collection_playbook("bootstrap")
    assert run.rc != 0 and "cannot be decrypted with the loaded vault secrets" in run.output, run.output
    assert "Unknown error" not in run.output and "rescued=1" not in run.output
    assert collection_playbook.vault.read_bytes() == before


@pytest.mark.parametrize("playbook", ["bootstrap", "rotate"])
def test_a_plain_text_file_is_refused_as_the_vault_and_left_alone(emulator, collection_playbook, playbook):
    collection_playbook.vault.write_text(
        yaml.safe_dump({"onedrive_connections": {"robot1": {"client_id": "x", "refresh_token": "plain-SECRET"}}})
    )
    before = collection_playbook.vault.read_bytes()
    run = collection_playbook(playbook)
    assert run.rc != 0
    assert "not an ansible-vault file" in run.output or "in plain text, not encrypted" in run.output, run.output
    assert collection_playbook.vault.read_bytes() == before and "plain-SECRET" not in run.output


def test_an_empty_file_is_refused_by_rotate(emulator, collection_playbook):
    collection_playbook.vault.write_text("")
    run = collection_playbook("rotate")
    assert run.rc != 0 and "is empty" in run.output, run.output


def test_pending_sign_ins_are_forgotten_once_expired_or_needless(emulator, collection_playbook):
    first = collection_playbook("bootstrap")
    # Another connection's sign-in, left unanswered long ago.
    data = collection_playbook.read()
    data["onedrive_pending_authorizations"]["old"] = dict(data["onedrive_pending_authorizations"]["robot1"], created_at="2000-01-01T00:00:00Z")
    collection_playbook.vault.write_bytes(LIB.encrypt(yaml.safe_dump(data)))

    answer = emulator.sign_in(sign_in_url(first.output), ADELE)
    assert collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": answer}).rc == 0
    assert pending(collection_playbook) == {}

    # A sign-in started by a forced run and never answered goes once the stored token is found to work.
    collection_playbook("bootstrap", extra_vars={"onedrive_force_authorize": True})
    assert "robot1" in pending(collection_playbook)
    assert collection_playbook("bootstrap").rc == 0
    assert pending(collection_playbook) == {}


def test_what_a_user_may_paste_is_recognised_for_what_it_is(emulator, collection_playbook):
    first = collection_playbook("bootstrap")
    address_bar = emulator.sign_in(sign_in_url(first.output), ADELE)
    code = address_bar.split("code=")[1].split("&")[0]

    only_the_code = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": code})
    assert "holds no state" in only_the_code.output and "forged" not in only_the_code.output

    # The sign-in page's own address, as the browser shows it when Microsoft cannot send it back (a mistyped app).
    error_page = sign_in_url(first.output).replace("client_id=", "client_id=0000").split("&state=")[0]
    explained = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": error_page})
    assert "AADSTS700016" in explained.output and "holds no code" not in explained.output, explained.output

    quoted = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": f"'\"{address_bar}\"'"})
    assert quoted.rc == 0, quoted.output
    for run in (only_the_code, explained, quoted):
        assert code not in run.output
