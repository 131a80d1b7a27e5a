# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onedrive.connection.vault_config: the options in, one VaultConfigFile update, the result out.

It runs entirely on the controller, where the play's vault secrets are loaded. The result never carries a
secret value (only names, and a diff with secrets masked), so it is not marked no_log: marking it would also
hide the masked diff. See the module documentation for the whole reasoning.
"""

from __future__ import annotations

import os
import re

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.action import ActionBase

from ansible_collections.onedrive.connection.plugins.module_utils.store_options import STORE_OPTIONS
from ansible_collections.onedrive.connection.plugins.plugin_utils.compat import native, play_vault
from ansible_collections.onedrive.connection.plugins.plugin_utils.hashi_vault_store import HAS_HVAC, HashiVaultStore, StoreError
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import (
    DEFAULT_KEY,
    DEFAULT_SECRET_FIELDS,
    ENCRYPTIONS,
    VaultConfigError,
    VaultConfigFile,
)

ARGUMENT_SPEC = dict(
    path=dict(type="path"),
    key=dict(type="str", default=DEFAULT_KEY),
    connection=dict(type="str"),
    values=dict(type="dict"),
    connections=dict(type="dict"),
    expect=dict(type="dict", no_log=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    encryption=dict(type="str", default="file", choices=list(ENCRYPTIONS)),
    secret_fields=dict(type="list", elements="str", default=list(DEFAULT_SECRET_FIELDS)),
    vault_id=dict(type="str"),
    mode=dict(type="raw", default="0600"),
    backup=dict(type="bool", default=False),
    lock_timeout=dict(type="float", default=60.0),
    **STORE_OPTIONS,
)

_OCTAL_MODE = re.compile(r"0?[0-7]{3}")


def _permission_bits(mode: object) -> int:
    # YAML reads an unquoted 0600 as the integer 384; an unquoted 600 is decimal and almost surely a mistake.
    if isinstance(mode, str) and _OCTAL_MODE.fullmatch(mode):
        return int(mode, 8)
    if isinstance(mode, int) and not isinstance(mode, bool) and 0 <= mode <= 0o777:
        return mode
    raise VaultConfigError(f"mode must be permission bits in octal, quoted, such as '0600'; got {mode!r}")


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        try:
            dummy, args = self.validate_argument_spec(
                argument_spec=ARGUMENT_SPEC,
                mutually_exclusive=[("connection", "connections"), ("values", "connections")],
                required_one_of=[("connection", "connections")],
                required_by={"values": "connection"},
                required_if=[("store", "ansible_vault", ("path",))],
            )
        except AnsibleActionFail as exc:
            return {**result, "failed": True, "msg": exc.message}
        # Names become YAML keys, and the dumper refuses the str subclasses Ansible hands over (see compat).
        args = native(args)
        if args["store"] == "hashi_vault":
            if not HAS_HVAC:
                return {**result, "failed": True, "msg": missing_required_lib("hvac", reason="for store=hashi_vault")}
            if args["path"] is not None:
                return {**result, "failed": True, "msg": "path is the ansible_vault store's file; with store=hashi_vault, set hashi_vault.path."}
            path = None
        else:
            path = result["path"] = os.path.join(self._loader.get_basedir(), args["path"])
        try:
            result.update(self._update(path, args))
        except StoreError as exc:
            return {**result, "failed": True, "msg": str(exc), "reason": exc.reason}
        except VaultConfigError as exc:
            return {**result, "failed": True, "msg": str(exc)}
        except OSError as exc:
            return {**result, "failed": True, "msg": f"{exc.strerror}: {exc.filename}"}
        except Exception as exc:
            # The text of an unexpected error may quote the data it choked on, and that data may be a secret.
            return {**result, "failed": True, "msg": f"unexpected {type(exc).__name__} while updating {result.get('path')}"}
        return result

    def _update(self, path: str | None, args: dict) -> dict:
        if args["connection"] is not None:
            wanted = {args["connection"]: args["values"] or {}}
        else:
            wanted = args["connections"]
        for name, values in wanted.items():
            if not isinstance(values, dict) and args["state"] == "present":
                raise VaultConfigError(f"the values of connection {name!r} must be a mapping of fields")

        vault_file = self._store(path, args)
        updates, removals = (wanted, ()) if args["state"] == "present" else ({}, wanted)
        outcome = vault_file.update(
            updates, removals, expect=args["expect"], check_mode=self._task.check_mode, backup=args["backup"], diff=self._task.diff
        )

        result = {"changed": outcome.changed, "path": vault_file.path}
        if args["connection"] is not None:
            result.update(connection=args["connection"], fields_changed=outcome.fields_changed.get(args["connection"], []))
        else:
            result["connections_changed"] = outcome.fields_changed
        if args["expect"] is not None:
            result["connections_skipped"] = outcome.skipped
        if outcome.backup_file:
            result["backup_file"] = outcome.backup_file
        if outcome.diff:
            result["diff"] = outcome.diff
        if outcome.warnings:
            result["warnings"] = outcome.warnings
        return result

    def _store(self, path: str | None, args: dict):
        if path is None:
            return HashiVaultStore(args["hashi_vault"], key=args["key"], secret_fields=args["secret_fields"])
        return VaultConfigFile(
            path,
            play_vault(self._loader),
            key=args["key"],
            encryption=args["encryption"],
            secret_fields=args["secret_fields"],
            vault_id=args["vault_id"] or C.DEFAULT_VAULT_ENCRYPT_IDENTITY,
            mode=_permission_bits(args["mode"]),
            lock_timeout=args["lock_timeout"],
        )
