# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onedrive.connection.rotate_tokens.

Given ``connections``, the module runs on the task's host as any module does. Given ``path``, the vaulted file
is read here on the controller, where the play's vault secrets are, and what changed is written back in one
compare-and-set write; the result holds no token, so the task needs no ``no_log``. The requests still come
from the task's host: the module runs there with the records, unless that host is the controller itself
(a local connection), where the rotation runs in this process, and the decrypted records never become
Ansible variables, module arguments or a module payload on disk.
"""

from __future__ import annotations

import os

from ansible import constants as C
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.vars import transform_to_native_types

from ansible_collections.onedrive.connection.plugins.module_utils import batch
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.transport import HAS_REQUESTS
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import (
    DEFAULT_KEY,
    VaultConfigError,
    VaultConfigFile,
    encryption_of,
)

MODULE = "onedrive.connection.rotate_tokens"
# The options only path mode reads; given without path, the module would refuse them.
VAULT_OPTIONS = dict(
    path=dict(type="path", required=True),
    key=dict(type="str", default=DEFAULT_KEY, no_log=False),
    vault_id=dict(type="str"),
    lock_timeout=dict(type="float", default=60.0),
    backup=dict(type="bool", default=False),
)
HIDDEN = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


class ActionModule(ActionBase):
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        if args.get("path") is None:
            if given := [name for name in VAULT_OPTIONS if args.get(name) is not None]:
                return _failed(result, f"{', '.join(given)} only apply with path, the vaulted file to rotate.")
            result.update(self._execute_module(task_vars=task_vars, wrap_async=self._task.async_val))
            return result
        if "connections" in args:
            return _failed(result, "path and connections are mutually exclusive: give the vaulted file or the connections.")
        if self._task.async_val:
            return _failed(result, "path cannot run asynchronously: the rotated tokens are stored when the rotation ends.")

        spec = dict(batch.argument_spec(), **VAULT_OPTIONS)
        validation = ArgumentSpecValidator(spec).validate(transform_to_native_types(dict(args), redact=False))
        if validation.error_messages:
            return _failed(result, "; ".join(validation.error_messages))
        params = validation.validated_parameters
        result["invocation"] = {"module_args": {
            name: HIDDEN if spec[name].get("no_log") and value is not None else value for name, value in params.items()
        }}
        on_controller = self._connection.transport == "local"
        if on_controller and not HAS_REQUESTS:
            return _failed(result, missing_required_lib("requests"))
        path = result["path"] = os.path.join(self._loader.get_basedir(), params["path"])
        try:
            vault_file = self._vault_file(path, params)
            stored = vault_file.read()
            _require_known(stored, params["names"], path, params["key"])
            if on_controller:
                answer, failure = batch.rotate(params, batch.selected(stored, params["names"]), self._task.check_mode)
            else:
                answer, failure = self._rotate_on_host(stored, params["names"], task_vars)
        except _ModuleFailed as exc:
            result.update(exc.answer)
            return result
        except VaultConfigError as exc:
            return _failed(result, str(exc))
        except OSError as exc:
            return _failed(result, f"{exc.strerror}: {exc.filename}")
        except OneDriveError as exc:
            return {**result, "failed": True, **exc.result()}

        updates = answer.pop("updates")
        result.update(answer)
        if failure:
            result.update(failed=True, msg=failure)
        result.update(connections_changed={}, connections_skipped=[])
        if updates:
            self._store(result, vault_file, updates, stored)
        return result

    def _rotate_on_host(self, stored: dict, names: list[str] | None, task_vars: dict) -> tuple[dict, str | None]:
        module_args = {name: value for name, value in self._task.args.items() if name not in VAULT_OPTIONS}
        module_args.pop("names", None)
        module_args["connections"] = stored if names is None else {name: stored[name] for name in names}
        answer = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        answer.pop("invocation", None)  # the records, masked: this task's own options are echoed instead
        if "connection_results" not in answer:
            raise _ModuleFailed(answer)
        return answer, answer.pop("msg", None) if answer.pop("failed", False) else None

    def _vault_file(self, path: str, params: dict) -> VaultConfigFile:
        if not os.path.exists(path):
            raise VaultConfigError(
                f"{path} does not exist, so there is nothing to rotate: store a connection first (the bootstrap role, "
                "or onedrive.connection.vault_config), or correct path."
            )
        # Found now rather than after the rotation, which the service cannot undo.
        folder = os.path.dirname(os.path.realpath(path))
        if not os.access(folder, os.W_OK | os.X_OK) and not self._task.check_mode:
            raise VaultConfigError(f"{folder} is not writable, so rotated tokens could not be stored in {path}.")
        return VaultConfigFile(
            path,
            self._loader._vault,  # the play's loaded vault secrets
            key=params["key"],
            # A rewrite keeps the file as it is: encrypted as a whole or value by value, with its permissions.
            encryption=encryption_of(path),
            vault_id=params["vault_id"] or C.DEFAULT_VAULT_ENCRYPT_IDENTITY,
            mode=None,
            lock_timeout=params["lock_timeout"],
        )

    def _store(self, result: dict, vault_file: VaultConfigFile, updates: dict, stored: dict) -> None:
        # A token lands only over the one it was refreshed from: a newer one stored meanwhile stays.
        expect = {name: {"refresh_token": stored[name].get("refresh_token")} for name in updates}
        try:
            outcome = vault_file.update(
                updates, expect=expect, check_mode=self._task.check_mode, backup=result["invocation"]["module_args"]["backup"],
                diff=self._task.diff,
            )
        except (VaultConfigError, OSError) as exc:
            reason = str(exc) if isinstance(exc, VaultConfigError) else f"{exc.strerror}: {exc.filename}"
            rotated = ", ".join(result["statuses"]["rotated"]) or "none"
            _failed(
                result,
                f"The new tokens could not be stored in {vault_file.path}: {reason}. Rotated: {rotated}; their old "
                "refresh tokens may stop working, so these connections may need a new sign-in.",
            )
            return
        result["changed"] = result["changed"] or outcome.changed
        result["connections_changed"] = outcome.fields_changed
        result["connections_skipped"] = outcome.skipped
        if outcome.backup_file:
            result["backup_file"] = outcome.backup_file
        if outcome.diff:
            result["diff"] = outcome.diff


class _ModuleFailed(Exception):
    """The module could not rotate at all (it lacks requests, or an option is wrong): its answer is the result."""

    def __init__(self, answer: dict):
        super().__init__(answer.get("msg"))
        self.answer = answer


def _require_known(stored: dict, names: list[str] | None, path: str, key: str) -> None:
    if unknown := [name for name in names or () if name not in stored]:
        held = ", ".join(list(stored)[:10]) + (f" and {len(stored) - 10} more" if len(stored) > 10 else "")
        raise VaultConfigError(
            f"{path} holds no connection {', '.join(unknown)} under {key} (it holds {held or 'none'}): correct "
            "names, or store the connection first with the onedrive.connection.bootstrap role."
        )


def _failed(result: dict, msg: str) -> dict:
    result.update(failed=True, msg=msg)
    return result
