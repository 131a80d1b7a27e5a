#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: verify
short_description: Test a OneDrive connection against Microsoft Graph
version_added: 1.0.0
description:
  - Tests a OneDrive connection the way the OneDrive plugin's Test Connection button does, and says who the
    token belongs to, which drive it reaches, what it may do, and exactly what to fix when it fails.
  - With O(refresh_token), redeems it once at the token endpoint, checks the granted scopes against
    O(required_scopes), then asks Microsoft Graph for the user (C(GET /me)) and their drive (C(GET /me/drive))
    in one C(POST /v1.0/$batch) request, so a check costs two HTTP requests.
  - With O(access_token), asks Graph only.
  - B(Microsoft rotates the refresh token on every use.) The module returns the new one in RV(refresh_token),
    and the caller must store it in place of the old one, because the old one may stop working; some servers
    revoke the whole grant when a rotated-out refresh token is used again. Since the result holds tokens, the
    task needs C(no_log=true).
  - Nothing changes on the managed host, so the module never reports a change.
author: onedrive.connection maintainers (@onedrive-connection)
requirements:
  - requests
extends_documentation_fragment:
  - onedrive.connection.connection
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - onedrive.connection.attributes
attributes:
  idempotent:
    support: partial
    details:
      - With O(access_token), yes. With O(refresh_token), each run redeems the token Microsoft gave last, and
        Microsoft answers with a new one; the module reports no change either way.
  action_group:
    support: full
    membership: [onedrive.connection.onedrive]
  check_mode:
    support: partial
    details:
      - With O(access_token), check mode verifies as usual, since asking Graph changes nothing.
      - With O(refresh_token), check mode skips the task and says so, without any request. Redeeming the refresh
        token would rotate it, and as check mode also skips the task that stores the new one, the stored token
        would be the rotated-out one, which some servers answer by revoking the grant.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  refresh_token:
    description:
      - The connection's refresh token, redeemed once for an access token to verify with.
      - Exactly one of O(refresh_token) and O(access_token) is required.
    type: str
  access_token:
    description:
      - An access token for Microsoft Graph, to verify with as it is. It is never parsed, as tokens of personal
        accounts are opaque.
      - Its scopes are unknown, so O(required_scopes) are not compared. Graph answering C(/me) proves
        C(User.Read), and answering C(/me/drive) (with O(check_drive)) proves a Files scope that reads the
        drive; C(offline_access) and other scopes cannot be checked.
    type: str
  scopes:
    description:
      - The scopes to ask for when redeeming O(refresh_token); by default those the grant was given. They must be
        among the consented scopes. Strings of several names separated by spaces are split.
    type: list
    elements: str
  required_scopes:
    description:
      - The scopes the grant must hold; the module fails with reason C(missing_scope), naming each one
        missing, before it asks Graph.
      - The default is what a OneDrive connection needs, C(offline_access) to get a refresh token, C(User.Read)
        and a Files scope to read the drive.
      - A broader permission satisfies a narrower one. C(ReadWrite) includes C(Read), and C(.All) (everything the
        user can reach) includes the user's own, so V(Files.Read) is satisfied by any of C(Files.Read),
        C(Files.Read.All), C(Files.ReadWrite) and C(Files.ReadWrite.All).
      - Compared only with O(refresh_token); see O(access_token). An empty list checks no scope.
    type: list
    elements: str
    default: [offline_access, User.Read, Files.Read]
  check_drive:
    description:
      - Whether to ask Graph for the user's drive as well as the user.
      - Set it to V(false) for accounts without OneDrive, which otherwise fail with reason C(no_drive).
        O(required_scopes) are still compared.
    type: bool
    default: true
notes:
  - Besides the shared reasons, verify fails with C(graph_unauthorized) when Graph refuses the access token
    (expired, malformed, or for another cloud), C(missing_scope) when the grant lacks a required scope or Graph
    answers 403 (the message names the scope to add), and C(no_drive) when the account has no OneDrive (Graph
    answers 404, for example for a work account without a OneDrive license).
  - An expired or revoked refresh token (reasons C(token_expired) and C(token_revoked)) cannot be repaired; the
    connection must be authorized again with M(onedrive.connection.authorize_url) and
    M(onedrive.connection.redeem_code), and the new refresh token stored.
  - Throttling (429, and 503 or 504 with C(Retry-After)) of the token request, of the Graph batch or of a
    request inside it is retried within O(max_retry_wait); after that the module fails with reason
    C(throttled) and the wait the service asked for in RV(retry_after).
  - B(When the check fails after the refresh succeeded), for example because Graph is throttling, the failed
    result still holds RV(refresh_token), RV(refresh_token_rotated) and RV(access_token). Store the refresh
    token even then, for example in a C(rescue) block; the old one may no longer work.
seealso:
  - module: onedrive.connection.authorize_url
  - module: onedrive.connection.redeem_code
  - module: onedrive.connection.vault_config
  - name: Combine multiple requests in one HTTP call using JSON batching
    description: How Microsoft Graph answers a C($batch) request and each request inside it.
    link: https://learn.microsoft.com/en-us/graph/json-batching
  - name: Refresh tokens in the Microsoft identity platform
    description: Lifetime, rotation and revocation of refresh tokens.
    link: https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens
"""

EXAMPLES = r"""
- name: Verify the stored connection
  onedrive.connection.verify:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    refresh_token: "{{ onedrive_connections.backup.refresh_token }}"
  register: onedrive
  no_log: true  # the result holds the rotated refresh token and an access token

- name: Store the rotated refresh token in place of the old one
  onedrive.connection.vault_config:
    path: group_vars/all/onedrive_connections.yml
    connection: backup
    values:
      refresh_token: "{{ onedrive.refresh_token }}"
      rotated_at: "{{ onedrive.verified_at }}"
  when: onedrive.refresh_token_rotated

- name: Show whose drive the connection reaches
  ansible.builtin.debug:
    msg: >-
      {{ onedrive.user.user_principal_name }} ({{ onedrive.user.account_type }}),
      {{ onedrive.drive.drive_type }} drive, {{ onedrive.drive.quota.remaining }} bytes free

- name: Verify a work account that has no OneDrive, and demand write access to files
  onedrive.connection.verify:
    client_id: 8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22
    client_secret: "{{ vault_onedrive_client_secret }}"
    tenant: contoso.onmicrosoft.com
    refresh_token: "{{ onedrive_refresh_token }}"
    required_scopes: [offline_access, User.Read, Files.ReadWrite]
    check_drive: false
  register: onedrive
  no_log: true

- name: Verify and keep the rotated token even when Graph fails
  block:
    - name: Verify
      onedrive.connection.verify:
        client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
        refresh_token: "{{ onedrive_connections.backup.refresh_token }}"
      register: onedrive
      no_log: true
  always:
    - name: Store the rotated refresh token
      onedrive.connection.vault_config:
        path: group_vars/all/onedrive_connections.yml
        connection: backup
        values:
          refresh_token: "{{ onedrive.refresh_token }}"
      when: onedrive.refresh_token_rotated | default(false)

- name: Check an access token the plugin holds, without touching the refresh token
  onedrive.connection.verify:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    access_token: "{{ onedrive_access_token }}"
  no_log: true
"""

RETURN = r"""
user:
  description: The account the token belongs to.
  returned: success
  type: dict
  contains:
    id:
      description: The account's ID; 16 hex digits for personal accounts, a GUID for work or school ones.
      type: str
    display_name:
      description: The display name.
      type: str
    user_principal_name:
      description: The sign-in name.
      type: str
    mail:
      description: The mail address; null for personal accounts and accounts without a mailbox.
      type: str
    account_type:
      description: V(personal) for a personal Microsoft account, V(work) for a work or school account.
      type: str
      choices: [work, personal]
  sample:
    id: 2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c
    display_name: Adele Vance
    user_principal_name: adele@contoso.onmicrosoft.com
    mail: adele@contoso.com
    account_type: work
drive:
  description: The user's drive; null when O(check_drive=false).
  returned: success
  type: dict
  contains:
    id:
      description: The drive's ID.
      type: str
    drive_type:
      description: V(personal) (OneDrive for personal accounts), V(business) (OneDrive for work or school) or
        V(documentLibrary).
      type: str
    owner:
      description: The user owning the drive, with C(id) and C(display_name); null when Graph names none.
      type: dict
    quota:
      description:
        - Storage in bytes, C(total), C(used), C(remaining) and C(deleted) (in the recycle bin), and its
          C(state), V(normal), V(nearing), V(critical) or V(exceeded).
      type: dict
  sample:
    id: b!aW1wb3J0YW50LWRyaXZlLWlk
    drive_type: business
    owner:
      id: 2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c
      display_name: Adele Vance
    quota:
      total: 1099511627776
      used: 52428800
      remaining: 1099459198976
      deleted: 0
      state: normal
granted_scopes:
  description:
    - The scopes of the grant, with Graph resource prefixes removed (V(https://graph.microsoft.com/Files.Read)
      becomes V(Files.Read)); V(offline_access) is among them whenever a refresh token came back.
    - Null when Microsoft did not say.
  returned: when O(refresh_token) was redeemed
  type: list
  elements: str
  sample: [Files.Read, User.Read, offline_access]
tenant_id:
  description:
    - The ID of the account's tenant where it is known, from an id_token (when the grant includes V(openid)),
      from O(tenant) when that is a GUID, or V(9188040d-6c67-4c5b-b112-36a304b66dad) for personal accounts;
      null otherwise.
  returned: always, except when skipped in check mode
  type: str
  sample: 5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b
verified_at:
  description: When the check ran, in UTC, ISO 8601.
  returned: always, except when skipped in check mode
  type: str
  sample: "2025-03-01T08:30:00Z"
refresh_token:
  description:
    - The new refresh token Microsoft returned. A secret. B(Store it in place of the old one), which may no
      longer work; some servers revoke the whole grant when a rotated-out refresh token is used again.
    - Also returned when the check failed after the refresh succeeded.
    - Absent when the service returned the same token; the stored one then stays valid.
  returned: when RV(refresh_token_rotated) is true
  type: str
  sample: 0.AAAAbWkC...
refresh_token_rotated:
  description: Whether the service returned a new refresh token, which must be stored.
  returned: always
  type: bool
  sample: true
access_token:
  description:
    - The access token for Microsoft Graph the refresh returned, valid until RV(access_token_expires_at). A
      secret.
  returned: when O(refresh_token) was redeemed, unless the answer's access token could not be sent to Graph
  type: str
  sample: eyJ0eXAiOiJKV1Qi...
access_token_expires_at:
  description: When RV(access_token) expires, in UTC, ISO 8601; null when Microsoft did not say.
  returned: with RV(access_token)
  type: str
  sample: "2025-03-01T09:45:00Z"
reason:
  description: A stable word for why the check failed; the notes list them.
  returned: failure
  type: str
  sample: no_drive
error:
  description: The OAuth error value, or Graph's error code, the service sent.
  returned: failure, when the service sent one
  type: str
  sample: accessDenied
error_codes:
  description: The AADSTS numbers Microsoft sent.
  returned: failure
  type: list
  elements: int
  sample: [700082]
trace_id:
  description: Microsoft's trace ID (for Graph, its C(request-id)) of the failed request.
  returned: failure, when the service sent one
  type: str
  sample: 0f2c4a1e-9b8d-4c7e-8f6a-5b4c3d2e1f00
correlation_id:
  description: Microsoft's correlation ID (for Graph, its C(client-request-id)) of the failed request.
  returned: failure, when the service sent one
  type: str
  sample: 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d
retry_after:
  description: The seconds the service asked to wait before trying again.
  returned: failure, when throttled
  type: float
  sample: 120
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    client_from_params,
    connection_argument_spec,
    run,
    transport_from_params,
)
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.verification import (
    DEFAULT_REQUIRED_SCOPES,
    checked_token,
    verify,
)


def check(module: AnsibleModule) -> dict:
    params = module.params
    if params["refresh_token"] is None and params["access_token"] is None:
        # An option given as null counts as present for required_one_of.
        raise OneDriveError("one of refresh_token and access_token is required, and not null.", "invalid_option")
    scopes = scope_list.validate(params["scopes"]) if params["scopes"] is not None else None
    required = scope_list.unique(scope_list.split(params["required_scopes"]))
    with transport_from_params(params) as transport:
        client = client_from_params(params, transport)
        if module.check_mode and params["refresh_token"] is not None:
            # Nothing is sent, but a token that could never be sent fails as it would without check mode.
            checked_token(params["refresh_token"], "refresh_token")
            return dict(
                changed=False,
                skipped=True,
                refresh_token_rotated=False,
                msg="Check mode: not verified, since redeeming the refresh token would rotate it while check mode"
                " skips storing the new one. Run without check mode, or verify with access_token.",
            )
        verification = verify(
            transport,
            client,
            refresh_token=params["refresh_token"],
            access_token=params["access_token"],
            scopes=scopes,
            required_scopes=required,
            check_drive=params["check_drive"],
        )
    result = verification.result()
    if verification.error is not None:
        module.fail_json(**result)
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            refresh_token=dict(type="str", no_log=True),
            access_token=dict(type="str", no_log=True),
            scopes=dict(type="list", elements="str"),
            required_scopes=dict(type="list", elements="str", default=list(DEFAULT_REQUIRED_SCOPES)),
            check_drive=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("refresh_token", "access_token")],
        required_one_of=[("refresh_token", "access_token")],
        supports_check_mode=True,
        # Nothing of the arguments goes to the host's system log: ansible-core 2.21 fails a module whose
        # argument syslog refuses (a NUL byte) before the module could say which option is wrong.
        no_log=True,
    )
    run(module, check)


if __name__ == "__main__":
    main()
