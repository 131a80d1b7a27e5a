"""validate_certs: false is said once, through Ansible, by every module and by the rotation that runs on the
controller; urllib3's own warning never reaches the output (issue 20, item 5)."""

from __future__ import annotations

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
PASSWORD = "tls test vault password"
WARNING = "validate_certs is false, so TLS certificates are not checked"

PLAYBOOK = """
- name: Talk to the emulator without checking its certificate
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/onedrive.connection.onedrive:
      login_url: "{{ url }}"
      graph_url: "{{ url }}"
      validate_certs: false
  tasks:
    # With an access token the result holds no token, so no no_log (which hides warnings before 2.19) is needed.
    - name: Verify
      onedrive.connection.verify:
        client_id: "{{ client_id }}"
        access_token: "{{ access_token }}"
      when: only == "Verify"

    - name: Rotate in place
      onedrive.connection.rotate_tokens:
        path: "{{ vault_path }}"
        rotate_after: 0s
      when: only == "Rotate in place"
"""


@pytest.mark.parametrize("task", ["Verify", "Rotate in place"])
def test_unchecked_certificates_are_warned_about_once(emulator, ansible_run, tmp_path, task):
    lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
    stored = {"robot": {"client_id": PUBLIC_APP, "refresh_token": emulator.grant(PUBLIC_APP, "megan@outlook.com", SCOPES)["refresh_token"]}}
    vault = tmp_path / "vault.yml"
    vault.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": stored})))
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    access_token = emulator.grant(PUBLIC_APP, "megan@outlook.com", SCOPES)["access_token"]

    run = ansible_run(PLAYBOOK, vault_password_file=password, extra_vars=dict(
        url=emulator.base_url, client_id=PUBLIC_APP, access_token=access_token, vault_path=str(vault), only=task,
    ))

    assert run.rc == 0, run.output
    assert run.output.count(WARNING) == 1, run.output
    assert "InsecureRequestWarning" not in run.output and "Unverified HTTPS request" not in run.output
    assert [entry["name"] for entry in run.tasks if entry["status"] != "skipped"] == [task]
