# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Where connections are stored: the options of vault_config and rotate_tokens that choose the store.
    DOCUMENTATION = r"""
options:
  store:
    description:
      - Where the connections are stored, read and written on the controller.
      - V(ansible_vault) is the ansible-vault encrypted vars file at O(path).
      - V(hashi_vault) is a KV version 2 secrets engine of OpenBao or HashiCorp Vault, as O(hashi_vault) says,
        with one secret per connection at C(<mount_point>/<path>/<connection>), holding the same fields as a
        connection in the file. Runs on several controllers, and jobs in throwaway execution environments (AWX,
        Ansible Automation Platform), share it. Needs the Python library C(hvac) on the controller.
      - Every write to V(hashi_vault) is a check-and-set against the version read, so a concurrent writer is
        never overwritten unseen; a write that changes nothing is not made, so it creates no new version.
    type: str
    choices: [ansible_vault, hashi_vault]
    default: ansible_vault
  hashi_vault:
    description:
      - With O(store=hashi_vault), the server and where on it the connections are.
      - "The token's policy needs, for rotation, no more than: C(create), C(read) and C(update) on
        C(<mount_point>/data/<path>/*), and C(list) and C(read) on C(<mount_point>/metadata/<path>) and
        C(<mount_point>/metadata/<path>/*). No C(delete): only O(onedrive.connection.vault_config#module:state=absent)
        needs C(delete) on C(<mount_point>/metadata/<path>/*)."
    type: dict
    suboptions:
      url:
        description:
          - The address of the server, such as V(https://bao.example.com:8200).
          - Defaults to E(VAULT_ADDR).
        type: str
      token:
        description:
          - The token, with O(hashi_vault.auth_method=token).
          - Defaults to E(VAULT_TOKEN).
        type: str
      auth_method:
        description:
          - V(token) uses O(hashi_vault.token). V(approle) logs in with O(hashi_vault.role_id) and
            O(hashi_vault.secret_id) at the C(approle) auth mount.
          - Defaults to E(VAULT_AUTH_METHOD), else V(token).
        type: str
        choices: [token, approle]
        default: token
      role_id:
        description:
          - The AppRole's role ID, with O(hashi_vault.auth_method=approle).
          - Defaults to E(VAULT_ROLE_ID).
        type: str
      secret_id:
        description:
          - The AppRole's secret ID, with O(hashi_vault.auth_method=approle).
          - Defaults to E(VAULT_SECRET_ID).
        type: str
      namespace:
        description:
          - The namespace (HashiCorp Vault Enterprise, OpenBao namespaces).
          - Defaults to E(VAULT_NAMESPACE).
        type: str
      mount_point:
        description: The mount of the KV version 2 secrets engine.
        type: str
        default: secret
      path:
        description: The folder below O(hashi_vault.mount_point) that holds one secret per connection.
        type: str
        default: onedrive/connections
      ca_path:
        description:
          - A CA bundle to trust for the server's certificate.
          - Defaults to E(VAULT_CACERT).
        type: path
      validate_certs:
        description: Whether the server's TLS certificate is verified.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for each answer of the server.
        type: float
        default: 30
"""
