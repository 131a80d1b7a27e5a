# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup plugin onedrive.connection.bootstrap_command: the command that signs a connection in (again)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bootstrap_command
short_description: The ansible-playbook command that runs the bootstrap playbook the way this run was started
version_added: 1.0.0
author: onedrive.connection maintainers (@onedrive-connection)
description:
  - Returns C(ansible-playbook onedrive.connection.bootstrap), the vault options this run of C(ansible-playbook)
    was started with, and an C(-e) option for each of O(extra_vars), quoted for a POSIX shell, as one line.
  - The vault options are the C(--vault-id), C(--vault-password-file) and C(--ask-vault-pass) options of this
    run, password files as absolute paths; never a password, only where the run got it from. A run given none
    of them gets none repeated when ansible.cfg or the environment names a vault password file or identity (the
    command finds it the same way), else C(--ask-vault-pass).
  - The roles print it in their messages, so that a command printed by a pipeline run started with
    C(--vault-password-file) runs in that pipeline too, without a terminal.
options:
  store:
    description:
      - Where the connections are stored. With V(hashi_vault) no vault option is repeated, since none is needed,
        and the command gives C(onedrive_store) and the settings of O(hashi_vault) as C(onedrive_hashi_vault).
    type: str
    choices: [ansible_vault, hashi_vault]
    default: ansible_vault
  hashi_vault:
    description:
      - With O(store=hashi_vault), the settings of OpenBao or HashiCorp Vault the run was given
        (C(onedrive_hashi_vault)). Its C(token) and C(secret_id) are never repeated; the command's run takes
        them from the environment (E(VAULT_TOKEN)) or as this run got them.
    type: dict
    default: {}
  extra_vars:
    description:
      - The variables to give, in order. Those whose value is empty (V(""), V(null), an empty list) are left out,
        and so is C(onedrive_vault_key) when it is the default key, V(onedrive_connections).
      - Text goes as C(-e name=value); anything else (lists, numbers, booleans) as C(-e) with a JSON document.
      - A value of the form C(<...>) is a placeholder for the user to fill in and is not quoted.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Say how to sign the connection in again
  ansible.builtin.debug:
    msg: >-
      Run: {{ lookup('onedrive.connection.bootstrap_command',
                     extra_vars={'onedrive_connection': 'robot1', 'onedrive_vault_file': '/srv/vault.yml'}) }}
"""

RETURN = r"""
_raw:
  description: The command, one line.
  type: list
  elements: str
"""

import json
import os
import shlex

from ansible import constants as C
from ansible import context
from ansible.plugins.lookup import LookupBase

from ansible_collections.onedrive.connection.plugins.module_utils.store_options import DEFAULT_KEY
from ansible_collections.onedrive.connection.plugins.plugin_utils.compat import native

# The store's settings a printed command never repeats.
SECRETS = ("token", "secret_id")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        extra_vars = native(self.get_option("extra_vars") or {})
        if self.get_option("store") == "hashi_vault":
            vault_options = []
            shown = {key: value for key, value in native(self.get_option("hashi_vault") or {}).items() if key not in SECRETS}
            extra_vars = {"onedrive_store": "hashi_vault", "onedrive_hashi_vault": shown, **extra_vars}
        else:
            vault_options = _vault_options()
        words = ["ansible-playbook", "onedrive.connection.bootstrap", *(shlex.quote(word) for word in vault_options)]
        for name, value in extra_vars.items():
            if value in ("", None, [], {}) or (name == "onedrive_vault_key" and value == DEFAULT_KEY):
                continue
            words += ["-e", _assignment(name, value)]
        return [" ".join(words)]


def _assignment(name: str, value: object) -> str:
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return f"{name}={value}"
    if isinstance(value, str):
        return shlex.quote(f"{name}={value}")
    return shlex.quote(json.dumps({name: value}))


def _vault_options() -> list[str]:
    arguments = context.CLIARGS
    words: list[str] = []
    for vault_id in arguments.get("vault_ids") or ():
        label, separator, source = vault_id.rpartition("@")
        if separator and source not in ("prompt", "") and not os.path.isabs(source):
            vault_id = f"{label}@{os.path.abspath(source)}"
        words += ["--vault-id", vault_id]
    for path in arguments.get("vault_password_files") or ():
        words += ["--vault-password-file", os.path.abspath(path)]
    if arguments.get("ask_vault_pass"):
        words.append("--ask-vault-pass")
    if words or C.DEFAULT_VAULT_PASSWORD_FILE or C.DEFAULT_VAULT_IDENTITY_LIST:
        return words
    return ["--ask-vault-pass"]
