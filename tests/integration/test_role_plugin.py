"""The onedrive.connection.plugin role, through the collection's configure_plugin playbook."""

from __future__ import annotations

import datetime
import grp
import json
import os
import pwd
import re
import stat

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

ADELE = "adele@contoso.onmicrosoft.com"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
NODRIVE = "nodrive@contoso.onmicrosoft.com"
SCOPES = ["offline_access", "User.Read", "Files.Read"]


@pytest.fixture
def bootstrapped(emulator, collection_playbook):
    """Bootstraps connection robot1 the way a user does, and returns its stored record."""
    first = collection_playbook("bootstrap")
    url = next(word for word in first.output.split('"') if "/oauth2/v2.0/authorize?" in word)
    answer = emulator.sign_in(url, ADELE)
    assert collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": answer}).rc == 0
    return collection_playbook.read()["onedrive_connections"]["robot1"]


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text):
    return re.sub(r"\\(.)", lambda match: _ESCAPES.get(match[1], match[1]), text)


def parse_properties(text):
    """What java.util.Properties.load reads (for lines without continuations, which the role never writes)."""
    settings = {}
    for line in re.split(r"\r\n|\r|\n", text):
        line = line.lstrip(" \t\f")
        if not line or line[0] in "#!":
            continue
        key, dummy, value = re.match(r"((?:\\.|[^\\=: \t\f])*)[ \t\f]*([=:]?)[ \t\f]*(.*)", line).groups()
        settings[_unescape(key)] = _unescape(value)
    return settings


# Values each format must carry through: separators, line breaks, leading spaces and comment marks, null, a bool.
EXTRA_FIELDS = {
    "Name": "OneDrive robot1", " key = with: separators": " leading space", "#Comment": "!x=y:z\n\r\tend\\",
    "Nothing": None, "Flag": True,
}


@pytest.mark.parametrize(
    "file_format, parse",
    [("json", json.loads), ("yaml", yaml.safe_load), ("properties", parse_properties)],
)
def test_each_format_is_written_once_with_the_stored_token(
    emulator, collection_playbook, bootstrapped, tmp_path, file_format, parse
):
    path = tmp_path / f"plugin.{file_format}"
    options = dict(
        onedrive_plugin_config_path=str(path),
        onedrive_plugin_format=file_format,
        onedrive_plugin_fields={"client_id": "ClientId", "refresh_token": "RefreshToken"},
        onedrive_plugin_extra_fields=EXTRA_FIELDS,
    )
    run = collection_playbook("configure_plugin", extra_vars=options)
    assert (run.rc, run.changed) == (0, 1), run.output
    extra = EXTRA_FIELDS if file_format != "properties" else {
        key: "" if value is None else str(value).lower() if isinstance(value, bool) else value
        for key, value in EXTRA_FIELDS.items()
    }
    assert parse(path.read_text()) == {"ClientId": PUBLIC_APP, "RefreshToken": bootstrapped["refresh_token"], **extra}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Right after the bootstrap role, its sign-in proves the token.
    assert "Test Connection: robot1 refresh token proven by its sign-in" in run.output
    assert f"verified then as {ADELE}" in run.output
    assert bootstrapped["refresh_token"] not in run.output

    mtime = path.stat().st_mtime_ns
    again = collection_playbook("configure_plugin", extra_vars=options)
    assert (again.rc, again.changed) == (0, 0), again.output
    assert path.stat().st_mtime_ns == mtime


def test_a_rotation_by_test_connection_lands_in_the_vault_and_the_plugin_file(
    emulator, collection_playbook, bootstrapped, tmp_path
):
    path = tmp_path / "plugin.json"
    run = collection_playbook(
        "configure_plugin", extra_vars=dict(onedrive_plugin_config_path=str(path), onedrive_rotate_after="0")
    )
    assert run.rc == 0, run.output
    assert f"Test Connection: robot1 refresh token redeemed and verified as {ADELE}, drive business" in run.output
    stored = collection_playbook.read()["onedrive_connections"]["robot1"]
    assert stored["refresh_token"] != bootstrapped["refresh_token"]
    assert json.loads(path.read_text()) == {"client_id": PUBLIC_APP, "refresh_token": stored["refresh_token"]}


def test_without_test_connection_nothing_is_asked_of_microsoft(emulator, collection_playbook, bootstrapped, tmp_path):
    emulator.clear_log()
    path = tmp_path / "plugin.json"
    run = collection_playbook(
        "configure_plugin",
        extra_vars=dict(onedrive_plugin_config_path=str(path), onedrive_plugin_test_connection=False),
    )
    assert run.rc == 0, run.output
    assert emulator.log()["counts"] == {}
    assert json.loads(path.read_text())["refresh_token"] == bootstrapped["refresh_token"]


def test_a_connection_missing_from_the_vault_is_a_clear_error(collection_playbook, tmp_path, bootstrapped):
    run = collection_playbook(
        "configure_plugin",
        extra_vars=dict(onedrive_plugin_config_path=str(tmp_path / "p.json"), onedrive_connection="nope"),
    )
    assert run.rc != 0
    assert "holds no connection nope under onedrive_connections" in run.output
    assert not (tmp_path / "p.json").exists()


def test_missing_folders_are_created_private_and_check_mode_only_reports_them(
    emulator, collection_playbook, bootstrapped, tmp_path
):
    existing = tmp_path / "etc"
    existing.mkdir(mode=0o755)
    path = existing / "rpa" / "plugins" / "onedrive.json"
    options = dict(
        onedrive_plugin_config_path=str(path),
        onedrive_plugin_owner=pwd.getpwuid(os.getuid()).pw_name,
        onedrive_plugin_group=grp.getgrgid(os.getgid()).gr_name,
    )
    check = collection_playbook("configure_plugin", check=True, extra_vars=options)
    assert check.rc == 0 and check.changed == 2, check.output
    assert not (existing / "rpa").exists()

    run = collection_playbook("configure_plugin", extra_vars=options)
    assert (run.rc, run.changed) == (0, 2), run.output
    assert json.loads(path.read_text())["refresh_token"] == bootstrapped["refresh_token"]
    for folder in (existing / "rpa", path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert (folder.stat().st_uid, folder.stat().st_gid) == (os.getuid(), os.getgid())
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755, "an existing folder keeps its mode"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    again = collection_playbook("configure_plugin", extra_vars=options)
    assert (again.rc, again.changed) == (0, 0), again.output


def write_vault(collection_playbook, record):
    password = collection_playbook.password_file.read_text().strip().encode()
    lib = VaultLib([("default", VaultSecret(password))])
    collection_playbook.vault.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": {"robot1": record}})))


def days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_account_without_a_drive_is_told_about_onedrive_check_drive(emulator, collection_playbook, tmp_path):
    token = emulator.grant(PUBLIC_APP, NODRIVE, SCOPES)["refresh_token"]
    write_vault(collection_playbook, dict(client_id=PUBLIC_APP, refresh_token=token, obtained_at=days_ago(8)))
    path = tmp_path / "plugin.json"
    run = collection_playbook("configure_plugin", extra_vars=dict(onedrive_plugin_config_path=str(path)))
    assert run.rc != 0 and "Test Connection failed for robot1 (no_drive)" in run.output, run.output
    assert "Set onedrive_check_drive: false to verify the account alone" in run.output, run.output
    assert "check_drive=false" not in run.output
    assert not path.exists()


def test_every_number_and_boolean_may_be_given_as_a_string(emulator, collection_playbook, tmp_path):
    """As -e name=value gives them: every numeric and boolean variable of the role, as text."""
    token = emulator.grant(PUBLIC_APP, NODRIVE, SCOPES)["refresh_token"]
    write_vault(collection_playbook, dict(client_id=PUBLIC_APP, refresh_token=token, obtained_at=days_ago(8)))
    path = tmp_path / "plugin.json"
    as_text = dict(
        onedrive_plugin_config_path=str(path),
        onedrive_plugin_test_connection="true",
        onedrive_check_drive="false",
        onedrive_validate_certs="true",
        onedrive_timeout="10",
        onedrive_max_retry_wait="1.5",
        onedrive_plugin_test_after="3600",
        onedrive_rotate_after="7d",
        onedrive_plugin_mode="0640",
    )
    run = collection_playbook("configure_plugin", extra_vars=as_text)
    assert (run.rc, run.changed) == (0, 2), run.output
    assert f"Test Connection: robot1 refresh token redeemed and verified as {NODRIVE}" in run.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o640

    # "false" turns Test Connection off: nothing is asked of Microsoft.
    emulator.clear_log()
    off = collection_playbook(
        "configure_plugin", extra_vars=dict(as_text, onedrive_plugin_test_connection="false", onedrive_plugin_test_after="0")
    )
    assert (off.rc, off.changed) == (0, 0), off.output
    assert emulator.log()["counts"] == {}
    assert "Test Connection:" not in off.output
