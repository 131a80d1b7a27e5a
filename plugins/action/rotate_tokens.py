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

from ansible_collections.onedrive.connection.plugins.module_utils import batch, status
from ansible_collections.onedrive.connection.plugins.module_utils.common import INSECURE_WARNING
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.transport import HAS_REQUESTS
from ansible_collections.onedrive.connection.plugins.module_utils.rotation import ACCESS, ACCESS_ONLY, REFRESH, REFRESH_NEEDED, plan
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import format_timestamp, parse_duration, utcnow
from ansible_collections.onedrive.connection.plugins.plugin_utils import claims
from ansible_collections.onedrive.connection.plugins.plugin_utils.compat import native, play_vault
from ansible_collections.onedrive.connection.plugins.plugin_utils.connection_changes import REMOVED
from ansible_collections.onedrive.connection.plugins.plugin_utils.hashi_vault_store import HAS_HVAC, HashiVaultStore, StoreError
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import (
    VaultConfigError,
    VaultConfigFile,
    encryption_of,
)

MODULE = "onedrive.connection.rotate_tokens"
# Claims and the recorded verdicts are bookkeeping: written, but neither a change nor part of a diff.
HIDDEN = (*claims.HIDDEN, *status.STATUS_FIELDS)


class ActionModule(ActionBase):
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        if args.get("path") is None and args.get("store") != "hashi_vault":
            return self._run_module(result, args, task_vars)
        params = self._params(result, task_vars)
        if result.get("failed"):
            return result
        on_controller = self._connection.transport == "local"
        rotation = None
        try:
            store = self._open_store(params)
            result["path"] = store.path
            stored = store.read()
            _require_known(stored, params["names"], store.path, params["key"] if params["store"] == "ansible_vault" else None)
            rotation = _Rotation(self, store, stored, params, on_controller, task_vars)
            rotation.backup = params["backup"]
            answer, failure = rotation.run()
        except _ModuleFailed as exc:
            result.update(exc.answer)
            rotation.release()
            return result
        except StoreError as exc:
            return _failed(result, str(exc), reason=exc.reason)
        except VaultConfigError as exc:
            return _failed(result, str(exc))
        except OSError as exc:
            return _failed(result, f"{exc.strerror}: {exc.filename}")
        except OneDriveError as exc:
            return {**result, "failed": True, **exc.result()}
        return self._finish(result, store, rotation, answer, failure)

    def _run_module(self, result: dict, args: dict, task_vars: dict) -> dict:
        if given := [name for name in batch.VAULT_OPTIONS if args.get(name) is not None]:
            return _failed(result, f"{', '.join(given)} only apply with path, the vaulted file to rotate, or store=hashi_vault.")
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        return result

    def _params(self, result: dict, task_vars: dict) -> dict:
        """The validated options, with the result's echo of them and warnings; the result fails when they do not hold."""
        if self._task.async_val:
            return _failed(result, "A store cannot be rotated asynchronously: the rotated tokens are stored when the rotation ends.")
        spec = batch.rotate_tokens_spec()
        try:
            dummy, params = self.validate_argument_spec(**spec)
        except AnsibleActionFail as exc:
            return _failed(result, exc.message)
        params = native(params)
        result["invocation"] = {"module_args": _shown(spec["argument_spec"], params)}
        on_controller = self._connection.transport == "local"
        if on_controller and not HAS_REQUESTS:
            return _failed(result, missing_required_lib("requests"))
        if params["store"] == "hashi_vault" and not HAS_HVAC:
            return _failed(result, missing_required_lib("hvac", reason="for store=hashi_vault"))
        if not self._task.run_once and len((task_vars or {}).get("ansible_play_hosts") or ()) > 1:
            result.setdefault("warnings", []).append(
                "Every host of the play rotates the same connections of the store, so all but one host's claims "
                "fail or, with a file store, tokens are thrown away: set run_once on this task."
            )
        if on_controller and params["validate_certs"] is False:
            result.setdefault("warnings", []).append(INSECURE_WARNING)
        return params

    def _finish(self, result: dict, store, rotation: _Rotation, answer: dict, failure: str | None) -> dict:
        """The rotation's answer as the task's result, once what changed is stored and the claims released."""
        updates = rotation.released(rotation.recorded(answer["connection_results"], answer.pop("updates")))
        # The module's own warnings (from another host) join the ones given here.
        warnings = [*result.pop("warnings", ()), *answer.pop("warnings", ()), *rotation.warnings]
        result.update(answer)
        if warnings:
            result["warnings"] = warnings
        if failure:
            result.update(failed=True, msg=failure)
        result.update(connections_changed={}, connections_skipped=[])
        if rotation.backup_file:
            result["backup_file"] = rotation.backup_file
        if updates:
            self._store(result, store, updates, rotation.expectations(updates), rotation.backup, not rotation.warnings)
            # A verdict that could not be recorded is no token lost: connections_skipped names only those.
            result["connections_skipped"] = [name for name in result["connections_skipped"] if name not in rotation.verdict_only]
        return result

    def _open_store(self, params: dict):
        if params["store"] == "hashi_vault":
            if params["path"] is not None:
                raise VaultConfigError("path is the ansible_vault store's file; with store=hashi_vault, set hashi_vault.path.")
            return HashiVaultStore(params["hashi_vault"], key=params["key"])
        path = os.path.join(self._loader.get_basedir(), params["path"])
        return self._vault_file(path, params)

    def _rotate_here(self, params: dict, connections: dict, steps: dict) -> tuple[dict, str | None]:
        # The task's environment (a proxy, a CA bundle) is what the module would have run with; this worker
        # process serves this one task, so setting it here reaches no other.
        environment: dict = {}
        self._compute_environment_string(environment)
        os.environ.update({name: str(value) for name, value in environment.items()})
        return batch.rotate(params, connections, self._task.check_mode, steps)

    def _rotate_on_host(self, connections: dict, task_vars: dict) -> tuple[dict, str | None]:
        module_args = {name: value for name, value in self._task.args.items() if name not in batch.VAULT_OPTIONS}
        module_args.pop("names", None)
        module_args["connections"] = connections
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
        return vault_file

    def _store(self, result: dict, vault_file, updates: dict, expect: dict, backup: bool, warn: bool) -> None:
        try:
            outcome = vault_file.update(
                updates, expect=expect, check_mode=self._task.check_mode, backup=backup, diff=self._task.diff,
                hidden=HIDDEN,
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
        if outcome.warnings and warn:
            result["warnings"] = [*(result.get("warnings") or ()), *outcome.warnings]


class _Rotation:
    """One rotation over a store: which connections to redeem, their claims, and what the result write expects."""

    def __init__(self, action: ActionModule, store, stored: dict, params: dict, on_controller: bool, task_vars: dict):
        self._action = action
        self._store = store
        self._stored = stored
        self._params = params
        self._on_controller = on_controller
        self._task_vars = task_vars
        self._check_mode = action._task.check_mode
        self._mine: dict = {}
        self._claimed: list[str] = []
        self.backup = False
        """Whether the next write keeps a copy of the file as it was: only the first write of a run does."""
        self.backup_file = None
        # What the claim write said (an owner it could not keep): the result write would only repeat it.
        self.warnings: list[str] = []
        # The connections whose result write records their verdict and nothing else.
        self.verdict_only: set[str] = set()

    def run(self) -> tuple[dict, str | None]:
        params = self._params
        if not self._check_mode:
            # Found now rather than after the rotation, which the service cannot undo: a file store takes the
            # writers' lock and lets it go, a server store is asked the token's capabilities.
            self._store.check_writable()
        connections = batch.selected(self._stored, params["names"])
        rules = batch.policy(params, self._check_mode)
        try:
            lease = parse_duration(params["claim_lease"])
        except ValueError as exc:
            raise OneDriveError(f"claim_lease: {exc}.", "invalid_option") from None
        if lease <= 0:
            raise OneDriveError("claim_lease must be longer than zero.", "invalid_option")
        now = utcnow()
        self._mine = claims.new(lease, now)
        steps = {name: plan(record, now, rules) for name, record in connections.items()}
        taken: dict = {}
        if not self._check_mode:
            # The module on another host decides for itself whether a refused access token calls for a refresh,
            # so there every connection it may refresh is claimed beforehand.
            wanted = [name for name, step in steps.items() if step == REFRESH or (step == ACCESS and not self._on_controller)]
            taken = self._claim(wanted, now)
            if self._on_controller:
                steps = {name: ACCESS_ONLY if step == ACCESS else step for name, step in steps.items()}
        answer, dummy = self._rotate({name: connections[name] for name in connections if name not in taken}, steps)
        results = answer["connection_results"]
        if again := [name for name, summary in results.items() if summary["status"] == REFRESH_NEEDED]:
            # Graph refused a stored access token before its time: its refresh token is redeemed under a claim.
            taken.update(self._claim(again, utcnow()))
            if retry := {name: connections[name] for name in again if name not in taken}:
                second, dummy = self._rotate(retry, {name: REFRESH for name in retry})
                results.update(second["connection_results"])
                answer["updates"].update(second["updates"])
        for name, claim in taken.items():
            results[name] = {
                "client_id": connections[name].get("client_id") or params["client_id"],
                "status": "claimed",
                "claimed_by": claims.shown(claim) if claim else None,
            }
        answer["connection_results"] = {name: results[name] for name in connections}
        answer["statuses"] = {
            status: [name for name, summary in answer["connection_results"].items() if summary["status"] == status]
            for status in batch.STATUSES
        }
        return batch.summed(answer)

    def _rotate(self, connections: dict, steps: dict) -> tuple[dict, str | None]:
        if self._on_controller:
            return self._action._rotate_here(self._params, connections, {name: steps[name] for name in connections})
        return self._action._rotate_on_host(connections, self._task_vars)

    def _claim(self, names: list[str], now) -> dict:
        """Claim names in one write; returns the ones another run holds, with its claim (None when unknown)."""
        taken = {name: claim for name in names if (claim := claims.held_by_another(self._stored[name], self._mine, now))}
        free = [name for name in names if name not in taken]
        if not free:
            return taken
        outcome = self._store.update(
            {name: {claims.FIELD: self._mine} for name in free},
            expect={name: claims.expectation(self._stored[name]) for name in free},
            backup=self.backup,
            hidden=claims.HIDDEN,
        )
        if outcome.backup_file:
            self.backup, self.backup_file = False, outcome.backup_file
        self.warnings += outcome.warnings
        # A connection that changed since it was read was claimed, or rotated, by another run meanwhile.
        taken.update((name, None) for name in outcome.skipped)
        for name in free:
            if name not in taken:
                self._claimed.append(name)
                self._stored[name] = {**self._stored[name], claims.FIELD: self._mine}
        return taken

    def recorded(self, results: dict, updates: dict) -> dict:
        """updates, with the verdict of each checked connection recorded for connection_status.

        A connection written anyway (a new token, a claim to release) gets it in the same write. One that was only
        checked with its stored access token gets it only when the verdict changed, so that a steady state writes
        nothing.
        """
        now = format_timestamp(utcnow())
        for name, summary in results.items():
            fields = status.recorded(summary, now)
            if fields is None:
                continue
            written = name in updates or name in self._claimed
            if written or status.verdict_changed(self._stored[name], fields):
                if not written:
                    self.verdict_only.add(name)
                updates[name] = {
                    **updates.get(name, {}), **{field: REMOVED if value is None else value for field, value in fields.items()}
                }
        return updates

    def released(self, updates: dict) -> dict:
        """updates, with this run's claims released in the same write."""
        for name in self._claimed:
            updates[name] = {**updates.get(name, {}), claims.FIELD: REMOVED}
        return updates

    def expectations(self, updates: dict) -> dict:
        """A token lands only over the one it was refreshed from, and only while this run's claim holds."""
        expect = {}
        for name in updates:
            expect[name] = {"refresh_token": self._stored[name].get("refresh_token")}
            if name in self._claimed:
                expect[name][claims.FIELD] = self._mine
        return expect

    def release(self) -> None:
        """Give the claims back after a run that redeemed nothing; a failure here only lets them expire."""
        if not self._claimed:
            return
        try:
            self._store.update(self.released({}), expect=self.expectations(self.released({})))
        except Exception:  # noqa: BLE001 - the claims expire by themselves; the run's own failure is what to report
            pass


class _ModuleFailed(Exception):
    """The module could not rotate at all (it lacks requests, or an option is wrong): its answer is the result."""

    def __init__(self, answer: dict):
        super().__init__(answer.get("msg"))
        self.answer = answer


def _require_known(stored: dict, names: list[str] | None, path: str, key: str | None) -> None:
    if unknown := [name for name in names or () if name not in stored]:
        held = ", ".join(list(stored)[:10]) + (f" and {len(stored) - 10} more" if len(stored) > 10 else "")
        under = f" under {key}" if key else ""
        raise VaultConfigError(
            f"{path} holds no connection {', '.join(unknown)}{under} (it holds {held or 'none'}): correct "
            "names, or store the connection first with the onedrive.connection.bootstrap role."
        )


def _shown(spec: dict, params: dict) -> dict:
    """The options as the result echoes them: every no_log value hidden, in hashi_vault too."""
    shown = {}
    for name, value in params.items():
        if name == "connections":
            continue
        options = spec[name].get("options")
        if options and isinstance(value, dict):
            value = {key: batch.HIDDEN if options[key].get("no_log") and item is not None else item for key, item in value.items()}
        elif spec[name].get("no_log") and value is not None:
            value = batch.HIDDEN
        shown[name] = value
    return shown


def _store_failure(exc: Exception) -> str:
    if isinstance(exc, VaultConfigError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror}: {exc.filename}"
    # The text of an unexpected error may quote the data it choked on, and that data may be a token.
    return f"unexpected {type(exc).__name__}"


def _failed(result: dict, msg: str, **more) -> dict:
    result.update(failed=True, msg=msg, **more)
    return result
