# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onedrive.connection.connection_status: the store is read, and the report written, here.

With verify, the check is rotate_tokens' own action run first over the same store, so that a status check
claims, redeems and stores exactly as a rotation does; the report is then read from what that left in the store.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.action import ActionBase

from ansible_collections.onedrive.connection.plugins.module_utils import batch, status
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import parse_duration, utcnow
from ansible_collections.onedrive.connection.plugins.plugin_utils.atomic_file import read_existing, replace_atomically
from ansible_collections.onedrive.connection.plugins.plugin_utils.compat import native, play_vault
from ansible_collections.onedrive.connection.plugins.plugin_utils.hashi_vault_store import HAS_HVAC, HashiVaultStore, StoreError
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import VaultConfigError, VaultConfigFile, encryption_of

ROTATE = "onedrive.connection.rotate_tokens"
# The report files hold no secret and are read by other users' services (node_exporter).
REPORT_MODE = 0o644
# What rotate_tokens is given for the check; the report's own options stay here.
_CHECK_OPTIONS = (
    "client_id", "tenant", "cloud", "login_url", "graph_url", "client_secret", "validate_certs", "ca_path", "timeout",
    "max_retry_wait", "names", "rotate_after", "required_scopes", "check_drive", "max_workers", "path", "key",
    "vault_id", "lock_timeout", "store", "hashi_vault", "claim_lease",
)
_VERIFICATION_KEYS = ("connection_results", "statuses", "connections_changed", "connections_skipped", "reauthorize")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        spec = status.argument_spec()
        try:
            dummy, params = self.validate_argument_spec(spec, required_if=[("store", "ansible_vault", ("path",))])
        except AnsibleActionFail as exc:
            return _failed(result, exc.message)
        params = native(params)
        result["invocation"] = {"module_args": _shown(spec, params)}
        if params["store"] == "hashi_vault" and not HAS_HVAC:
            return _failed(result, missing_required_lib("hvac", reason="for store=hashi_vault"))
        try:
            rotate_after = parse_duration(params["rotate_after"])
        except ValueError as exc:
            return _failed(result, f"rotate_after: {exc}.", reason="invalid_option")
        result["changed"] = False
        if params["verify"]:
            self._verify(result, params, task_vars)
            if result.get("failed"):
                return result
        report = self._report(result, params, rotate_after)
        if report is None:
            return result
        files = {"json_file": lambda: status.document(report, rotate_after), "metrics_file": lambda: status.metrics(report)}
        result["files_written"] = []
        for option, render in files.items():
            if params[option]:
                try:
                    if self._write(params[option], render()):
                        result["files_written"].append(params[option])
                except OSError as exc:
                    # A temporary file's name would only puzzle: the file asked for is what is named.
                    return _failed(result, f"{option}: {params[option]} could not be written: {exc.strerror}.")
        result["changed"] = result["changed"] or bool(result["files_written"])
        return result

    def _report(self, result: dict, params: dict, rotate_after: int) -> dict | None:
        """The status of the selected connections, also put into result; None when the result failed."""
        try:
            store = self._open_store(params)
            result["path"] = store.path
            stored = store.read()
        except StoreError as exc:
            _failed(result, str(exc), reason=exc.reason)
            return None
        except VaultConfigError as exc:
            _failed(result, str(exc))
            return None
        except OSError as exc:
            _failed(result, f"{exc.strerror}: {exc.filename}")
            return None
        if unknown := status.unknown_names(stored, params["names"]):
            held = ", ".join(list(stored)[:10]) + (f" and {len(stored) - 10} more" if len(stored) > 10 else "")
            _failed(
                result,
                f"{store.path} holds no connection {', '.join(unknown)} (it holds {held or 'none'}): correct names.",
                reason="invalid_option",
            )
            return None
        try:
            selected = status.selected(stored, params["names"])
        except ValueError as exc:
            _failed(result, f"{store.path}: {exc}.")
            return None
        report = status.statuses(selected, utcnow(), rotate_after)
        result.update(connections=report, table=status.table(report), **status.summary(report))
        return report

    def _verify(self, result: dict, params: dict, task_vars: dict) -> None:
        """Check the connections as rotate_tokens does, first; the result fails when the check could not run."""
        checked = self._check(params, task_vars)
        for warning in checked.get("warnings") or ():
            result.setdefault("warnings", []).append(warning)
        if "connection_results" not in checked or checked.get("store_error"):
            # The check could not start, or could not store what it redeemed: its own words say which.
            _failed(result, checked.get("msg") or "The check gave no result.", **_store_reason(checked))
            return
        result["changed"] = bool(checked.get("changed"))
        result["verification"] = {key: checked[key] for key in _VERIFICATION_KEYS if key in checked}

    def _check(self, params: dict, task_vars: dict) -> dict:
        task = self._task.copy()
        task.args = {name: params[name] for name in _CHECK_OPTIONS if params[name] is not None}
        task.args.update(check_not_due=True, backup=False)
        if params["store"] != "hashi_vault":
            task.args.pop("hashi_vault", None)
        else:
            task.args.pop("path", None)
        rotate = self._shared_loader_obj.action_loader.get(
            ROTATE,
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        return native(rotate.run(task_vars=task_vars))

    def _open_store(self, params: dict):
        if params["store"] == "hashi_vault":
            if params["path"] is not None:
                raise VaultConfigError("path is the ansible_vault store's file; with store=hashi_vault, set hashi_vault.path.")
            return HashiVaultStore(params["hashi_vault"], key=params["key"])
        path = os.path.join(self._loader.get_basedir(), params["path"])
        if not os.path.exists(path):
            raise VaultConfigError(
                f"{path} does not exist, so there is nothing to report: store a connection first (the bootstrap role), "
                "or correct path."
            )
        # Read as it is encrypted, as a whole or value by value: reading needs no choice of how to write.
        encryption, dummy = encryption_of(path)
        return VaultConfigFile(path, play_vault(self._loader), key=params["key"], encryption=encryption)

    def _write(self, path: str, text: str) -> bool:
        """Whether path gets text: replaced atomically, so a collector never reads half a file; never when unchanged."""
        content = text.encode("utf-8")
        existing = read_existing(path)
        if existing is not None and existing[0] == content:
            return False
        if not self._task.check_mode:
            replace_atomically(path, content, existing[1] if existing is not None else REPORT_MODE)
        return True


def _store_reason(checked: dict) -> dict:
    return {key: checked[key] for key in ("reason", "store_error") if key in checked}


def _shown(spec: dict, params: dict) -> dict:
    """The options as the result echoes them: every no_log value hidden, in hashi_vault too."""
    shown = {}
    for name, value in params.items():
        options = spec[name].get("options")
        if options and isinstance(value, dict):
            value = {key: batch.HIDDEN if options[key].get("no_log") and item is not None else item for key, item in value.items()}
        elif spec[name].get("no_log") and value is not None:
            value = batch.HIDDEN
        shown[name] = value
    return shown


def _failed(result: dict, msg: str, **more) -> dict:
    result.update(failed=True, msg=msg, **more)
    return result
