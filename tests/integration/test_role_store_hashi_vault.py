"""The bootstrap and plugin roles with onedrive_store=hashi_vault, against a real OpenBao and the emulator.

The collection's own playbooks run as a pipeline runs them: without a terminal, the OpenBao token in
VAULT_TOKEN (or in onedrive_hashi_vault, given in a vars file), and no vault password needed.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest

from openbao import ROOT_TOKEN, free_port
from test_role_secrets import everything_shown

ADELE = "adele@contoso.onmicrosoft.com"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
PENDING = "onedrive_pending_authorizations"
SIGN_IN_URL = re.compile(r"https://127\.0\.0\.1:\d+/common/oauth2/v2\.0/authorize\?[^\s\"'\\]+")
# What the bootstrap role documents for its token: no more.
BOOTSTRAP_POLICY = """
path "secret/data/{path}/*" {{ capabilities = ["create", "read", "update"] }}
path "secret/metadata/{path}/*" {{ capabilities = ["list", "read"] }}
path "secret/metadata/{path}/onedrive_pending_authorizations/*" {{ capabilities = ["list", "read", "delete"] }}
"""


class Bao:
    """One test's folder on the session's OpenBao, and the collection's playbooks run against it."""

    def __init__(self, openbao, collection_playbook):
        self.server = openbao
        self.path = openbao.new_path()
        self._playbook = collection_playbook

    def run(self, name, *, hashi=None, token=ROOT_TOKEN, **options):
        """Runs playbook ``name`` with the store here; the token goes in VAULT_TOKEN unless None."""
        extra_vars = dict(
            onedrive_store="hashi_vault",
            onedrive_hashi_vault={"url": self.server.url, "path": self.path, **(hashi or {})},
            # Not needed with OpenBao: no file is read or written, and no vault password asked for.
            onedrive_vault_file="",
            **options.pop("extra_vars", {}),
        )
        env = {"VAULT_TOKEN": token} if token else {}
        return self._playbook(name, extra_vars=extra_vars, env=env, **options)

    def connections(self, folder="") -> dict:
        """The secrets directly under the path (or a folder below it), as stored."""
        return self.server.read(f"{self.path}/{folder}".rstrip("/"))

    def versions(self) -> dict:
        """The current version of every secret under the path and its folder of pending sign-ins."""
        return {**self.server.versions(self.path), **{
            f"{PENDING}/{name}": version for name, version in self.server.versions(f"{self.path}/{PENDING}").items()
        }}

    def bootstrap(self, emulator, user=ADELE, **options):
        """Signs connection robot1 in the way a pipeline does; returns both runs."""
        first = self.run("bootstrap", **options)
        assert first.rc != 0 and "No sign-in response for connection robot1" in first.output, first.output
        answer = emulator.sign_in(SIGN_IN_URL.findall(first.output)[-1], user)
        extra_vars = dict(options.pop("extra_vars", {}), onedrive_auth_response=answer)
        second = self.run("bootstrap", extra_vars=extra_vars, **options)
        assert second.rc == 0, second.output
        return first, second


@pytest.fixture
def bao(openbao, emulator, collection_playbook):
    return Bao(openbao, collection_playbook)


def test_bootstrap_keeps_the_pending_sign_in_and_then_the_connection_in_openbao(
    emulator, bao, collection_playbook, ansible_run, tmp_path
):
    first = bao.run("bootstrap")
    assert first.rc != 0 and "No sign-in response for connection robot1" in first.output, first.output
    pending = bao.connections(PENDING)["robot1"]
    assert pending["state"] and pending["code_verifier"] and pending["client_id"] == PUBLIC_APP
    assert bao.connections() == {} and not collection_playbook.vault.exists()

    # The printed command repeats where the store is, never its token, and needs no vault password: a pipeline
    # with VAULT_TOKEN in its environment runs it as it is.
    said = first.task("Stop until the sign-in response is given")["msg"]
    command = re.findall(r"save it in a file and run: (ansible-playbook .*?)\s*\(-e onedrive_auth_response", said)[0]
    response = tmp_path / "response.txt"
    response.write_text(emulator.sign_in(SIGN_IN_URL.findall(first.output)[-1], ADELE))
    words = shlex.split(command.replace("<that file>", str(response)))
    assert not [word for word in words if "vault-pass" in word or "onedrive_vault_file" in word], words
    assert "onedrive_store=hashi_vault" in words
    assert json.dumps({"onedrive_hashi_vault": {"url": bao.server.url, "path": bao.path}}) in words
    env = ansible_run._environment(tmp_path, {"VAULT_TOKEN": ROOT_TOKEN})
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={env['ANSIBLE_PYTHON_INTERPRETER']}\n")
    second = subprocess.run(
        [*words, "-i", str(inventory)], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"stored in {bao.server.url}/v1/secret/{bao.path}." in second.stdout
    connection = bao.connections()["robot1"]
    assert connection["user_principal_name"] == ADELE and connection["drive_type"] == "business"
    assert connection["client_id"] == PUBLIC_APP and connection["obtained_at"] <= connection["verified_at"]
    assert connection["refresh_token"] and connection["access_token"]
    assert bao.connections(PENDING) == {}
    assert not collection_playbook.vault.exists()

    emulator.clear_log()
    versions = bao.versions()
    third = bao.run("bootstrap")
    assert (third.rc, third.changed) == (0, 0), third.output
    assert "Connection robot1 works" in third.output
    assert emulator.log()["counts"] == {"batch": 1}
    assert bao.versions() == versions

    check = bao.run("bootstrap", check=True)
    assert (check.rc, check.changed) == (0, 0), check.output
    assert bao.versions() == versions


def test_bootstrap_works_with_the_documented_least_privilege_token(emulator, bao):
    token = bao.server.token_with(BOOTSTRAP_POLICY.format(path=bao.path))
    bao.bootstrap(emulator, token=token)
    assert bao.connections()["robot1"]["user_principal_name"] == ADELE
    # An expired sign-in of another connection is removed by the next run, with the same token.
    bao.server.write(f"{bao.path}/{PENDING}", {"robot2": {"state": "x", "created_at": "2020-01-01T00:00:00Z"}})
    again = bao.run("bootstrap", token=token)
    assert again.rc == 0 and again.changed == 1, again.output
    assert bao.connections(PENDING) == {}


def test_bootstrap_signs_in_again_once_the_stored_token_no_longer_works(emulator, bao):
    bao.bootstrap(emulator)
    emulator.revoke(ADELE)
    emulator.advance_clock(2 * 3600)  # issued access tokens outlive a revocation until they expire
    run = bao.run("bootstrap")
    assert run.rc != 0
    assert "no longer works (token_revoked): signing in again" in run.output
    assert "robot1" in bao.connections(PENDING)


def test_the_plugin_role_writes_the_plugin_file_from_openbao_and_a_rerun_changes_nothing(emulator, bao, tmp_path):
    bao.bootstrap(emulator)
    stored = bao.connections()["robot1"]
    plugin_file = tmp_path / "rpa" / "onedrive.json"
    options = dict(onedrive_plugin_config_path=str(plugin_file))

    run = bao.run("configure_plugin", extra_vars=options)
    assert (run.rc, run.changed) == (0, 2), run.output  # the folder and the file
    assert json.loads(plugin_file.read_text()) == {"client_id": PUBLIC_APP, "refresh_token": stored["refresh_token"]}
    assert "Test Connection: robot1 refresh token proven by its sign-in" in run.output

    emulator.clear_log()
    versions, mtime = bao.versions(), plugin_file.stat().st_mtime_ns
    again = bao.run("configure_plugin", extra_vars=options)
    assert (again.rc, again.changed) == (0, 0), again.output
    assert emulator.log()["counts"] == {}
    assert (bao.versions(), plugin_file.stat().st_mtime_ns) == (versions, mtime)

    # Test Connection redeems a token whose proof is too old: the new one lands in OpenBao and the plugin file.
    rotated = bao.run("configure_plugin", extra_vars=dict(options, onedrive_plugin_test_after="0"))
    assert rotated.rc == 0, rotated.output
    assert f"Test Connection: robot1 refresh token redeemed and verified as {ADELE}" in rotated.output
    after = bao.connections()["robot1"]
    assert after["refresh_token"] != stored["refresh_token"] and "claim" not in after
    assert json.loads(plugin_file.read_text())["refresh_token"] == after["refresh_token"]


def test_the_plugin_role_names_a_connection_that_is_not_stored(emulator, bao, tmp_path):
    bao.bootstrap(emulator)
    run = bao.run(
        "configure_plugin",
        extra_vars=dict(onedrive_plugin_config_path=str(tmp_path / "p.json"), onedrive_connection="nope"),
    )
    assert run.rc != 0
    assert f"{bao.server.url}/v1/secret/{bao.path} holds no connection nope: store one with" in run.output
    assert not (tmp_path / "p.json").exists()


def test_the_plugin_role_stops_on_a_connection_another_run_holds(emulator, bao, tmp_path):
    bao.bootstrap(emulator)
    record = bao.connections()["robot1"]
    claim = {"run_id": "other-run", "host": "ci-runner-7", "pid": 1, "expires_at": "2999-01-01T00:00:00Z"}
    bao.server.write(bao.path, {"robot1": dict(record, claim=claim)})
    plugin_file = tmp_path / "p.json"
    run = bao.run(
        "configure_plugin", extra_vars=dict(onedrive_plugin_config_path=str(plugin_file), onedrive_plugin_test_after="0")
    )
    assert run.rc != 0
    assert "another run (ci-runner-7, until 2999-01-01T00:00:00Z) is redeeming its refresh token" in run.output
    assert not plugin_file.exists()
    assert bao.connections()["robot1"]["refresh_token"] == record["refresh_token"]


def test_bootstrap_leaves_a_connection_another_run_holds(emulator, bao):
    bao.bootstrap(emulator)
    record = bao.connections()["robot1"]
    claim = {"run_id": "other-run", "host": "ci-runner-7", "pid": 1, "expires_at": "2999-01-01T00:00:00Z"}
    bao.server.write(bao.path, {"robot1": dict(record, claim=claim)})
    emulator.clear_log()
    # Due for rotation, which the claim of the other run forbids: no sign-in either.
    run = bao.run("bootstrap", extra_vars={"onedrive_rotate_after": "0"})
    assert run.rc != 0
    assert "another run (ci-runner-7, until 2999-01-01T00:00:00Z) is rotating its refresh token" in run.output
    assert "No sign-in response" not in run.output and emulator.log()["counts"].get("token", 0) == 0
    assert bao.connections()["robot1"] == dict(record, claim=claim) and bao.connections(PENDING) == {}


def _down(bao):
    return dict(hashi={"url": f"http://127.0.0.1:{free_port()}", "timeout": 5})


def _kv1(bao):
    return dict(hashi={"mount_point": bao.server.kv1()})


def _may_not_read(bao):
    # Enough to reach the path (so the store looks usable), not to read it.
    policy = f'path "secret/data/{bao.path}/*" {{ capabilities = ["create", "update"] }}'
    return dict(token=bao.server.token_with(policy))


STORE_FAULTS = {
    "down": (_down, "did not answer (ConnectionError); start it or correct onedrive_hashi_vault.url, then run again."),
    "kv1": (_kv1, "not KV version 2, which the check-and-set writes need: choose a KV version 2 mount with onedrive_hashi_vault.mount_point"),
    "may_not_read": (_may_not_read, "permission denied. Check that onedrive_hashi_vault.token (or the AppRole login) is valid"),
}


@pytest.mark.parametrize("fault", sorted(STORE_FAULTS))
@pytest.mark.parametrize("playbook", ["bootstrap", "configure_plugin"])
def test_a_store_that_cannot_be_read_is_named_in_role_words(emulator, bao, tmp_path, playbook, fault):
    make, said = STORE_FAULTS[fault]
    if playbook == "configure_plugin":
        bao.bootstrap(emulator)
    emulator.clear_log()
    plugin_file = tmp_path / "p.json"
    run = bao.run(playbook, extra_vars={"onedrive_plugin_config_path": str(plugin_file)}, **make(bao))
    assert run.rc != 0
    assert said in run.output, run.output
    assert "Traceback" not in run.output and ROOT_TOKEN not in run.output
    if fault != "may_not_read":
        assert "hashi_vault." not in run.output.replace("onedrive_hashi_vault.", "")
    # else the check of the store passed, and ansible-core 2.19 and later show the lookup's own message (in
    # its option's words) before the role's.
    # Nothing was sent to Microsoft, nothing written.
    assert emulator.log()["counts"] == {}
    assert not plugin_file.exists()


def test_no_secret_and_no_openbao_token_or_secret_id_is_shown_at_vvvv(emulator, bao, tmp_path):
    policy = BOOTSTRAP_POLICY.format(path=bao.path)
    token = bao.server.token_with(policy)
    role_id, secret_id = bao.server.approle(policy)
    approle = {"auth_method": "approle", "role_id": role_id, "secret_id": secret_id}
    plugin_file = tmp_path / "plugin.json"
    loud = dict(verbosity=4, diff=True)
    runs = []
    # The sign-in with the token in VAULT_TOKEN, then the connection stored with the token in onedrive_hashi_vault.
    first = bao.run("bootstrap", **loud)
    runs.append(first)
    answer = emulator.sign_in(SIGN_IN_URL.findall(first.output)[-1], ADELE)
    runs.append(bao.run("bootstrap", hashi={"token": token}, token=None, extra_vars={"onedrive_auth_response": answer}, **loud))
    # An AppRole login, a rotation, Test Connection that redeems, and a failure.
    runs.append(bao.run("bootstrap", hashi=approle, token=None, **loud))
    runs.append(bao.run("rotate", extra_vars={"onedrive_rotate_force": True}, **loud))
    runs.append(bao.run(
        "configure_plugin", hashi={"token": token}, token=None,
        extra_vars={"onedrive_plugin_config_path": str(plugin_file), "onedrive_plugin_test_after": "0"}, **loud,
    ))
    failed = bao.run("configure_plugin", extra_vars={"onedrive_plugin_config_path": str(plugin_file)}, **_may_not_read(bao), **loud)
    assert failed.rc != 0 and "permission denied" in failed.output
    for run in runs[1:]:
        assert run.rc == 0, run.output
    text = "\n".join(everything_shown(run) for run in [*runs, failed])

    stored = bao.connections()["robot1"]
    secrets = set(emulator.issued()) | {ROOT_TOKEN, token, secret_id, stored["refresh_token"], stored["access_token"]}
    assert len(secrets) > 8
    leaked = [secret[:8] + "..." for secret in secrets if secret in text]
    assert not leaked
    # The runs did show what they did.
    assert "Connection robot1 now works" in text and "robot1: rotated" in text and "Test Connection: robot1" in text
