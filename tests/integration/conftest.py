"""Integration fixtures: real ansible-playbook runs (see runner.py) against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from runner import Runner


@pytest.fixture
def ansible_run(tmp_path):
    return Runner(tmp_path)


REPO_PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
VAULT_PASSWORD = "role tests' vault password"


@pytest.fixture
def collection_playbook(ansible_run, emulator, tmp_path):
    """Runs one of the collection's playbooks against the emulator, with a vault in tmp_path.

    The returned callable takes the playbook's name, ``extra_vars`` over the defaults, ``terminal=(prompt,
    answer)`` to run it on a pty, and the runner's options. It has .vault (the vaulted file's path),
    .password_file and .read() (its data).
    """
    password_file = tmp_path / "vault-password"
    password_file.write_text(VAULT_PASSWORD + "\n")
    vault = tmp_path / "vault.yml"

    def run(name, **options):
        extra_vars = dict(
            onedrive_client_id=PUBLIC_APP,
            onedrive_connection="robot1",
            onedrive_vault_file=str(vault),
            onedrive_login_url=emulator.base_url,
            onedrive_graph_url=emulator.base_url,
            onedrive_ca_path=str(emulator.ca_path),
        )
        extra_vars.update(options.pop("extra_vars", {}))
        terminal = options.pop("terminal", None)
        playbook = REPO_PLAYBOOKS / f"{name}.yml"
        options.update(extra_vars=extra_vars, vault_password_file=password_file)
        if terminal:
            return ansible_run.on_terminal(playbook, *terminal, **options)
        return ansible_run(playbook, **options)

    def read():
        lib = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
        return yaml.safe_load(lib.decrypt(vault.read_bytes()))

    run.vault, run.password_file, run.read = vault, password_file, read
    return run


@pytest.fixture(scope="session")
def openbao(tmp_path_factory):
    """One real OpenBao dev server for the session (see openbao.py); each test takes a path of its own."""
    from openbao import OpenBao

    with OpenBao(tmp_path_factory.mktemp("openbao")) as server:
        yield server
