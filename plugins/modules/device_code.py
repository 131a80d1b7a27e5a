#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: device_code
short_description: Start a Microsoft sign-in with a device code, for runs without a browser
version_added: 1.0.0
description:
  - Starts the OAuth 2.0 device authorization grant (RFC 8628) at the Microsoft identity platform's C(devicecode)
    endpoint. The user opens RV(verification_uri) on any device, types RV(user_code), signs in and consents,
    while M(onedrive.connection.redeem_code) given RV(device_code) waits for the tokens.
  - Nothing has to reach the machine that runs Ansible, and nothing has to be pasted, so it suits pipelines and
    AWX jobs. Show RV(message) in a task of its own before the task that waits, so that the job's output shows it
    while the job waits.
  - The app registration must allow public client flows ("Allow public client flows" set to Yes); otherwise the
    wait fails with reason C(client_secret_required).
author: onedrive.connection maintainers (@onedrive-connection)
requirements:
  - requests
extends_documentation_fragment:
  - onedrive.connection.connection
  - onedrive.connection.connection.scopes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - onedrive.connection.attributes
attributes:
  idempotent:
    support: partial
    details:
      - Reports no change; each run starts a new device authorization at Microsoft, which expires unused.
  action_group:
    support: full
    membership: [onedrive.connection.onedrive]
  check_mode:
    support: full
    details: A device code is requested in check mode too; it changes nothing and expires unused.
  diff_mode:
    support: none
  platform:
    platforms: all
options: {}
notes:
  - RV(device_code) is a secret until it has been redeemed or has expired; whoever holds it gets the tokens once the
    user signs in. Register the result with C(no_log=true) and show RV(message) in a later task.
  - O(client_secret) is accepted so that one set of connection options serves every module; the device
    authorization request does not send it.
  - Microsoft's device codes live 15 minutes (RV(expires_in) V(900)) and are polled every 5 seconds (RV(interval)).
seealso:
  - module: onedrive.connection.redeem_code
  - module: onedrive.connection.authorize_url
  - name: Microsoft identity platform and the OAuth 2.0 device authorization grant flow
    description: Microsoft's description of the device code requests, answers and errors.
    link: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code
  - name: RFC 8628, OAuth 2.0 Device Authorization Grant
    description: The standard the flow follows.
    link: https://www.rfc-editor.org/rfc/rfc8628
"""

EXAMPLES = r"""
- name: Start a sign-in with a device code
  onedrive.connection.device_code:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
  register: device
  no_log: true  # the result holds the device code

- name: Tell the user where to sign in (shown while the next task waits)
  ansible.builtin.debug:
    msg: "{{ device.message }}"

- name: Wait until the user has signed in, and redeem the device code
  onedrive.connection.redeem_code:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    device_code: "{{ device.device_code }}"
    interval: "{{ device.interval }}"
    expires_at: "{{ device.expires_at }}"
  register: tokens
  no_log: true
"""

RETURN = r"""
device_code:
  description:
    - The device code, for O(onedrive.connection.redeem_code#module:device_code).
    - A secret until redeemed or expired; register the result with C(no_log=true).
  returned: success
  type: str
  sample: DAQABIQEAAADnfolhJpSnRYB1SVj...
user_code:
  description: The short code the user types at RV(verification_uri).
  returned: success
  type: str
  sample: GW7PQ2KHM
verification_uri:
  description: Where the user signs in.
  returned: success
  type: str
  sample: https://microsoft.com/devicelogin
verification_uri_complete:
  description:
    - An address that carries RV(user_code) already, when the server gives one (RFC 8628 servers may; Microsoft
      does not).
  returned: when the server gives one
  type: str
  sample: https://example.com/device?user_code=GW7PQ2KHM
message:
  description:
    - What to tell the user, as the server phrased it, or composed from RV(verification_uri) and RV(user_code)
      when the server sent none.
  returned: success
  type: str
  sample: To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code GW7PQ2KHM to authenticate.
expires_in:
  description: Seconds the codes live, as the server said.
  returned: success
  type: int
  sample: 900
expires_at:
  description: When the codes expire, in UTC (ISO 8601), counted from when the request was sent.
  returned: success
  type: str
  sample: "2025-01-01T10:15:00Z"
interval:
  description: Seconds to wait between polls; 5 when the server did not say.
  returned: success
  type: int
  sample: 5
reason:
  description: A stable word for why the module failed; the options' notes list them.
  returned: failure
  type: str
  sample: app_not_found
error:
  description: The OAuth error value Microsoft sent.
  returned: failure, when Microsoft sent one
  type: str
  sample: invalid_scope
error_codes:
  description: The AADSTS numbers Microsoft sent.
  returned: failure
  type: list
  elements: int
  sample: [70011]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import device_flow
from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    connection_argument_spec,
    endpoints_from_params,
    run,
    transport_from_params,
)
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import validate_client_id


def start(module: AnsibleModule) -> dict:
    params = module.params
    where = endpoints_from_params(params)
    client_id = validate_client_id(params["client_id"])
    scopes = scope_list.validate(params["scopes"])
    if not scope_list.contains(scopes, scope_list.OFFLINE_ACCESS):
        module.warn("offline_access was added to scopes: without it Microsoft issues no refresh token.")
        scopes.insert(0, scope_list.OFFLINE_ACCESS)
    with transport_from_params(params) as transport:
        authorization = device_flow.start(transport, where, client_id, scopes)
    return dict(changed=False, **authorization.result())


def main() -> None:
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            scopes=dict(type="list", elements="str", default=list(scope_list.DEFAULT)),
        ),
        supports_check_mode=True,
        # Nothing of the arguments goes to the host's system log: ansible-core 2.21 fails a module whose
        # argument syslog refuses (a NUL byte) before the module could say which option is wrong.
        no_log=True,
    )
    run(module, start)


if __name__ == "__main__":
    main()
