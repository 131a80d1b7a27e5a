#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: connection_status
short_description: Report the health of every stored OneDrive connection, as a table, JSON and Prometheus metrics
version_added: 1.0.0
description:
  - Reads the stored connections from either store, the ansible-vault file O(path) or OpenBao / HashiCorp Vault
    (O(store=hashi_vault)), on the controller, and returns for each one its user, drive, scopes, when its token
    was obtained, rotated and verified, the verdict of its last check and its reason, the refresh token's age,
    the day Microsoft's 90-day inactivity window ends if nothing uses the token, and when its next rotation is
    due for O(rotate_after).
  - The verdict is what the last check recorded in the store (M(onedrive.connection.rotate_tokens) records it,
    and so the rotate, bootstrap and plugin roles), with what the store says about it now; a connection with no
    refresh token, or past its inactivity window, is down whatever its last check said.
  - By default nothing is sent to Microsoft. With O(verify=true), every selected connection is checked first
    exactly as M(onedrive.connection.rotate_tokens) with O(onedrive.connection.rotate_tokens#module:check_not_due=true)
    checks it; with its stored access token while that is valid, else by redeeming its refresh token under a
    claim and storing the new one. Connections whose rotation is due are rotated.
  - With O(json_file) and O(metrics_file), it writes the report as JSON and in the Prometheus text format for
    node_exporter's textfile collector, on the controller, each replaced atomically (a reader never sees half a
    file) and only when its content changes.
  - Nothing returned or written holds a token or secret, so the task needs no C(no_log).
author: onedrive.connection maintainers (@onedrive-connection)
requirements:
  - requests (with O(verify=true))
  - hvac (with O(store=hashi_vault))
extends_documentation_fragment:
  - onedrive.connection.connection
  - onedrive.connection.store
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
  - onedrive.connection.attributes
attributes:
  idempotent:
    support: partial
    details:
      - Without O(verify), yes. The files are written only when their content changes, and they leave out the
        values that change with the clock alone.
      - With O(verify=true), a connection whose stored access token no longer serves, or whose rotation is due, is
        redeemed, and its new token stored, on every run that finds it so.
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - In check mode the files are not written, and O(verify=true) redeems no refresh token (see
        M(onedrive.connection.rotate_tokens)).
  diff_mode:
    support: none
  platform:
    platforms: all
  action_group:
    support: full
    membership: [onedrive.connection.onedrive]
options:
  client_id:
    description:
      - With O(verify=true), the application (client) ID for the connections whose record has no C(client_id).
    type: str
    required: false
  path:
    description:
      - An ansible-vault encrypted vars file on the controller that holds the connections under O(key), as
        M(onedrive.connection.vault_config) writes it. A relative path is relative to the playbook's folder.
      - Required with O(store=ansible_vault).
    type: path
  key:
    description:
      - The variable of the file that maps connection names to their fields (a folder below
        O(hashi_vault.path) with O(store=hashi_vault), as M(onedrive.connection.vault_config) writes it).
    type: str
    default: onedrive_connections
  vault_id:
    description:
      - With O(path) and O(verify=true), the vault ID that encrypts the rewritten file, as for
        M(onedrive.connection.rotate_tokens).
    type: str
  lock_timeout:
    description:
      - With O(path) and O(verify=true), how many seconds to wait for another writer of the file to finish.
    type: float
    default: 60
  claim_lease:
    description:
      - With O(verify=true), how long the claims on the connections it redeems last, as
        O(onedrive.connection.rotate_tokens#module:claim_lease) says.
    type: str
    default: 15m
  names:
    description:
      - The names of the connections to report; all of them when omitted. A name the store does not hold fails
        the task.
    type: list
    elements: str
  rotate_after:
    description:
      - How long after its last rotation a connection is due again, as the rotate role's C(onedrive_rotate_after);
        seconds, or a number with a unit C(s), C(m), C(h), C(d) or C(w). Gives RV(connections.next_rotation_due_at),
        and with O(verify=true) which connections are rotated.
    type: str
    default: 7d
  verify:
    description:
      - Check every selected connection against Microsoft before reporting, and record the verdicts in the store.
      - V(false) sends nothing and writes nothing to the store.
    type: bool
    default: false
  required_scopes:
    description:
      - With O(verify=true), the scopes each grant must hold, as for M(onedrive.connection.verify).
    type: list
    elements: str
    default: [offline_access, User.Read, Files.Read]
  check_drive:
    description:
      - With O(verify=true), whether to ask Graph for each user's drive as well as the user.
    type: bool
    default: true
  max_workers:
    description:
      - With O(verify=true), how many connections are checked at the same time (1 to 64).
    type: int
    default: 32
  json_file:
    description:
      - A file on the controller to write the report to as JSON (RV(connections) by name, without the values that
        change with the clock alone, such as ages), mode C(0644) when new. Its folder must exist.
    type: path
  metrics_file:
    description:
      - A file on the controller to write the report to in the Prometheus text exposition format, for
        node_exporter's textfile collector (name it C(*.prom) in the collector's folder), mode C(0644) when new.
        Its folder must exist.
      - "The metrics, each labelled C(connection): C(onedrive_connection_up) (1 when the last check passed, else
        0), C(onedrive_connection_last_rotation_timestamp_seconds) (when the stored refresh token was issued: its
        last rotation, else its sign-in), C(onedrive_connection_last_verification_timestamp_seconds),
        C(onedrive_connection_refresh_token_expiry_timestamp_seconds) (the end of the 90-day inactivity window),
        and C(onedrive_connection_info) (always 1, with the labels C(user_principal_name), C(account_type) and
        C(drive_type)). A time that is not known has no sample."
    type: path
notes:
  - The store is read, and the files are written, on the controller by the action plugin, whatever host the task
    targets; set C(run_once) on a play of several hosts.
  - Microsoft's inactivity window of a refresh token is 90 days from its issue; a Conditional Access sign-in
    frequency policy or a single-page-app redirect URI can end it sooner, which no stored field tells.
seealso:
  - module: onedrive.connection.rotate_tokens
  - name: The onedrive.connection.status playbook
    description: Prints the table and writes the JSON and metrics files with the roles' variables.
    link: https://github.com/onedrive-connection/onedrive.connection/blob/main/README.md
"""

EXAMPLES = r"""
- name: Report every connection of the vault, without asking Microsoft
  onedrive.connection.connection_status:
    path: group_vars/all/onedrive.yml
    rotate_after: 7d
  register: health

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ health.table }}"

- name: Check the connections in OpenBao, then write the metrics for node_exporter's textfile collector
  onedrive.connection.connection_status:
    store: hashi_vault
    hashi_vault:
      path: onedrive/connections
    verify: true
    metrics_file: /var/lib/node_exporter/textfile_collector/onedrive.prom
  run_once: true

- name: Fail when a connection is down
  ansible.builtin.assert:
    that: health.down | length == 0
    fail_msg: "Down: {{ health.down | join(', ') }}"
"""

RETURN = r"""
connections:
  description:
    - For each connection reported, by name, its status; never a token or secret.
  returned: success
  type: dict
  contains:
    up:
      description:
        - V(true) when the last check passed, V(false) when it failed (or the store shows the token cannot work),
          V(null) when the connection was never checked.
      type: bool
    reason:
      description:
        - Why it is down, a stable reason as the modules' failures give it (C(token_revoked), C(throttled), ...);
          C(token_invalid) when no refresh token is stored and C(token_expired) past the inactivity window. Null
          otherwise.
      type: str
    needs_authorization:
      description: Whether only a new sign-in (the bootstrap role) repairs it.
      type: bool
    advice:
      description: What to do, in a few words; V(ok) when nothing is needed.
      type: str
    last_status:
      description: The verdict of the last recorded check, V(rotated), V(verified) or V(failed); null when none.
      type: str
    user_principal_name:
      description: The user the token reached when last checked.
      type: str
    account_type:
      description: V(work) or V(personal).
      type: str
    drive_type:
      description: V(personal), V(business) or V(documentLibrary).
      type: str
    scopes:
      description: The scopes granted at the last redemption (else those asked for at sign-in).
      type: list
      elements: str
    obtained_at:
      description: When the connection was signed in.
      type: str
    rotated_at:
      description: When its refresh token was last rotated.
      type: str
    verified_at:
      description: When Microsoft Graph last accepted it.
      type: str
    last_checked_at:
      description: When the last recorded check ran.
      type: str
    refresh_token_stored:
      description: Whether the record holds a refresh token (the token itself is never returned).
      type: bool
    refresh_token_issued_at:
      description: When the stored refresh token was issued, its last rotation else its sign-in.
      type: str
    refresh_token_age_seconds:
      description: Seconds since then.
      type: int
    refresh_token_age_days:
      description: Days since then, to one decimal.
      type: float
    refresh_token_expires_at:
      description: When the 90-day inactivity window ends if nothing uses the token.
      type: str
    next_rotation_due_at:
      description: When the rotation is due for O(rotate_after) (now, when the token's issue is not known).
      type: str
    rotation_due:
      description: Whether that time has come.
      type: bool
  sample:
    robot1:
      up: false
      reason: token_revoked
      needs_authorization: true
      advice: sign in again with the bootstrap role
      last_status: failed
      user_principal_name: alex@fabrikam.onmicrosoft.com
      account_type: work
      drive_type: business
      scopes: [offline_access, User.Read, Files.Read]
      obtained_at: "2025-01-10T08:00:00Z"
      rotated_at: "2025-02-22T03:17:00Z"
      verified_at: "2025-02-22T03:17:01Z"
      last_checked_at: "2025-03-01T03:17:02Z"
      refresh_token_stored: true
      refresh_token_issued_at: "2025-02-22T03:17:00Z"
      refresh_token_age_seconds: 604802
      refresh_token_age_days: 7.0
      refresh_token_expires_at: "2025-05-23T03:17:00Z"
      next_rotation_due_at: "2025-03-01T03:17:00Z"
      rotation_due: true
up:
  description: The names of the connections whose last check passed.
  returned: success
  type: list
  elements: str
  sample: [robot2]
down:
  description: The names of the connections that are down.
  returned: success
  type: list
  elements: str
  sample: [robot1]
unknown:
  description: The names of the connections never checked.
  returned: success
  type: list
  elements: str
  sample: []
reauthorize:
  description: The names of the connections that only a new sign-in repairs.
  returned: success
  type: list
  elements: str
  sample: [robot1]
table:
  description: The report as lines of aligned columns, a header then a line per connection, the unhealthy first.
  returned: success
  type: list
  elements: str
  sample:
    - "CONNECTION  STATE  USER               TOKEN EXPIRES     ROTATED           VERIFIED          REASON         WHAT TO DO"
    - "robot1      DOWN   alex@fabrikam.com  2025-05-23 03:17  2025-02-22 03:17  2025-02-22 03:17  token_revoked  sign in again"
verification:
  description:
    - With O(verify=true), what M(onedrive.connection.rotate_tokens) returned for the check
      (C(connection_results), C(statuses), C(connections_changed), C(reauthorize)), without tokens.
  returned: with O(verify=true)
  type: dict
  sample: {}
path:
  description: The vaulted file, or with O(store=hashi_vault) the server's URL of the folder of connections.
  returned: success
  type: str
  sample: /srv/ansible/group_vars/all/onedrive.yml
files_written:
  description: The files of O(json_file) and O(metrics_file) that were written (or would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [/var/lib/node_exporter/textfile_collector/onedrive.prom]
reason:
  description: Why the store could not be read (C(store_unavailable), C(store_denied), C(store_invalid)).
  returned: when OpenBao/Vault refused the run
  type: str
  sample: store_denied
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import status


def main() -> None:
    # The options are the action plugin's, which reads the store on the controller; they are here so that the
    # module documents and checks the same set.
    module = AnsibleModule(argument_spec=status.argument_spec(), supports_check_mode=True)
    module.fail_json(msg="The store is read on the controller by the connection_status action plugin, which did not run.")


if __name__ == "__main__":
    main()
