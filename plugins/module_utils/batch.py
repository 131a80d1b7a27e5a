# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One batch rotation as rotate_tokens runs it: its options, the stored records checked, and its result.

The module runs it on the task's host with the connections it is given; the action plugin runs it on the
controller with the connections of a vaulted file.
"""

from __future__ import annotations

import typing as t

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    client_from_params,
    connection_argument_spec,
    endpoints_from_params,
    transport_from_params,
)
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import validate_client_id
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.rotation import Policy, rotate_all
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import parse_duration, utcnow
from ansible_collections.onedrive.connection.plugins.module_utils.store_options import CLAIM_OPTIONS, DEFAULT_KEY, STORE_OPTIONS
from ansible_collections.onedrive.connection.plugins.module_utils.verification import DEFAULT_REQUIRED_SCOPES

STATUSES = ("rotated", "verified", "not_due", "skipped", "claimed", "failed")
# Keys of a stored connection that stand in for the options of the same name.
RECORD_OPTIONS = ("client_id", "tenant", "cloud", "client_secret")
# Keys of a stored connection that are read as text.
TEXT_FIELDS = (*RECORD_OPTIONS, "refresh_token", "access_token")


# What Ansible shows in place of a value it must not show.
HIDDEN = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# The options with which the action plugin reads the connections from a store on the controller: a vaulted
# file, or OpenBao / HashiCorp Vault.
VAULT_OPTIONS: dict[str, dict[str, t.Any]] = dict(
    path=dict(type="path"),
    key=dict(type="str", default=DEFAULT_KEY, no_log=False),
    vault_id=dict(type="str"),
    lock_timeout=dict(type="float", default=60),
    backup=dict(type="bool", default=False),
    **STORE_OPTIONS,
    **CLAIM_OPTIONS,
)


def argument_spec() -> dict[str, dict[str, t.Any]]:
    """The options of a batch, besides where its connections come from."""
    spec = connection_argument_spec(
        names=dict(type="list", elements="str"),
        rotate_after=dict(type="str", default="0"),
        force=dict(type="bool", default=False),
        check_not_due=dict(type="bool", default=False),
        required_scopes=dict(type="list", elements="str", default=list(DEFAULT_REQUIRED_SCOPES)),
        check_drive=dict(type="bool", default=True),
        max_workers=dict(type="int", default=32),
    )
    spec["client_id"]["required"] = False
    return spec


def rotate_tokens_spec() -> dict[str, t.Any]:
    """The options of rotate_tokens and how they combine: one definition for its module and its action plugin."""
    return dict(
        argument_spec=dict(argument_spec(), connections=dict(type="dict"), **VAULT_OPTIONS),
        mutually_exclusive=[("connections", "path")],
        required_if=[("store", "ansible_vault", ("connections", "path"), True)],
    )


def _checked(name: str, record: t.Any) -> dict:
    """``record`` with its scopes split and checked; fails naming the first field of the wrong shape."""
    if not isinstance(record, dict):
        raise OneDriveError(f"connections.{name} must be a dictionary of the connection's fields.", "invalid_option")
    for key in TEXT_FIELDS:
        if record.get(key) is not None and not isinstance(record[key], str):
            raise OneDriveError(
                f"connections.{name}.{key} must be a string, not a {type(record[key]).__name__}.", "invalid_option"
            )
    scopes = record.get("scopes")
    if not scopes:
        return record
    if not isinstance(scopes, (str, list)) or not all(isinstance(scope, str) for scope in scopes):
        raise OneDriveError(f"connections.{name}.scopes must be a list of strings.", "invalid_option")
    try:
        return {**record, "scopes": scope_list.validate(scopes)}
    except OneDriveError as exc:
        raise OneDriveError(f"connections.{name}.{exc.msg}", exc.reason) from None


def selected(connections: dict, names: list[str] | None) -> dict:
    """The connections to work on, by name, each checked and with its scopes split."""
    unknown = [name for name in names or () if name not in connections]
    if unknown:
        held = ", ".join(list(connections)[:10]) + (f" and {len(connections) - 10} more" if len(connections) > 10 else "")
        raise OneDriveError(
            f"names lists {', '.join(unknown)}, which connections does not hold; it holds {held or 'none'}.",
            "invalid_option",
        )
    return {name: _checked(name, connections[name]) for name in (connections if names is None else names)}


def policy(params: t.Mapping[str, t.Any], check_mode: bool) -> Policy:
    """The rotation policy of the options; raises OneDriveError for options that would fail every connection alike."""
    if not 1 <= params["max_workers"] <= 64:
        raise OneDriveError("max_workers must be between 1 and 64.", "invalid_option")
    try:
        rotate_after = parse_duration(params["rotate_after"])
    except ValueError as exc:
        raise OneDriveError(f"rotate_after: {exc}.", "invalid_option") from None
    endpoints_from_params(params)
    if params["client_id"]:
        validate_client_id(params["client_id"])
    return Policy(
        rotate_after=rotate_after,
        force=params["force"],
        check_not_due=params["check_not_due"],
        check_mode=check_mode,
        required_scopes=scope_list.unique(scope_list.split(params["required_scopes"])),
        check_drive=params["check_drive"],
    )


def rotate(
    params: t.Mapping[str, t.Any], connections: dict, check_mode: bool, steps: t.Mapping[str, str] | None = None
) -> tuple[dict, str | None]:
    """The result of rotating the selected connections, and a failure message when any of them failed.

    ``steps``, when given, is each connection's step as rotation.plan decided it. Raises OneDriveError, before any
    request, for options that would fail every connection alike.
    """
    rules = policy(params, check_mode)

    def make_client(record):
        overrides = {key: record[key] for key in RECORD_OPTIONS if record.get(key)}
        if not overrides.get("client_id", params["client_id"]):
            raise OneDriveError("The connection has no client_id, and the client_id option is not set.", "invalid_option")
        return client_from_params({**params, **overrides}, transport)

    def keep(outcome):
        return outcome.status, outcome.summary(), outcome.update()

    with transport_from_params(params, pool_size=params["max_workers"]) as transport:
        kept = rotate_all(transport, connections, make_client, rules, utcnow(), params["max_workers"], keep, steps)

    results = {
        name: {"client_id": connections[name].get("client_id") or params["client_id"], **summary}
        for name, (dummy, summary, dummy) in kept.items()
    }
    statuses = {status: [name for name, (got, dummy, dummy) in kept.items() if got == status] for status in STATUSES}
    result = dict(
        connection_results=results,
        updates={name: update for name, (dummy, dummy, update) in kept.items() if update},
        statuses=statuses,
    )
    return summed(result)


def summed(result: dict) -> tuple[dict, str | None]:
    """``result`` with ``changed`` and ``reauthorize`` from its connection results, and the failure message, if any."""
    results, statuses = result["connection_results"], result["statuses"]
    result.update(
        changed=bool(statuses["rotated"] or statuses["skipped"]),
        reauthorize=[name for name, summary in results.items() if summary.get("needs_authorization")],
    )
    failure = None
    if statuses["failed"]:
        reasons = "; ".join(f"{name}: {results[name]['reason']}" for name in statuses["failed"])
        failure = f"{len(statuses['failed'])} of {len(results)} connections failed ({reasons})."
    return result, failure
