"""The onedrive.connection.stored_connection lookup, the roles' reader of both stores, on a real ansible-playbook."""

from __future__ import annotations

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from openbao import ROOT_TOKEN

PASSWORD = "lookup test password"
RECORDS = {
    "robot1": {"client_id": "app-1", "refresh_token": "rt-robot1-SECRET", "user_principal_name": "adele@contoso.com"},
    # Stored text is data: a template in it is never evaluated.
    "robot2": {"client_id": "app-2", "refresh_token": "rt-robot2-SECRET", "note": "{{ 7 * 6 }}"},
}
PENDING = {"robot3": {"state": "s-3", "code_verifier": "cv-robot3-SECRET", "created_at": "2020-01-01T00:00:00Z"}}
# The records hold secrets: the play shows only what the test compares, never a token.
PLAYBOOK = """
- name: Read stored connections
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read
      ansible.builtin.set_fact:
        named: "{{ lookup('onedrive.connection.stored_connection', 'robot2', 'nobody', **where) }}"
        every: "{{ lookup('onedrive.connection.stored_connection', **where) }}"
        pending: "{{ lookup('onedrive.connection.stored_connection', key='onedrive_pending_authorizations', **where) }}"
      no_log: true

    - name: Show
      ansible.builtin.debug:
        msg:
          named: "{{ named | list }}"
          every: "{{ every | dict2items | map(attribute='key') | sort }}"
          pending: "{{ pending | list }}"
          note: "{{ named.robot2.note }}"
          client_ids: "{{ every | dict2items | map(attribute='value.client_id') | sort }}"
          tokens_match: "{{ every.robot1.refresh_token == 'rt-robot1-SECRET' and pending.robot3.code_verifier == 'cv-robot3-SECRET' }}"
"""
EXPECTED = {
    "named": ["robot2"], "every": ["robot1", "robot2"], "pending": ["robot3"], "note": "{{ 7 * 6 }}",
    "client_ids": ["app-1", "app-2"], "tokens_match": True,
}


def vaulted(document: dict, inline: bool) -> bytes:
    lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
    if not inline:
        return lib.encrypt(yaml.safe_dump(document))
    secret = VaultSecret(PASSWORD.encode())

    def encrypt(records):
        return {
            name: {
                field: VaultEncrypted(lib.encrypt(value, secret).decode()) if field in ("refresh_token", "code_verifier") else value
                for field, value in record.items()
            }
            for name, record in records.items()
        }

    return yaml.dump({key: encrypt(records) for key, records in document.items()}, Dumper=InlineDumper).encode()


class VaultEncrypted(str):
    pass


class InlineDumper(yaml.SafeDumper):
    pass


InlineDumper.add_representer(VaultEncrypted, lambda dumper, value: dumper.represent_scalar("!vault", str(value), style="|"))


def shown(run) -> dict:
    assert run.rc == 0, run.output
    assert "SECRET" not in run.output
    return run.task("Show")["msg"]


@pytest.mark.parametrize("inline", [False, True], ids=["whole_file", "inline"])
def test_the_file_store_is_read_whole_or_inline_named_or_all(ansible_run, tmp_path, inline):
    vault = tmp_path / "vault.yml"
    vault.write_bytes(vaulted({"onedrive_connections": RECORDS, "onedrive_pending_authorizations": PENDING}, inline))
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    run = ansible_run(PLAYBOOK, extra_vars={"where": {"path": str(vault)}}, vault_password_file=password_file)
    assert shown(run) == EXPECTED


def test_openbao_is_read_named_or_all_and_its_folders_by_key(ansible_run, openbao):
    path = openbao.new_path()
    openbao.write(path, RECORDS)
    openbao.write(f"{path}/onedrive_pending_authorizations", PENDING)
    where = {"store": "hashi_vault", "hashi_vault": {"url": openbao.url, "path": path}}
    run = ansible_run(PLAYBOOK, extra_vars={"where": where}, env={"VAULT_TOKEN": ROOT_TOKEN})
    assert shown(run) == EXPECTED
    assert ROOT_TOKEN not in run.output


def test_a_file_that_does_not_exist_holds_no_connection(ansible_run, tmp_path):
    run = ansible_run(PLAYBOOK.replace("every.robot1.refresh_token", "every.robot1.refresh_token | default('')")
                      .replace("named.robot2.note", "named.robot2.note | default('none')")
                      .replace("pending.robot3.code_verifier", "pending.robot3.code_verifier | default('')"),
                      extra_vars={"where": {"path": str(tmp_path / "none.yml")}})
    assert shown(run) == {"named": [], "every": [], "pending": [], "note": "none", "client_ids": [], "tokens_match": False}


@pytest.mark.parametrize(
    "where, said",
    [
        ({}, "path is required with store=ansible_vault"),
        ({"path": "vault.yml"}, "cannot be decrypted with the loaded vault secrets"),
        ({"store": "hashi_vault", "hashi_vault": {"url": "http://127.0.0.1:9", "token": "t", "timeout": 2}}, "did not answer"),
        ({"store": "hashi_vault", "hashi_vault": {"url": "http://127.0.0.1:9", "token": "t", "pth": "x"}}, "hashi_vault.pth"),
        ({"store": "hashi_vault", "hashi_vault": {"token": "t"}}, "hashi_vault.url is not set"),
    ],
    ids=["no_path", "wrong_password", "down", "unknown_key", "no_url"],
)
def test_what_cannot_be_read_is_said_without_content(ansible_run, tmp_path, where, said):
    # A relative path is the playbook's folder's.
    folder = tmp_path / "play"
    folder.mkdir()
    (folder / "vault.yml").write_bytes(
        VaultLib([("default", VaultSecret(b"another password"))]).encrypt(yaml.safe_dump({"onedrive_connections": RECORDS}))
    )
    # Shown as it is (ansible-core before 2.19 would hide it under no_log): it must hold no content either.
    (folder / "read.yml").write_text(PLAYBOOK.replace("no_log: true", "no_log: false"))
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    run = ansible_run(folder / "read.yml", extra_vars={"where": where}, vault_password_file=password_file)
    assert run.rc != 0 and said in run.output, run.output
    assert "SECRET" not in run.output and "Traceback" not in run.output
