#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rotate_tokens
short_description: Rotate and verify the refresh tokens of many OneDrive connections at once
version_added: 0.1.0
description:
  - Takes the stored connections (as M(onedrive.connection.vault_config) keeps them) and, for each one whose
    rotation is due, redeems its refresh token once and verifies the new access token against Microsoft Graph,
    as M(onedrive.connection.verify) does; a bounded number of connections at a time, over shared HTTP
    connections, so each connection costs two requests.
  - Returns, per connection, what happened (RV(connection_results), without secrets) and what to store
    (RV(updates), with the rotated tokens).
  - B(Always store) RV(updates) with the O(onedrive.connection.vault_config#module:connections) option of
    M(onedrive.connection.vault_config), even when the module fails. A connection whose check failed after its
    refresh has its new token there, and the old one may no longer work.
  - One connection's failure does not stop the others. The module fails when any connection failed, after
    all were tried.
author: onedrive.connection maintainers (@onedrive-connection)
requirements:
  - requests
extends_documentation_fragment:
  - onedrive.connection.connection
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: partial
    details:
      - In check mode no refresh token is redeemed (that would rotate it while the write is skipped); such
        connections are reported as V(skipped) and the module reports a change. Checks with a stored access
        token run as usual.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  client_id:
    description:
      - The application (client) ID, a GUID, for the connections whose record has no C(client_id).
    type: str
    required: false
  connections:
    description:
      - The stored connections, by name. Each is a dictionary with at least C(refresh_token), and usually
        C(client_id); the keys C(tenant), C(cloud), C(client_secret) and C(scopes) override the module's
        options for that connection. C(rotated_at) (or else C(obtained_at)) tells when the token was last
        rotated, and C(access_token) with C(access_token_expires_at) allows a check without a refresh.
      - Other keys are ignored. The values of C(refresh_token), C(access_token) and C(client_secret) are
        hidden from any output of the module.
      - A record that is not a dictionary, or whose C(scopes) or another of the keys above is not text, fails
        the module before any connection is tried.
    type: dict
    required: true
  names:
    description:
      - The names of the connections to work on; all of them when omitted.
    type: list
    elements: str
  rotate_after:
    description:
      - How long after its last rotation a connection's token is rotated again; seconds, or a number with a
        unit C(s), C(m), C(h), C(d) or C(w) such as V(7d). V(0) rotates every connection.
      - Rotating well inside Microsoft's 90-day inactivity window keeps unused connections alive, while a
        scheduled run more frequent than this does not rewrite the vault each time.
    type: str
    default: "0"
  force:
    description:
      - Rotate every connection, due or not.
    type: bool
    default: false
  check_not_due:
    description:
      - Verify connections that are not due as well. While a connection's stored access token is valid for
        at least five more minutes, it is verified with Graph alone, rotating nothing; otherwise its refresh
        token is rotated.
    type: bool
    default: false
  required_scopes:
    description:
      - The scopes each grant must hold, as for M(onedrive.connection.verify).
    type: list
    elements: str
    default: [offline_access, User.Read, Files.Read]
  check_drive:
    description:
      - Whether to ask Graph for each user's drive as well as the user.
    type: bool
    default: true
  max_workers:
    description:
      - How many connections are checked at the same time (1 to 64).
    type: int
    default: 32
notes:
  - Each failed connection's result holds C(reason), C(msg) and Microsoft's C(error), C(error_codes),
    C(trace_id) and C(correlation_id), as the other modules' failures do, and C(needs_authorization), true
    when only a new sign-in repairs it (reasons C(token_expired), C(token_revoked), C(token_invalid),
    C(consent_required), C(interaction_required), C(mfa_required) and C(missing_scope)).
seealso:
  - module: onedrive.connection.verify
  - module: onedrive.connection.vault_config
  - name: The onedrive.connection.rotate role
    description: Reads the vault, runs this module and stores the rotated tokens in one write.
    link: https://github.com/onedrive-connection/onedrive.connection/blob/main/README.md
"""

EXAMPLES = r"""
- name: Rotate every connection last rotated a week ago or more
  onedrive.connection.rotate_tokens:
    connections: "{{ onedrive_connections }}"
    rotate_after: 7d
  register: rotation
  failed_when: false
  no_log: true  # the result holds the rotated tokens

- name: Store the rotated tokens, in one write
  onedrive.connection.vault_config:
    path: group_vars/all/onedrive.yml
    connections: "{{ rotation.updates }}"
  when: rotation.updates | length > 0

- name: Say what happened to each connection
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.status }} {{ item.value.reason | default('') }}"
  loop: "{{ rotation.connection_results | dict2items }}"
  loop_control:
    label: "{{ item.key }}"
"""

RETURN = r"""
connection_results:
  description:
    - For each connection worked on, by name, what happened, without any token.
    - C(status) is V(rotated) (a new refresh token, to be stored), V(verified) (checked, the same or no
      refresh token), V(not_due), V(skipped) (check mode) or V(failed).
    - Checked connections also have C(verified_at), C(refresh_token_rotated), C(tenant_id), C(granted_scopes),
      and C(user) and C(drive) as M(onedrive.connection.verify) returns them; failed ones have C(reason),
      C(msg), C(needs_authorization) and Microsoft's error fields.
  returned: always
  type: dict
  sample:
    robot1:
      status: rotated
      verified_at: "2025-03-01T08:30:00Z"
      refresh_token_rotated: true
      user:
        user_principal_name: adele@contoso.onmicrosoft.com
        account_type: work
    robot2:
      status: failed
      reason: token_revoked
      needs_authorization: true
      msg: The grant was revoked ...
updates:
  description:
    - For each connection with something new to store, by name, the fields to store, ready for
      the O(onedrive.connection.vault_config#module:connections) option of M(onedrive.connection.vault_config).
    - B(Secrets), C(refresh_token) (when rotated) and C(access_token).
    - Also C(access_token_expires_at), C(rotated_at), C(verified_at), C(granted_scopes), C(user_id),
      C(user_principal_name), C(account_type), C(drive_id) and C(drive_type), as far as they are known.
  returned: always
  type: dict
  sample:
    robot1:
      refresh_token: 0.AAAAbWkC...
      access_token: eyJ0eXAiOiJKV1Qi...
      access_token_expires_at: "2025-03-01T09:45:00Z"
      rotated_at: "2025-03-01T08:30:00Z"
      verified_at: "2025-03-01T08:30:00Z"
statuses:
  description: The names of the connections by status.
  returned: always
  type: dict
  sample:
    rotated: [robot1]
    verified: []
    not_due: [robot3]
    skipped: []
    failed: [robot2]
reauthorize:
  description: The names of the failed connections that only a new sign-in repairs.
  returned: always
  type: list
  elements: str
  sample: [robot2]
"""

import functools
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    client_from_params,
    connection_argument_spec,
    endpoints_from_params,
    run,
    transport_from_params,
)
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import validate_client_id
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.rotation import (
    SECRET_FIELDS,
    Policy,
    rotate_all,
)
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import parse_duration, utcnow
from ansible_collections.onedrive.connection.plugins.module_utils.verification import DEFAULT_REQUIRED_SCOPES

STATUSES = ("rotated", "verified", "not_due", "skipped", "failed")
# Keys of a stored connection that stand in for the module's options of the same name.
RECORD_OPTIONS = ("client_id", "tenant", "cloud", "client_secret")
# What Ansible shows in place of a value it must not show.
HIDDEN = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# Keys of a stored connection that are read as text.
TEXT_FIELDS = (*RECORD_OPTIONS, "refresh_token", "access_token")


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


def without_secrets(connections: dict) -> dict:
    """The connections as the module's echo of its arguments (``invocation``) shows them."""
    return {
        name: {key: HIDDEN if key in SECRET_FIELDS and value else value for key, value in record.items()}
        if isinstance(record, dict) else record
        for name, record in connections.items()
    }


def selected(connections: dict, names: list[str] | None) -> dict:
    """The connections to work on, by name, each checked and with its scopes split."""
    unknown = [name for name in names or () if name not in connections]
    if unknown:
        raise OneDriveError(
            f"names lists {', '.join(unknown)}, which connections does not hold; it holds"
            f" {', '.join(connections) or 'none'}.",
            "invalid_option",
        )
    return {name: _checked(name, connections[name]) for name in (connections if names is None else names)}


def rotate(module: AnsibleModule, connections: dict) -> dict:
    params = module.params
    if not 1 <= params["max_workers"] <= 64:
        raise OneDriveError("max_workers must be between 1 and 64.", "invalid_option")
    try:
        rotate_after = parse_duration(params["rotate_after"])
    except ValueError as exc:
        raise OneDriveError(f"rotate_after: {exc}.", "invalid_option") from None
    # Malformed options shared by every connection fail the run once, rather than each connection alike.
    endpoints_from_params(params)
    if params["client_id"]:
        validate_client_id(params["client_id"])
    connections = selected(connections, params["names"])
    policy = Policy(
        rotate_after=rotate_after,
        force=params["force"],
        check_not_due=params["check_not_due"],
        check_mode=module.check_mode,
        required_scopes=scope_list.unique(scope_list.split(params["required_scopes"])),
        check_drive=params["check_drive"],
    )

    def make_client(record):
        overrides = {key: record[key] for key in RECORD_OPTIONS if record.get(key)}
        if not overrides.get("client_id", params["client_id"]):
            raise OneDriveError("The connection has no client_id, and the client_id option is not set.", "invalid_option")
        return client_from_params({**params, **overrides}, transport)

    with transport_from_params(params, pool_size=params["max_workers"]) as transport:
        outcomes = rotate_all(transport, connections, make_client, policy, utcnow(), params["max_workers"])

    results = {name: outcome.summary() for name, outcome in outcomes.items()}
    updates = {name: update for name, outcome in outcomes.items() if (update := outcome.update())}
    statuses = {status: [name for name, outcome in outcomes.items() if outcome.status == status] for status in STATUSES}
    reauthorize = [name for name, result in results.items() if result.get("needs_authorization")]
    result = dict(
        changed=bool(statuses["rotated"] or statuses["skipped"]),
        connection_results=results,
        updates=updates,
        statuses=statuses,
        reauthorize=reauthorize,
    )
    if statuses["failed"]:
        failures = "; ".join(f"{name}: {results[name]['reason']}" for name in statuses["failed"])
        module.fail_json(msg=f"{len(statuses['failed'])} of {len(outcomes)} connections failed ({failures}).", **result)
    return result


def main() -> None:
    argument_spec = connection_argument_spec(
        connections=dict(type="dict", required=True),
        names=dict(type="list", elements="str"),
        rotate_after=dict(type="str", default="0"),
        force=dict(type="bool", default=False),
        check_not_due=dict(type="bool", default=False),
        required_scopes=dict(type="list", elements="str", default=list(DEFAULT_REQUIRED_SCOPES)),
        check_drive=dict(type="bool", default=True),
        max_workers=dict(type="int", default=32),
    )
    argument_spec["client_id"]["required"] = False
    # no_log here keeps the arguments, tokens included, out of the system log the module would write them to.
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, no_log=True)
    connections = module.params["connections"]
    # The tokens arrive inside a dictionary, which no_log cannot mark value by value. Adding each to
    # no_log_values would make every exit search every output string for every token, which takes longer than
    # the rotation itself from a few hundred connections on; the echo of the arguments holds a copy without
    # them instead, and nothing else the module returns holds a stored secret.
    module.params["connections"] = without_secrets(connections)
    run(module, functools.partial(rotate, connections=connections))


if __name__ == "__main__":
    main()
