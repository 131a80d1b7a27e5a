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
from ansible.errors import AnsibleActionFail
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.action import ActionBase

from ansible_collections.onedrive.connection.plugins.module_utils import batch
from ansible_collections.onedrive.connection.plugins.module_utils.common import INSECURE_WARNING
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.transport import HAS_REQUESTS
from ansible_collections.onedrive.connection.plugins.plugin_utils.compat import native, play_vault
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import (
    VaultConfigError,
    VaultConfigFile,
    encryption_of,
)

MODULE = "onedrive.connection.rotate_tokens"


class ActionModule(ActionBase):
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        if args.get("path") is None:
            if given := [name for name in batch.VAULT_OPTIONS if args.get(name) is not None]:
                return _failed(result, f"{', '.join(given)} only apply with path, the vaulted file to rotate.")
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            return result
        if self._task.async_val:
            return _failed(result, "path cannot run asynchronously: the rotated tokens are stored when the rotation ends.")

        spec = dict(batch.argument_spec(), **batch.VAULT_OPTIONS, connections=dict(type="dict"))
        try:
            dummy, params = self.validate_argument_spec(spec, mutually_exclusive=[("path", "connections")])
        except AnsibleActionFail as exc:
            return _failed(result, exc.message)
        params = native(params)
        result["invocation"] = {"module_args": {
            name: batch.HIDDEN if spec[name].get("no_log") and value is not None else value
            for name, value in params.items() if name != "connections"
        }}
        on_controller = self._connection.transport == "local"
        if on_controller and not HAS_REQUESTS:
            return _failed(result, missing_required_lib("requests"))
        if not self._task.run_once and len((task_vars or {}).get("ansible_play_hosts") or ()) > 1:
            result.setdefault("warnings", []).append(
                "Every host of the play rotates the same connections of path, so all but one host's tokens are "
                "thrown away: set run_once on this task."
            )
        if on_controller and params["validate_certs"] is False:
            result.setdefault("warnings", []).append(INSECURE_WARNING)
        path = result["path"] = os.path.join(self._loader.get_basedir(), params["path"])
        try:
            vault_file = self._vault_file(path, params)
            stored = vault_file.read()
            _require_known(stored, params["names"], path, params["key"])
            if on_controller:
                answer, failure = self._rotate_here(params, stored)
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
        # The module's own warnings (from another host) join the ones given here.
        warnings = [*result.pop("warnings", ()), *answer.pop("warnings", ())]
        result.update(answer)
        if warnings:
            result["warnings"] = warnings
        if failure:
            result.update(failed=True, msg=failure)
        result.update(connections_changed={}, connections_skipped=[])
        if updates:
            self._store(result, vault_file, updates, stored, params["backup"])
        return result

    def _rotate_here(self, params: dict, stored: dict) -> tuple[dict, str | None]:
        # The task's environment (a proxy, a CA bundle) is what the module would have run with; this worker
        # process serves this one task, so setting it here reaches no other.
        environment: dict = {}
        self._compute_environment_string(environment)
        os.environ.update({name: str(value) for name, value in environment.items()})
        return batch.rotate(params, batch.selected(stored, params["names"]), self._task.check_mode)

    def _rotate_on_host(self, stored: dict, names: list[str] | None, task_vars: dict) -> tuple[dict, str | None]:
        module_args = {name: value for name, value in self._task.args.items() if name not in batch.VAULT_OPTIONS}
        module_args.pop("names", None)
        module_args["connections"] = stored if names is None else {name: stored[name] for name in names}
        answer = native(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
        answer.pop("invocation", None)  # the records, masked: this task's own options are echoed instead
        if "connection_results" not in answer:
            raise _ModuleFailed(answer)
        return answer, answer.pop("msg", None) if answer.pop("failed", False) else None

    def _vault_file(self, path: str, params: dict) -> VaultConfigFile:
        state = "does not exist" if not os.path.exists(path) else "is empty" if os.path.getsize(path) == 0 else None
        if state:
            raise VaultConfigError(
                f"{path} {state}, so there is nothing to rotate: store a connection first (the bootstrap role, "
                "or onedrive.connection.vault_config), or correct path."
            )
        encryption, stored_vault_id = encryption_of(path)
        loaded = {vault_id for vault_id, dummy in play_vault(self._loader).secrets or ()}
        vault_file = VaultConfigFile(
            path,
            play_vault(self._loader),
            key=params["key"],
            # A rewrite keeps the file as it is: encrypted as a whole or value by value, under the vault id its
            # header names when that one is loaded, and with its permissions.
            encryption=encryption,
            vault_id=params["vault_id"] or C.DEFAULT_VAULT_ENCRYPT_IDENTITY
            or (stored_vault_id if stored_vault_id in loaded else None),
            mode=None,
            lock_timeout=params["lock_timeout"],
        )
        # Found now rather than after the rotation, which the service cannot undo: this also takes the writers'
        # lock and lets it go, so a planted lock, or one held for longer than lock_timeout, refreshes no token.
        if not self._task.check_mode:
            vault_file.check_writable()
        return vault_file

    def _store(self, result: dict, vault_file: VaultConfigFile, updates: dict, stored: dict, backup: bool) -> None:
        # A token lands only over the one it was refreshed from: a newer one stored meanwhile stays.
        expect = {name: {"refresh_token": stored[name].get("refresh_token")} for name in updates}
        try:
            outcome = vault_file.update(
                updates, expect=expect, check_mode=self._task.check_mode, backup=backup, diff=self._task.diff
            )
        except Exception as exc:
            # Whatever went wrong, the refreshed connections are named: their old tokens may be spent.
            reason = _store_failure(exc)
            lost = ", ".join(name for name, update in updates.items() if "refresh_token" in update) or "none"
            result["store_error"] = reason
            _failed(
                result,
                f"The new tokens could not be stored in {vault_file.path}: {reason}. Refreshed: {lost}; their "
                "old refresh tokens may stop working, so these connections may need a new sign-in.",
            )
            return
        result["changed"] = result["changed"] or outcome.changed
        result["connections_changed"] = outcome.fields_changed
        result["connections_skipped"] = outcome.skipped
        if outcome.backup_file:
            result["backup_file"] = outcome.backup_file
        if outcome.diff:
            result["diff"] = outcome.diff
        if outcome.warnings:
            result["warnings"] = [*(result.get("warnings") or ()), *outcome.warnings]


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


def _store_failure(exc: Exception) -> str:
    if isinstance(exc, VaultConfigError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror}: {exc.filename}"
    # The text of an unexpected error may quote the data it choked on, and that data may be a token.
    return f"unexpected {type(exc).__name__}"


def _failed(result: dict, msg: str) -> dict:
    result.update(failed=True, msg=msg)
    return result
