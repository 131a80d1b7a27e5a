"""The register_app playbook, from nothing: an administrator signs in with a device code, the app is registered,
a connection is bootstrapped with its client ID and verified; the registration run again changes nothing; no
device code, code or token shows at -vvvv."""

from __future__ import annotations

import re

import yaml

from background_run import BackgroundRun
from conftest import REPO_PLAYBOOKS
from test_role_secrets import everything_shown

ADMIN = "admin@contoso.onmicrosoft.com"
ADELE = "adele@contoso.onmicrosoft.com"
CODE = r"enter the code (\w+)"


def register_app(ansible_run, emulator, user=ADMIN, **extra_vars):
    """The playbook in the background at -vvvv, with ``user`` signing in at its device code; the finished run."""
    variables = dict(
        onedrive_login_url=emulator.base_url,
        onedrive_graph_url=emulator.base_url,
        onedrive_ca_path=str(emulator.ca_path),
        **extra_vars,
    )
    run = BackgroundRun(ansible_run, REPO_PLAYBOOKS / "register_app.yml", extra_vars=variables, verbosity=4)
    code = run.wait_for(r"Administrator sign-in: To sign in, use a web browser to open the page \S+ and " + CODE)
    emulator.device_sign_in(code.group(1), user)
    return run.finish()


def assert_no_secret_shown(emulator, *runs):
    secrets = set(emulator.issued())
    for run in runs:
        text = everything_shown(run)
        assert not [secret[:8] for secret in secrets if secret in text]


def test_from_nothing_to_a_verified_connection(ansible_run, emulator, collection_playbook, tmp_path):
    emulator.device_answer(interval=1)
    app_file = tmp_path / "app.yml"
    first = register_app(ansible_run, emulator, onedrive_app_file=str(app_file))
    assert first.rc == 0, first.output[-3000:]
    client_id = yaml.safe_load(app_file.read_text())["onedrive_client_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", client_id)
    assert f"App registration onedrive-plugin: client ID {client_id}" in first.output
    assert f"-e onedrive_client_id={client_id}" in first.output
    made = first.task("Make the app registration as declared")
    assert made["changed"] is True and made["created"] is True

    # A connection with the new app's client ID: the bootstrap's device-code sign-in, and its Graph check.
    bootstrap = BackgroundRun(
        ansible_run,
        REPO_PLAYBOOKS / "bootstrap.yml",
        verbosity=4,
        extra_vars=dict(
            onedrive_client_id=client_id,
            onedrive_connection="robot1",
            onedrive_vault_file=str(collection_playbook.vault),
            onedrive_login_url=emulator.base_url,
            onedrive_graph_url=emulator.base_url,
            onedrive_ca_path=str(emulator.ca_path),
            onedrive_sign_in="device_code",
        ),
        vault_password_file=collection_playbook.password_file,
    )
    emulator.device_sign_in(bootstrap.wait_for(CODE).group(1), ADELE)
    connected = bootstrap.finish()
    assert connected.rc == 0, connected.output[-3000:]
    assert f"Connection robot1 now works: {ADELE}" in connected.output
    stored = collection_playbook.read()["onedrive_connections"]["robot1"]
    assert stored["client_id"] == client_id

    # Verified once more, as the plugin's Test Connection does, with the stored token.
    verified = collection_playbook(
        "configure_plugin",
        extra_vars=dict(
            onedrive_plugin_config_path=str(tmp_path / "plugin" / "onedrive.json"),
            onedrive_plugin_owner="",
            onedrive_plugin_group="",
            onedrive_plugin_test_after=0,
        ),
    )
    assert verified.rc == 0, verified.output[-3000:]
    assert f"refresh token redeemed and verified as {ADELE}" in verified.output

    # The registration again: nothing changes, and no write reaches Graph.
    emulator.clear_log()
    again = register_app(ansible_run, emulator, onedrive_app_file=str(app_file))
    assert again.rc == 0, again.output[-3000:]
    assert again.task("Make the app registration as declared")["changed"] is False
    assert again.changed == 0
    assert not [r for r in emulator.log()["requests"] if r["endpoint"] == "applications" and r["method"] != "GET"]
    assert_no_secret_shown(emulator, first, connected, again)


def test_a_user_without_the_permission_is_told_what_is_missing(ansible_run, emulator):
    emulator.device_answer(interval=1)
    # Adele may sign in to the tool, but its consent gives her token no directory role for admin consent.
    refused = register_app(ansible_run, emulator, user=ADELE, onedrive_app_admin_consent=True)
    assert refused.rc != 0
    result = refused.task("Make the app registration as declared")
    assert result["reason"] == "forbidden" and "DelegatedPermissionGrant.ReadWrite.All" in result["msg"]
    assert_no_secret_shown(emulator, refused)


def test_with_a_token_already_at_hand_and_state_absent(ansible_run, emulator):
    token = emulator.grant("14d82eec-204b-4c2f-b7e8-296a70dab67e", ADMIN, ["Application.ReadWrite.All"])["access_token"]
    common = dict(
        onedrive_login_url=emulator.base_url,
        onedrive_graph_url=emulator.base_url,
        onedrive_ca_path=str(emulator.ca_path),
        onedrive_admin_access_token=token,
    )
    preview = ansible_run(REPO_PLAYBOOKS / "register_app.yml", extra_vars=common, check=True)
    assert preview.rc == 0, preview.output
    assert "would be created (check mode)" in preview.output
    made = ansible_run(REPO_PLAYBOOKS / "register_app.yml", extra_vars=common)
    assert made.rc == 0 and made.changed == 1
    gone = ansible_run(REPO_PLAYBOOKS / "register_app.yml", extra_vars=dict(common, onedrive_app_state="absent"))
    assert gone.rc == 0 and gone.changed == 1 and "onedrive-plugin: none" in gone.output
    assert (
        ansible_run(REPO_PLAYBOOKS / "register_app.yml", extra_vars=dict(common, onedrive_app_state="absent")).changed
        == 0
    )
