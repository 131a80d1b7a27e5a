# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The options that choose where connections are stored, shared by vault_config and rotate_tokens.

Both stores are read and written on the controller by the action plugins; the modules only document and
check these options.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import env_fallback

STORES = ("ansible_vault", "hashi_vault")
# The top-level variable of the vars file (a folder name in OpenBao) that maps connection names to their fields.
DEFAULT_KEY = "onedrive_connections"
# How long a run's claim on a connection lasts unless its result releases it first.
DEFAULT_CLAIM_LEASE = "15m"

HASHI_VAULT_OPTIONS: dict[str, dict[str, t.Any]] = dict(
    url=dict(type="str", fallback=(env_fallback, ["VAULT_ADDR"])),
    token=dict(type="str", no_log=True, fallback=(env_fallback, ["VAULT_TOKEN"])),
    # The AppRole settings come from the environment too, so that one AWX credential (of the type in
    # playbooks/awx/credential_type.yml) can hold either way of logging in.
    auth_method=dict(type="str", default="token", choices=["token", "approle"], fallback=(env_fallback, ["VAULT_AUTH_METHOD"])),
    role_id=dict(type="str", fallback=(env_fallback, ["VAULT_ROLE_ID"])),
    secret_id=dict(type="str", no_log=True, fallback=(env_fallback, ["VAULT_SECRET_ID"])),
    namespace=dict(type="str", fallback=(env_fallback, ["VAULT_NAMESPACE"])),
    mount_point=dict(type="str", default="secret"),
    path=dict(type="str", default="onedrive/connections"),
    ca_path=dict(type="path", fallback=(env_fallback, ["VAULT_CACERT"])),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="float", default=30),
)

STORE_OPTIONS: dict[str, dict[str, t.Any]] = dict(
    store=dict(type="str", default="ansible_vault", choices=list(STORES)),
    hashi_vault=dict(type="dict", options=HASHI_VAULT_OPTIONS, apply_defaults=True),
)

# The options that only the ansible-vault file store reads.
FILE_ONLY_OPTIONS = ("path", "vault_id", "backup", "lock_timeout")

# rotate_tokens only: how long its claims last.
CLAIM_OPTIONS: dict[str, dict[str, t.Any]] = dict(
    claim_lease=dict(type="str", default=DEFAULT_CLAIM_LEASE),
)
