#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: redeem_code
short_description: Redeem a Microsoft sign-in code for a OneDrive refresh token
version_added: 1.0.0
description:
  - Exchanges the authorization code of a sign-in started with M(onedrive.connection.authorize_url) for a
    refresh token and an access token, at the Microsoft identity platform's token endpoint.
  - Takes the code as the user has it, for example the whole address the browser ended on, checks the
    response's state, and fails with Microsoft's explanation when the sign-in itself failed, without a token
    request.
  - A code works once and for about ten minutes, so the module reports a change, and check mode does not
    redeem it.
  - Given O(device_code) instead, from M(onedrive.connection.device_code), it waits until the user has signed in
    on another device, polling the token endpoint, and returns the same tokens.
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
    support: none
    details:
      - A code or device code works once; a second run with the same one fails with C(code_redeemed).
  action_group:
    support: full
    membership: [onedrive.connection.onedrive]
  check_mode:
    support: partial
    details: Check mode validates the options and the pasted response but does not redeem the code, since a code
      works only once, nor polls for a device code; no token is returned.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  redirect_uri:
    description:
      - The redirect URI of the sign-in, exactly as given to M(onedrive.connection.authorize_url).
    type: str
    default: https://login.microsoftonline.com/common/oauth2/nativeclient
  code:
    description:
      - The authorization code alone.
      - Exactly one of O(code), O(response_url) and O(device_code) is required.
    type: str
  response_url:
    description:
      - The sign-in response as the user has it, from which the code is taken.
      - The whole address the browser ended on, its query string or fragment, or a C(form_post) body.
        Surrounding whitespace, line breaks inside it (where a terminal or mail wrapped it), and unknown
        parameters such as C(session_state), C(iss) and C(client_info) are ignored; a response percent-encoded
        once more as a whole is decoded.
      - A response holding two different values of C(code), C(state) or C(error) is refused.
      - When it is an error response, such as C(error=access_denied), the module fails with Microsoft's
        description and what to do, without calling the token endpoint.
    type: str
  state:
    description:
      - The state returned by M(onedrive.connection.authorize_url). When given, the state in O(response_url)
        must equal it, or the module fails with reason C(state_mismatch) (a response from another sign-in, or a
        forged one).
    type: str
  code_verifier:
    description:
      - The PKCE code verifier returned by M(onedrive.connection.authorize_url) with the sign-in URL; required
        when the sign-in used PKCE.
    type: str
  scopes:
    description:
      - The scopes to redeem the code for; by default those of the sign-in. Strings of several names separated
        by spaces are split.
      - Not used with O(device_code), whose scopes were fixed when the device authorization started.
    type: list
    elements: str
  device_code:
    description:
      - The RV(onedrive.connection.device_code#module:device_code) of a device authorization. The module polls the
        token endpoint every O(interval) seconds until the user has signed in with the matching user code, then
        returns the tokens as for a code.
      - C(authorization_pending) keeps it waiting; C(slow_down) adds 5 seconds to the interval for every later poll
        (RFC 8628). It fails with reason C(access_denied) when the user declined, C(code_expired) when the code
        expired first, C(code_invalid) when the service does not know the code, and C(code_redeemed) when it was
        redeemed already.
      - A poll that may have reached the service (a read timeout, or a connection lost before the answer) is not
        sent again, as for any token request; the module fails with reason C(network) then, since the tokens may
        have been issued to that poll and the device code is used up. Start again with a new device code.
    type: str
  interval:
    description:
      - Seconds between polls of O(device_code); give the RV(onedrive.connection.device_code#module:interval) the
        device authorization returned.
    type: int
    default: 5
  expires_at:
    description:
      - When O(device_code) expires, as RV(onedrive.connection.device_code#module:expires_at) returned it (UTC,
        ISO 8601). The waiting ends there, with reason C(code_expired).
      - Without it, the waiting ends when the service says the code expired, or after 900 seconds (the lifetime of
        Microsoft's device codes).
    type: str
  wait_timeout:
    description:
      - The most seconds to wait for the user to sign in with O(device_code), when shorter than the time until the
        code expires. Past it the module fails with reason C(sign_in_timeout); the device code stays usable until
        it expires, so a later task may wait again with it.
      - By default the module waits until the code expires.
    type: float
notes:
  - The returned tokens are secrets. Set C(no_log) on the task and store RV(refresh_token) encrypted, for example
    with ansible-vault; the module cannot hide values it returns.
  - Without C(offline_access) among the scopes of the sign-in Microsoft issues no refresh token, and the module
    fails with reason C(missing_scope).
  - "Waiting for O(device_code) ends with reason C(sign_in_timeout) after O(wait_timeout), besides the reasons of
    the shared options."
seealso:
  - module: onedrive.connection.authorize_url
  - module: onedrive.connection.device_code
  - module: onedrive.connection.receive_redirect
  - name: Microsoft identity platform and OAuth 2.0 authorization code flow
    description: Microsoft's description of the token request, its answers and its errors.
    link: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
"""

EXAMPLES = r"""
- name: Build the sign-in URL
  onedrive.connection.authorize_url:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
  register: signin
  no_log: true

- name: Ask the user to sign in and paste the address the browser ends on
  ansible.builtin.pause:
    prompt: "Open {{ signin.url }} , sign in, and paste the address of the blank page you land on"
  register: pasted

- name: Redeem the code
  onedrive.connection.redeem_code:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    response_url: "{{ pasted.user_input }}"
    state: "{{ signin.state }}"
    code_verifier: "{{ signin.code_verifier }}"
  register: tokens
  no_log: true

- name: Redeem a code for a confidential app with a loopback redirect URI
  onedrive.connection.redeem_code:
    client_id: 8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22
    client_secret: "{{ vault_onedrive_client_secret }}"
    tenant: contoso.onmicrosoft.com
    redirect_uri: http://localhost/callback
    code: "{{ code }}"
    code_verifier: "{{ signin.code_verifier }}"
  register: tokens
  no_log: true

- name: Start a sign-in with a device code
  onedrive.connection.device_code:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
  register: device
  no_log: true

- name: Tell the user where to sign in
  ansible.builtin.debug:
    msg: "{{ device.message }}"

- name: Wait for the sign-in and redeem the device code
  onedrive.connection.redeem_code:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    device_code: "{{ device.device_code }}"
    interval: "{{ device.interval }}"
    expires_at: "{{ device.expires_at }}"
  register: tokens
  no_log: true
"""

RETURN = r"""
refresh_token:
  description:
    - The refresh token, valid until unused for 90 days or revoked. A secret; store it encrypted.
  returned: success, not in check mode
  type: str
  sample: 0.AAAAbWkC...
access_token:
  description:
    - The access token for Microsoft Graph, valid for RV(expires_in) seconds. A secret.
    - Opaque for personal accounts; do not parse it.
  returned: success, not in check mode
  type: str
  sample: eyJ0eXAiOiJKV1Qi...
expires_in:
  description: Seconds the access token is valid for, as Microsoft said.
  returned: success, not in check mode
  type: int
  sample: 4523
access_token_expires_at:
  description:
    - When the access token expires, in UTC (ISO 8601), counted from when the request was sent.
    - Null when Microsoft did not say.
  returned: success, not in check mode
  type: str
  sample: "2025-01-01T11:15:23Z"
token_type:
  description: The access token's type.
  returned: success, not in check mode
  type: str
  sample: Bearer
granted_scopes:
  description:
    - The scopes Microsoft granted, with Graph resource prefixes removed (V(https://graph.microsoft.com/Files.Read)
      becomes V(Files.Read)).
    - Null when Microsoft did not say.
  returned: success, not in check mode
  type: list
  elements: str
  sample: [Files.Read, Files.Read.All, User.Read]
tenant_id:
  description: The ID of the signed-in account's tenant, from the id_token; null without an id_token.
  returned: success, not in check mode
  type: str
  sample: 5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b
id_token_claims:
  description:
    - Selected claims of the id_token Microsoft returns when the scopes include V(openid); null without one.
    - Informational only, since the token's signature is not validated.
  returned: success, not in check mode
  type: dict
  contains:
    tid:
      description: The tenant ID; V(9188040d-6c67-4c5b-b112-36a304b66dad) for personal accounts.
      type: str
    oid:
      description: The account's object ID in the tenant.
      type: str
    preferred_username:
      description: The sign-in name.
      type: str
    name:
      description: The display name.
      type: str
  sample:
    tid: 5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b
    oid: 2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c
    preferred_username: adele@contoso.onmicrosoft.com
    name: Adele Vance
reason:
  description: A stable word for why the module failed; the options' notes list them.
  returned: failure
  type: str
  sample: code_redeemed
error:
  description: The OAuth error value Microsoft sent.
  returned: failure, when Microsoft sent one
  type: str
  sample: invalid_grant
error_codes:
  description: The AADSTS numbers Microsoft sent.
  returned: failure
  type: list
  elements: int
  sample: [54005]
trace_id:
  description: Microsoft's trace ID of the failed request.
  returned: failure, when Microsoft sent one
  type: str
  sample: 0f2c4a1e-9b8d-4c7e-8f6a-5b4c3d2e1f00
correlation_id:
  description: Microsoft's correlation ID of the failed request.
  returned: failure, when Microsoft sent one
  type: str
  sample: 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d
retry_after:
  description: The seconds Microsoft asked to wait before trying again.
  returned: failure, when throttled
  type: float
  sample: 120
"""

import math

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import device_flow
from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    client_from_params,
    connection_argument_spec,
    run,
    transport_from_params,
)
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.pkce import validate_verifier
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import parse_timestamp, utcnow
from ansible_collections.onedrive.connection.plugins.module_utils.redirect import (
    NATIVE_CLIENT,
    code_from_response,
    validate_redirect_uri,
)


def _code(module: AnsibleModule) -> str:
    params = module.params
    if params["response_url"] is not None:
        if params["state"] is None:
            # Optional for sign-ins started elsewhere, whose state this task does not know.
            module.warn("state was not given, so nothing shows that response_url answers this sign-in: pass the state"
                        " returned by onedrive.connection.authorize_url.")
        return code_from_response(params["response_url"], params["state"], params["redirect_uri"])
    if params["code"] is None:
        # An option given as null counts as present for required_one_of.
        raise OneDriveError("one of code, response_url and device_code is required, and not null.", "invalid_option")
    if params["state"] is not None:
        module.warn("state is checked only against response_url; it is not used with code.")
    if not params["code"].strip():
        raise OneDriveError("code must not be empty.", "invalid_option")
    return params["code"].strip()


def _device_wait(params: dict) -> tuple[float, bool]:
    """How long to poll, and whether that is until the code expires."""
    if params["interval"] < 1:
        raise OneDriveError("interval must be at least 1 second.", "invalid_option")
    wait_timeout = params["wait_timeout"]
    if wait_timeout is not None and not (math.isfinite(wait_timeout) and wait_timeout >= 0):
        raise OneDriveError("wait_timeout must be a number of seconds, not below zero.", "invalid_option")
    if params["expires_at"] is None:
        until_expiry = float(device_flow.DEFAULT_LIFETIME)
    else:
        expires_at = parse_timestamp(params["expires_at"])
        if expires_at is None:
            raise OneDriveError(
                "expires_at must be a time stamp such as 2025-01-01T10:15:00Z, as device_code returns it.",
                "invalid_option",
            )
        until_expiry = max((expires_at - utcnow()).total_seconds(), 0.0)
    if wait_timeout is not None and wait_timeout < until_expiry:
        return wait_timeout, False
    return until_expiry, True


def redeem_device_code(module: AnsibleModule) -> dict:
    params = module.params
    device_code = params["device_code"].strip()
    if not device_code:
        raise OneDriveError("device_code must not be empty.", "invalid_option")
    unused = [name for name in ("response_url", "code", "state", "code_verifier", "scopes") if params[name] is not None]
    if unused:
        module.warn(f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used with device_code.")
    wait, expires = _device_wait(params)
    with transport_from_params(params) as transport:
        client = client_from_params(params, transport)
        if module.check_mode:
            return dict(changed=True, msg="Check mode: the device code was not polled, since redeeming it works only once.")
        tokens = device_flow.poll(client, device_code, interval=params["interval"], wait=wait, expires=expires)
    return dict(changed=True, **tokens.result())


def redeem(module: AnsibleModule) -> dict:
    params = module.params
    if params["device_code"] is not None:
        return redeem_device_code(module)
    redirect_uri = validate_redirect_uri(params["redirect_uri"])
    verifier = validate_verifier(params["code_verifier"]) if params["code_verifier"] is not None else None
    scopes = scope_list.validate(params["scopes"]) if params["scopes"] is not None else None
    code = _code(module)
    with transport_from_params(params) as transport:
        client = client_from_params(params, transport)
        if module.check_mode:
            return dict(changed=True, msg="Check mode: the code was not redeemed, since a code works only once.")
        tokens = client.redeem_code(code, redirect_uri, code_verifier=verifier, scopes=scopes)
    return dict(changed=True, **tokens.result())


def main() -> None:
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            redirect_uri=dict(type="str", default=NATIVE_CLIENT),
            code=dict(type="str", no_log=True),
            response_url=dict(type="str", no_log=True),
            state=dict(type="str"),
            code_verifier=dict(type="str", no_log=True),
            scopes=dict(type="list", elements="str"),
            device_code=dict(type="str", no_log=True),
            interval=dict(type="int", default=device_flow.DEFAULT_INTERVAL),
            expires_at=dict(type="str"),
            wait_timeout=dict(type="float"),
        ),
        mutually_exclusive=[("code", "response_url", "device_code")],
        required_one_of=[("code", "response_url", "device_code")],
        supports_check_mode=True,
        # Nothing of the arguments goes to the host's system log: ansible-core 2.21 fails a module whose
        # argument syslog refuses (a NUL byte) before the module could say which option is wrong.
        no_log=True,
    )
    run(module, redeem)


if __name__ == "__main__":
    main()
