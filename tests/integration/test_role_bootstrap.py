"""The onedrive.connection.bootstrap role, through the collection's bootstrap playbook."""

from __future__ import annotations

import re

ADELE = "adele@contoso.onmicrosoft.com"
SIGN_IN_URL = re.compile(r"https://127\.0\.0\.1:\d+/common/oauth2/v2\.0/authorize\?[^\s\"'\\]+")
PROMPT = "Paste the address-bar URL"
CONFIDENTIAL_APP = "8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
CONFIDENTIAL_SECRET = "emu-secret-8c2a9f4e-value"  # the emulator's fixture


def sign_in_url(output):
    return SIGN_IN_URL.findall(output)[-1]


def test_without_a_terminal_it_stops_with_the_url_then_redeems_the_pasted_address_bar(emulator, collection_playbook):
    first = collection_playbook("bootstrap")
    assert first.rc != 0
    assert "No sign-in response for connection robot1" in first.output
    assert "-e onedrive_auth_response='<the address-bar URL>'" in first.output
    assert f"ansible-playbook onedrive.connection.bootstrap --vault-password-file {collection_playbook.password_file}" in first.output
    assert "-e onedrive_auth_response_file=<that file>" in first.output
    pending = collection_playbook.read()["onedrive_pending_authorizations"]["robot1"]
    assert pending["code_verifier"] and pending["state"]

    address_bar = emulator.sign_in(sign_in_url(first.output), ADELE)
    second = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": f"  {address_bar}\n"})
    assert second.rc == 0, second.output
    stored = collection_playbook.read()
    assert "robot1" not in stored.get("onedrive_pending_authorizations", {})
    connection = stored["onedrive_connections"]["robot1"]
    assert connection["user_principal_name"] == ADELE and connection["drive_type"] == "business"
    assert connection["account_type"] == "work" and connection["obtained_at"] <= connection["verified_at"]
    assert {"offline_access", "Files.Read"} <= set(connection["granted_scopes"])
    assert connection["client_id"] == "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"

    emulator.clear_log()
    before = collection_playbook.vault.read_bytes(), collection_playbook.vault.stat().st_mtime_ns
    third = collection_playbook("bootstrap")
    assert (third.rc, third.changed) == (0, 0), third.output
    assert "Connection robot1 works" in third.output and PROMPT not in third.output
    assert emulator.log()["counts"] == {"batch": 1}
    assert (collection_playbook.vault.read_bytes(), collection_playbook.vault.stat().st_mtime_ns) == before


def test_on_a_terminal_it_prompts_for_the_address_bar(emulator, collection_playbook, ansible_run):
    # The collection_playbook fixture's variables, run on a terminal instead.
    def answer(screen):
        return emulator.sign_in(sign_in_url(screen), "megan@outlook.com")

    run = collection_playbook("bootstrap", terminal=(PROMPT, answer))
    assert run.rc == 0, run.output
    connection = collection_playbook.read()["onedrive_connections"]["robot1"]
    assert connection["account_type"] == "personal" and connection["drive_type"] == "personal"
    for secret in emulator.issued():
        assert secret not in run.output


def test_a_pasted_error_redirect_fails_with_what_to_do_and_redeems_nothing(emulator, collection_playbook):
    first = collection_playbook("bootstrap")
    cancelled = emulator.sign_in(sign_in_url(first.output), ADELE, consent=False)
    assert "error=access_denied" in cancelled
    emulator.clear_log()

    run = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": cancelled})
    assert run.rc != 0
    assert "Signing in connection robot1 failed (access_denied)" in run.output
    assert "token" not in emulator.log()["counts"]
    # The sign-in URL is still pending, so signing in again with it works.
    accepted = emulator.sign_in(sign_in_url(first.output), ADELE)
    assert collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": accepted}).rc == 0


def test_a_revoked_grant_leads_to_a_new_sign_in(emulator, collection_playbook):
    first = collection_playbook("bootstrap")
    answer = emulator.sign_in(sign_in_url(first.output), ADELE)
    assert collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": answer}).rc == 0
    emulator.revoke(ADELE)
    emulator.advance_clock(2 * 3600)  # issued access tokens outlive a revocation until they expire

    run = collection_playbook("bootstrap")
    assert run.rc != 0
    assert "no longer works (token_revoked): signing in again" in run.output
    assert "No sign-in response for connection robot1" in run.output


def test_a_graph_outage_after_redeeming_keeps_the_new_token(emulator, collection_playbook):
    first = collection_playbook("bootstrap")
    answer = emulator.sign_in(sign_in_url(first.output), ADELE)
    emulator.fault("batch", "status", status=503, count=1)
    failed = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": answer, "onedrive_max_retry_wait": 0})
    assert failed.rc != 0 and "is stored but does not work (server_error)" in failed.output, failed.output[-1500:]
    assert "refresh_token" in collection_playbook.read()["onedrive_connections"]["robot1"]

    again = collection_playbook("bootstrap")
    assert again.rc == 0, again.output
    assert "Connection robot1 works" in again.output and PROMPT not in again.output


def test_a_web_app_s_secret_is_stored_with_its_token_and_rotation_uses_it(emulator, collection_playbook):
    web_app = dict(onedrive_client_id=CONFIDENTIAL_APP, onedrive_client_secret=CONFIDENTIAL_SECRET)
    first = collection_playbook("bootstrap", extra_vars=web_app)
    address_bar = emulator.sign_in(sign_in_url(first.output), ADELE)
    second = collection_playbook("bootstrap", extra_vars=dict(web_app, onedrive_auth_response=address_bar))
    assert second.rc == 0, second.output
    stored = collection_playbook.read()["onedrive_connections"]["robot1"]
    assert stored["client_secret"] == CONFIDENTIAL_SECRET and stored["client_id"] == CONFIDENTIAL_APP

    # The rotate role is given no secret: the stored one authenticates the refresh.
    rotated = collection_playbook("rotate", extra_vars={"onedrive_rotate_force": True}, verbosity=4)
    assert rotated.rc == 0, rotated.output
    assert "robot1: rotated (adele@contoso.onmicrosoft.com)" in rotated.output
    after = collection_playbook.read()["onedrive_connections"]["robot1"]
    assert after["refresh_token"] != stored["refresh_token"] and after["client_secret"] == CONFIDENTIAL_SECRET
    for run in (first, second, rotated):
        assert CONFIDENTIAL_SECRET not in run.output
