#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: receive_redirect
short_description: Receive a Microsoft sign-in response on a loopback redirect URI, without pasting
version_added: 1.0.0
description:
  - Listens on C(127.0.0.1) at the port and path of a loopback O(redirect_uri) until the browser that signed in
    comes back there with the sign-in response, and returns it as RV(response_url) for
    M(onedrive.connection.redeem_code).
  - The browser gets a small page, "Signed in ... You can close this tab", or, for an error response, what went
    wrong. Neither shows a code or a token.
  - Other requests (a favicon, another path) are answered and ignored. A response whose C(state) differs from
    O(state), from another sign-in or forged, is answered as such, counted in RV(state_mismatches), and the wait
    goes on.
  - Build the sign-in URL first with M(onedrive.connection.authorize_url) and the same O(redirect_uri), show it,
    then run this module; a browser that came back before the listener was up shows a connection error, and
    reloading that page delivers the response.
  - The browser must run on the host this module runs on, or reach its port through a forwarded one, such as
    C(ssh -L 8400:127.0.0.1:8400 host) for a host reached over SSH.
author: onedrive.connection maintainers (@onedrive-connection)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - onedrive.connection.attributes
attributes:
  idempotent:
    support: none
    details:
      - Each run waits for a new sign-in response.
  check_mode:
    support: partial
    details: Check mode validates the options and does not listen, since no sign-in happens in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  redirect_uri:
    description:
      - "The loopback redirect URI of the sign-in, exactly as given to M(onedrive.connection.authorize_url):
        C(http://localhost:PORT/PATH) or C(http://127.0.0.1:PORT/PATH), with an explicit port."
      - Anything else is refused with reason C(invalid_option). A redirect URI without a path means C(/).
      - The app registration needs it as a 'Mobile and desktop applications' redirect URI; a registered
        V(http://localhost) serves every port (RFC 8252), while C(127.0.0.1) can be registered only in the app's
        manifest.
      - Only C(127.0.0.1) is listened on, never another interface. Browsers try C(127.0.0.1) for C(localhost) when
        C([::1]) refuses.
    type: str
    required: true
  state:
    description:
      - The state of the sign-in, as M(onedrive.connection.authorize_url) returned it. Only a response with this
        state ends the wait.
    type: str
    required: true
  timeout:
    description:
      - The most seconds to wait for the browser. Past it the module fails with reason C(sign_in_timeout).
    type: float
    default: 300
notes:
  - RV(response_url) holds the authorization code, a secret until redeemed; register the result with
    C(no_log=true).
  - "Failures return C(msg) and a stable C(reason): C(invalid_option), C(port_in_use) (another program listens on
    the port: the message names it), C(sign_in_timeout), or for an error response the reasons of
    M(onedrive.connection.redeem_code), such as C(access_denied)."
seealso:
  - module: onedrive.connection.authorize_url
  - module: onedrive.connection.redeem_code
  - name: RFC 8252, OAuth 2.0 for Native Apps, section 7.3
    description: Loopback interface redirection.
    link: https://www.rfc-editor.org/rfc/rfc8252#section-7.3
"""

EXAMPLES = r"""
- name: Build the sign-in URL for a loopback redirect URI
  onedrive.connection.authorize_url:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    redirect_uri: http://localhost:8400/
  register: signin
  no_log: true

- name: Show the sign-in URL
  ansible.builtin.debug:
    msg: "Open {{ signin.url }} in a browser on this machine and sign in."

- name: Wait for the browser to come back
  onedrive.connection.receive_redirect:
    redirect_uri: http://localhost:8400/
    state: "{{ signin.state }}"
    timeout: 600
  register: response
  no_log: true  # the response holds the code

- name: Redeem it
  onedrive.connection.redeem_code:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    redirect_uri: http://localhost:8400/
    response_url: "{{ response.response_url }}"
    state: "{{ signin.state }}"
    code_verifier: "{{ signin.code_verifier }}"
  register: tokens
  no_log: true
"""

RETURN = r"""
response_url:
  description:
    - The address the browser came back to, with the code and state, for
      O(onedrive.connection.redeem_code#module:response_url). A C(form_post) response comes as the same address
      with the posted fields as its query.
    - Holds the authorization code, a secret until redeemed.
  returned: success, not in check mode
  type: str
  sample: http://localhost:8400/?code=0.AAAA...&state=Hq3vN0C1y2kXl1r8yCcTz7m5Lrj1ZbX2Q4h8sTgWw0E&session_state=5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b
state_mismatches:
  description: How many responses with another state arrived, and were refused, before the right one.
  returned: success, not in check mode
  type: int
  sample: 0
ignored_requests:
  description: How many other requests (a favicon, another path) arrived while waiting.
  returned: success, not in check mode
  type: int
  sample: 1
reason:
  description: A stable word for why the module failed; the notes list them.
  returned: failure
  type: str
  sample: sign_in_timeout
"""

import math

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils.common import run
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.loopback import receive, validate_loopback_uri


def wait(module: AnsibleModule) -> dict:
    params = module.params
    validate_loopback_uri(params["redirect_uri"])
    timeout = params["timeout"]
    if not (math.isfinite(timeout) and timeout > 0):
        raise OneDriveError("timeout must be a positive number of seconds.", "invalid_option")
    if module.check_mode:
        return dict(changed=False, msg="Check mode: nothing was listened for, since no sign-in happens in check mode.")
    outcome = receive(params["redirect_uri"], params["state"], timeout)
    return dict(changed=False, **outcome._asdict())


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            redirect_uri=dict(type="str", required=True),
            state=dict(type="str", required=True),
            timeout=dict(type="float", default=300),
        ),
        supports_check_mode=True,
        # Nothing of the arguments goes to the host's system log, as in the collection's other modules.
        no_log=True,
    )
    run(module, wait, network=False)


if __name__ == "__main__":
    main()
