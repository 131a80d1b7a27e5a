#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rotate_tokens
short_description: Rotate and verify the refresh tokens of many OneDrive connections at once
version_added: 1.0.0
description:
  - Takes the stored connections (as M(onedrive.connection.vault_config) keeps them) and, for each one whose
    rotation is due, redeems its refresh token once and verifies the new access token against Microsoft Graph,
    as M(onedrive.connection.verify) does; a bounded number of connections at a time, over shared HTTP
    connections, so each connection costs two requests.
  - With O(path), the connections come from an ansible-vault encrypted file on the controller, as
    M(onedrive.connection.vault_config) keeps them, and what changed goes back into it in one write, even
    when some connections fail. With O(store=hashi_vault), they come from OpenBao or HashiCorp Vault and go
    back there, one check-and-set write per changed connection. Nothing returned holds a token, so the task
    needs no C(no_log).
  - "With a store, no two runs ever redeem the same refresh token: before redeeming, a run claims the
    connections it will redeem with a compare-and-set write of a claim (a run id, the host and process, an
    expiry; no secret), in one write of the file for all of them, or one write per connection in OpenBao or
    Vault. A run that finds another run's live claim leaves that connection alone and reports it with status
    V(claimed), which is not a failure. The write of the result releases the claim. A claim a crashed run
    left behind is taken over once it expires, after O(claim_lease)."
  - With a store, each connection that was checked (rotated, verified or failed) gets its verdict recorded for
    M(onedrive.connection.connection_status), in the same write as its tokens; C(last_status) (V(rotated),
    V(verified) or V(failed)), C(last_reason) (a failure's reason) and C(last_checked_at); no secret. Like claims,
    these fields are bookkeeping, neither a change nor part of the diff. A failed connection is recorded too; one
    checked with its stored access token alone is written only when its verdict changed, so a run with nothing
    due, or a steady state, writes nothing.
  - The requests come from the task's host, as with any module. When that host is the controller itself (a
    local connection, as for C(localhost)), the rotation runs in the action plugin, and the decrypted
    connections never become Ansible variables, module arguments or a module file on disk, which keeps
    memory and time low with thousands of them.
  - With O(connections), it returns, per connection, what happened (RV(connection_results), without secrets)
    and what to store (RV(updates), with the rotated tokens). B(Always store) RV(updates) with the
    O(onedrive.connection.vault_config#module:connections) option of M(onedrive.connection.vault_config),
    even when the module fails. A connection whose check failed after its refresh has its new token there,
    and the old one may no longer work.
  - One connection's failure does not stop the others, not even an unexpected one, which fails its connection
    with reason C(unexpected_response) (C(invalid_option) when it came from reading the stored record), naming
    the error's type only. The module fails when any connection failed, after all were tried.
author: onedrive.connection maintainers (@onedrive-connection)
requirements:
  - requests
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
      - With a O(rotate_after) such as V(7d), a run right after another sends nothing and writes nothing. With the
        default O(rotate_after=0), or O(force=true), every run redeems every refresh token, as asked.
  action:
    support: full
  async:
    support: partial
    details:
      - Not with O(path), whose rotated tokens are stored when the rotation ends.
  bypass_host_loop:
    support: none
  check_mode:
    support: partial
    details:
      - In check mode no refresh token is redeemed (that would rotate it while the write is skipped); such
        connections are reported as V(skipped) and the module reports a change. Checks with a stored access
        token run as usual. With O(path) the file is not written.
  diff_mode:
    support: partial
    details:
      - With O(path), the changes to the file, with secret values masked.
  platform:
    platforms: all
  action_group:
    support: full
    membership: [onedrive.connection.onedrive]
options:
  client_id:
    description:
      - The application (client) ID, a GUID, for the connections whose record has no C(client_id).
    type: str
    required: false
  path:
    description:
      - An ansible-vault encrypted vars file on the controller that holds the connections under O(key), as
        M(onedrive.connection.vault_config) writes it. It is read with the play's vault secrets, and written
        back, once, with what changed. A relative path is relative to the playbook's folder.
      - The file stays as it is encrypted, as a whole or value by value, and keeps its permissions. A token is
        stored only over the one it was rotated from, under the writers' lock of
        M(onedrive.connection.vault_config); a connection another run stored a newer token for meanwhile is
        left as it is and listed in RV(connections_skipped).
      - With O(store=ansible_vault), exactly one of O(path) and O(connections) is required.
    type: path
  claim_lease:
    description:
      - With a store, how long this run's claims keep other runs off the connections it redeems, unless the
        run's result releases them sooner; seconds, or a number with a unit C(s), C(m), C(h), C(d) or C(w).
      - "How to choose it: longer than the longest run takes, from the claim to the result's write (with many
        connections, about the connections divided by O(max_workers), times two answers of the service, plus
        the retries that O(timeout) and O(max_retry_wait) allow), and as short as you are willing to wait,
        after a crashed or killed run, before another run rotates its connections. A claim that expires while
        its run still works lets another run redeem the same token: the default suits runs of a few minutes."
    type: str
    default: 15m
  key:
    description:
      - With O(path), the variable in the file that maps connection names to their fields.
    type: str
    default: onedrive_connections
  vault_id:
    description:
      - With O(path), the vault ID that encrypts the rewritten file (or its values). When omitted, the
        C(vault_encrypt_identity) setting, or the only vault ID loaded.
    type: str
  lock_timeout:
    description:
      - With O(path), how many seconds to wait for another writer of the file to finish.
    type: float
    default: 60
  backup:
    description:
      - With O(path), keep the file as it was beside it, with a time stamp in its name, before rewriting it.
    type: bool
    default: false
  connections:
    description:
      - The stored connections, by name. Each is a dictionary with at least C(refresh_token), and usually
        C(client_id); the keys C(tenant), C(cloud), C(client_secret) and C(scopes) override the module's
        options for that connection. C(rotated_at) (or else C(obtained_at)) tells when the token was last
        rotated, and C(access_token) with C(access_token_expires_at) allows a check without a refresh.
      - Other keys are ignored. The values of C(refresh_token), C(access_token) and C(client_secret) are
        hidden from any output of the module.
      - A record that is not a dictionary, or whose C(scopes) or another of the keys above is not text, fails
        the module before any connection is tried. A C(refresh_token) or C(access_token) about to be sent that
        holds anything but visible ASCII (a space, a line break inside, a typographic apostrophe pasted in),
        which no token has and no HTTP header can carry, fails only its connection, with reason
        C(token_invalid), before any request for it.
      - Exactly one of O(path) and O(connections) is required, unless O(store=hashi_vault).
    type: dict
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
      - How many connections are checked at the same time (1 to 64). Each sends its token request, then its Graph
        request, so about this many token requests are in flight at once.
      - The default favours a short run. Microsoft publishes no token endpoint limit for work, school or personal
        accounts; the nearest published one is 20 requests per second per IP for Microsoft Entra External ID
        tenants (U(https://learn.microsoft.com/en-us/entra/external-id/customers/reference-service-limits)).
        A throttled request is answered 429 with C(Retry-After) and retried within O(max_retry_wait), and a
        connection still throttled then fails alone with C(throttled) and is tried again by the next run. The US
        government clouds throttle sooner, so use 4 to 8 there, and fewer whenever runs report C(throttled).
    type: int
    default: 32
notes:
  - With O(path) on a play of several hosts, set C(run_once) on the task (the module warns otherwise) since
    every host would rotate the same connections, and all but one host's tokens would be thrown away.
  - >-
    With O(path), before any token is refreshed, the task checks that the file could be written: the vault
    secret that encrypts it, a writable folder, and the writers' lock, which it takes and releases. A lock that
    another writer holds for longer than O(lock_timeout), or that another user planted (a symbolic link, or a
    file of a user other than the one running the play, root or the folder's owner), fails the task with no
    request made, so no token is rotated and lost. A writer that takes the lock during the rotation can still
    make the store fail; the message then names the connections that were refreshed. A symbolic link at
    O(path), and the owner of the rewritten file, are treated as M(onedrive.connection.vault_config) describes.
  - With O(path) on the controller, the rotation runs in Ansible's own Python, which then needs C(requests);
    the task's C(environment) (a proxy, C(REQUESTS_CA_BUNDLE)) applies, C(ansible_python_interpreter) does not.
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
- name: Rotate every connection in the vault last rotated a week ago or more, and store the new tokens
  onedrive.connection.rotate_tokens:
    path: group_vars/all/onedrive.yml
    rotate_after: 7d
  register: rotation

- name: Rotate the connections kept in OpenBao or HashiCorp Vault, from any controller or job
  onedrive.connection.rotate_tokens:
    store: hashi_vault
    hashi_vault:
      url: https://bao.example.com:8200
      auth_method: approle
      role_id: "{{ lookup('ansible.builtin.env', 'BAO_ROLE_ID') }}"
      secret_id: "{{ lookup('ansible.builtin.env', 'BAO_SECRET_ID') }}"
      path: onedrive/connections
    rotate_after: 7d
    claim_lease: 15m
  register: rotation

- name: Check one connection (the plugin's Test Connection), rotating only when its access token is stale
  onedrive.connection.rotate_tokens:
    path: group_vars/all/onedrive.yml
    names: [robot1]
    check_not_due: true

- name: Or, with connections from variables, rotate them ...
  onedrive.connection.rotate_tokens:
    connections: "{{ onedrive_connections }}"
    rotate_after: 7d
  register: rotation
  failed_when: rotation.connection_results is not defined
  no_log: true  # the result holds the rotated tokens

- name: ... and store the rotated tokens, in one write
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
      refresh token), V(not_due), V(skipped) (check mode), V(claimed) (another run holds the connection; its
      C(claimed_by) has that run's C(run_id), C(host), C(pid) and C(expires_at), or is null when another run
      claimed or rotated it between this run's read and its claim) or V(failed).
    - Each has the C(client_id) of its application. Checked connections also have C(verified_at),
      C(refresh_token_rotated), C(tenant_id), C(granted_scopes), and C(user) and C(drive) as
      M(onedrive.connection.verify) returns them; failed ones have C(reason), C(msg), C(needs_authorization)
      and Microsoft's error fields.
  returned: always
  type: dict
  sample:
    robot1:
      status: rotated
      client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
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
    - B(Secrets), C(refresh_token) (when rotated) and C(access_token). An access token the token endpoint answered
      with characters no HTTP header can carry is left out (the connection fails with reason
      C(unexpected_response)), and its new refresh token is there all the same.
    - Also C(access_token_expires_at), C(rotated_at), C(verified_at), C(granted_scopes), C(user_id),
      C(user_principal_name), C(account_type), C(drive_id) and C(drive_type), as far as they are known.
  returned: with O(connections)
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
    claimed: []
    failed: [robot2]
reauthorize:
  description: The names of the failed connections that only a new sign-in repairs.
  returned: always
  type: list
  elements: str
  sample: [robot2]
path:
  description:
    - The vaulted file, with the playbook's folder prepended when O(path) was relative; with
      O(store=hashi_vault), the server's URL of the folder of connections.
  returned: with a store
  type: str
  sample: /srv/ansible/group_vars/all/onedrive.yml
connections_changed:
  description:
    - For each connection whose stored fields changed (or would, in check mode), by name, the sorted names of
      those fields.
  returned: with a store, once the module ran
  type: dict
  sample:
    robot1: [access_token, access_token_expires_at, refresh_token, rotated_at, verified_at]
connections_skipped:
  description:
    - The connections with a rotated token that was not stored, because another run stored a newer token for
      them after this one read the file. The newer token stays.
  returned: with a store, once the module ran
  type: list
  elements: str
  sample: []
reason:
  description:
    - Why a run with O(store=hashi_vault) could not start, before any token was redeemed.
      V(store_unavailable) (the server is down, sealed or timed out), V(store_denied) (the token is invalid, or
      its policy lacks a capability the run needs), V(store_invalid) (a setting is missing or wrong, or the
      mount is not KV version 2).
  returned: when the store refused the run
  type: str
  sample: store_denied
store_error:
  description:
    - Why the rotated tokens could not be stored in the file (the task then fails). The connections the
      message names were refreshed, and may need a new sign-in.
  returned: with O(path), when the write failed
  type: str
  sample: >-
    another writer held the lock on /srv/ansible/group_vars/all/onedrive.yml (the file
    /srv/ansible/group_vars/all/.onedrive.yml.lock) for more than 60 s, so
    /srv/ansible/group_vars/all/onedrive.yml was not written: run again once the other writer is done, or
    raise lock_timeout. The lock is released when its holder ends; `fuser
    /srv/ansible/group_vars/all/.onedrive.yml.lock` shows which process holds it
backup_file:
  description: The copy of the file as it was, when O(backup) is true and the file was rewritten.
  returned: when a backup was made
  type: str
  sample: /srv/ansible/group_vars/all/onedrive.yml.12345.2025-03-01@08:30:00~
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import batch
from ansible_collections.onedrive.connection.plugins.module_utils.common import run
from ansible_collections.onedrive.connection.plugins.module_utils.rotation import SECRET_FIELDS


def without_secrets(connections: dict) -> dict:
    """The connections as the module's echo of its arguments (``invocation``) shows them."""
    return {
        name: {key: batch.HIDDEN if key in SECRET_FIELDS and value else value for key, value in record.items()}
        if isinstance(record, dict) else record
        for name, record in connections.items()
    }


def rotate(module: AnsibleModule, connections: dict) -> dict:
    selected = batch.selected(connections, module.params["names"])
    result, failure = batch.rotate(module.params, selected, module.check_mode)
    if failure:
        module.fail_json(msg=failure, **result)
    return result


def main() -> None:
    # The vault options are the action plugin's, which reads the file on the controller; they are here too
    # so that the module documents and checks one set of options.
    module = AnsibleModule(
        **batch.rotate_tokens_spec(),
        supports_check_mode=True,
        # Keeps the arguments, tokens included, out of the system log the module would write them to.
        no_log=True,
    )
    if module.params["path"] or module.params["store"] == "hashi_vault":
        module.fail_json(msg="The store is read on the controller by the rotate_tokens action plugin, which did not run.")
    connections = module.params["connections"]
    # The tokens arrive inside a dictionary, which no_log cannot mark value by value. Adding each to
    # no_log_values would make every exit search every output string for every token, which takes longer than
    # the rotation itself from a few hundred connections on; the echo of the arguments holds a copy without
    # them instead, and nothing else the module returns holds a stored secret.
    module.params["connections"] = without_secrets(connections)
    run(module, lambda module: rotate(module, connections))


if __name__ == "__main__":
    main()
