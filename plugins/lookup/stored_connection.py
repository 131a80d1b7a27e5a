# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup plugin onedrive.connection.stored_connection: stored connections, from either store."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stored_connection
short_description: The stored records of OneDrive connections, from the ansible-vault file or OpenBao/Vault
version_added: 1.0.0
author: onedrive.connection maintainers (@onedrive-connection)
description:
  - Returns the stored fields of the named connections (all connections under O(key) when none is named) as
    one mapping of connection name to fields, read on the controller from the store that
    P(onedrive.connection.vault_config#module) and P(onedrive.connection.rotate_tokens#module) write.
  - A named connection that is not stored is left out of the mapping; a file that does not exist holds none.
  - The records hold secrets (the refresh token), so use the lookup only in tasks with C(no_log), as the roles do.
    The values are marked unsafe, so a stored value is never evaluated as a template.
  - With O(store=ansible_vault), the file is decrypted with the vault secrets the play has loaded, whether
    it is encrypted as a whole or value by value.
  - Reading needs no more of an OpenBao/Vault token's policy than C(read) on
    C(<mount_point>/data/<path>/*), and C(list) on C(<mount_point>/metadata/<path>) when no connection is
    named.
  - A store that cannot be read fails the lookup with a message that says why (a wrong password, a server that
    does not answer or denies access, a mount that is not KV version 2), never with what it holds.
options:
  _terms:
    description: Names of the connections to return; none for every connection under O(key).
    type: list
    elements: str
  store:
    description:
      - Where the connections are stored. V(ansible_vault) is the ansible-vault encrypted vars file at O(path);
        V(hashi_vault) is a KV version 2 secrets engine of OpenBao or HashiCorp Vault, as O(hashi_vault) says.
    type: str
    choices: [ansible_vault, hashi_vault]
    default: ansible_vault
  hashi_vault:
    description:
      - With O(store=hashi_vault), the server and where on it the connections are, with the keys and defaults
        of the O(onedrive.connection.vault_config#module:hashi_vault) option (C(url), C(token), C(auth_method),
        C(role_id), C(secret_id), C(namespace), C(mount_point), C(path), C(ca_path), C(validate_certs),
        C(timeout)). C(url) and C(token) default to E(VAULT_ADDR) and E(VAULT_TOKEN) of the controller.
      - Ignored with O(store=ansible_vault).
    type: dict
    default: {}
  path:
    description:
      - The ansible-vault encrypted vars file on the controller, with O(store=ansible_vault) (required then).
      - A relative path is relative to the playbook's folder, as for P(onedrive.connection.vault_config#module).
      - Ignored with O(store=hashi_vault).
    type: str
  key:
    description:
      - The top-level variable of the file that maps connection names to their fields.
      - With O(store=hashi_vault), any other value names a folder below the C(path) of O(hashi_vault), as
        P(onedrive.connection.vault_config#module) writes it (the bootstrap role keeps pending sign-ins under
        V(onedrive_pending_authorizations)).
    type: str
    default: onedrive_connections
notes:
  - Needs the Python library C(hvac) on the controller with O(store=hashi_vault).
seealso:
  - module: onedrive.connection.vault_config
  - module: onedrive.connection.rotate_tokens
"""

EXAMPLES = r"""
- name: Read connection robot1 from the vaulted file
  ansible.builtin.set_fact:
    robot1: "{{ lookup('onedrive.connection.stored_connection', 'robot1', path='vault.yml')['robot1'] | default({}) }}"
  no_log: true

- name: Read every connection from OpenBao (VAULT_ADDR and VAULT_TOKEN come from the environment)
  ansible.builtin.set_fact:
    connections: >-
      {{ lookup('onedrive.connection.stored_connection', store='hashi_vault',
                hashi_vault={'path': 'onedrive/connections'}) }}
  no_log: true
"""

RETURN = r"""
_raw:
  description:
    - One mapping of connection name to its stored fields (such as C(client_id), C(refresh_token),
      C(user_principal_name), C(rotated_at)); M(ansible.builtin.lookup) returns the mapping itself.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.lookup import LookupBase

from ansible_collections.onedrive.connection.plugins.module_utils.store_options import STORE_OPTIONS
from ansible_collections.onedrive.connection.plugins.plugin_utils.compat import native, play_vault, unsafe
from ansible_collections.onedrive.connection.plugins.plugin_utils.hashi_vault_store import HAS_HVAC, HashiVaultStore
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import VaultConfigError, VaultConfigFile, encryption_of

# hashi_vault is checked, and its defaults and environment fallbacks applied, as the modules do it.
_HASHI_VAULT_SPEC = {"hashi_vault": STORE_OPTIONS["hashi_vault"]}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        names = native(terms) or None
        if names is not None and not all(isinstance(name, str) and name for name in names):
            raise AnsibleLookupError("connection names must be non-empty text")
        where = self.get_option("path") if self.get_option("store") == "ansible_vault" else "OpenBao/Vault"
        try:
            if self.get_option("store") == "hashi_vault":
                records = self._hashi_vault().read(names)
            else:
                records = self._vault_file(names)
        except VaultConfigError as exc:
            # Their messages name files, paths and fields, never values.
            raise AnsibleLookupError(str(exc)) from None
        except OSError as exc:
            raise AnsibleLookupError(f"{exc.strerror}: {exc.filename}") from None
        except AnsibleLookupError:
            raise
        except Exception as exc:
            # The text of an unexpected error may quote the data it choked on, and that data may be a secret.
            raise AnsibleLookupError(f"unexpected {type(exc).__name__} while reading the connections from {where}") from None
        return [unsafe(records)]

    def _hashi_vault(self) -> HashiVaultStore:
        if not HAS_HVAC:
            raise AnsibleLookupError(missing_required_lib("hvac", reason="for store=hashi_vault"))
        checked = ArgumentSpecValidator(_HASHI_VAULT_SPEC).validate({"hashi_vault": native(self.get_option("hashi_vault") or {})})
        if checked.error_messages:
            raise AnsibleLookupError("; ".join(checked.error_messages))
        return HashiVaultStore(checked.validated_parameters["hashi_vault"], key=self.get_option("key"))

    def _vault_file(self, names: list[str] | None) -> dict:
        if not self.get_option("path"):
            raise AnsibleLookupError("path is required with store=ansible_vault: the ansible-vault file that holds the connections.")
        path = os.path.join(self._loader.get_basedir(), os.path.expanduser(self.get_option("path")))
        if not os.path.exists(path):
            return {}
        # Read as it is encrypted, as a whole or value by value: reading needs no choice of how to write.
        encryption, dummy = encryption_of(path)
        records = VaultConfigFile(path, play_vault(self._loader), key=self.get_option("key"), encryption=encryption).read()
        return records if names is None else {name: records[name] for name in names if name in records}
