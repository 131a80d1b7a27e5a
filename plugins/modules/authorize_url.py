#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: authorize_url
short_description: Build the Microsoft sign-in URL that starts a OneDrive connection
version_added: 1.0.0
description:
  - Builds the URL of the Microsoft identity platform's authorize endpoint, which a user opens in a browser to
    sign in and consent; the first step of the OAuth 2.0 authorization code flow.
  - Every value is percent-encoded, and a random O(state) and a PKCE code challenge (S256) protect the flow.
  - Works offline, never touches the network and never reports a change; check mode gives the same result.
  - After sign-in, give the address the browser ends on, with RV(state) and RV(code_verifier), to
    M(onedrive.connection.redeem_code).
author: onedrive.connection maintainers (@onedrive-connection)
extends_documentation_fragment:
  - onedrive.connection.connection
  - onedrive.connection.connection.scopes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - onedrive.connection.attributes
attributes:
  idempotent:
    support: full
    details:
      - Builds the URL offline and never reports a change; each run makes a new PKCE verifier, and a new O(state)
        unless it is given.
  action_group:
    support: full
    membership: [onedrive.connection.onedrive]
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  redirect_uri:
    description:
      - Where the browser is sent after sign-in; it must be registered for the app exactly as given here, and
        M(onedrive.connection.redeem_code) must be given the same value.
      - The default suits apps that let the user paste the address bar. A public client may use
        V(http://localhost) (any port) when something listens there; plain http is accepted only for
        C(localhost) and C(127.0.0.1).
      - At most 256 characters, and no fragment.
    type: str
    default: https://login.microsoftonline.com/common/oauth2/nativeclient
  state:
    description:
      - The value the sign-in response must carry back, to match the response to this request.
      - Generated from a cryptographically secure source when omitted.
    type: str
  pkce:
    description:
      - Whether to protect the code with PKCE (RFC 7636, method S256). The returned RV(code_verifier) must then
        be given to M(onedrive.connection.redeem_code).
    type: bool
    default: true
  prompt:
    description:
      - How to treat an existing browser session. V(login) forces a new sign-in, V(select_account) shows the
        account picker, V(consent) shows the consent page again (needed after adding scopes), and V(none) fails
        unless the user is already signed in and has consented.
    type: str
    choices: [login, none, consent, select_account]
  login_hint:
    description:
      - The account to prefill on the sign-in page, such as V(adele@contoso.onmicrosoft.com).
    type: str
  domain_hint:
    description:
      - Sends the user straight to their organization's sign-in, such as V(contoso.com), or to the personal
        account sign-in with V(consumers).
    type: str
notes:
  - O(client_secret), O(graph_url), O(validate_certs), O(ca_path), O(timeout) and O(max_retry_wait) are accepted
    so that one set of connection options, for example in C(module_defaults), serves every module of the
    collection; this module does not use them.
  - RV(code_verifier) is a secret until the code has been redeemed; do not show it in logs.
seealso:
  - module: onedrive.connection.redeem_code
  - name: Microsoft identity platform and OAuth 2.0 authorization code flow
    description: Microsoft's description of the authorize request and its parameters.
    link: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
"""

EXAMPLES = r"""
- name: Build the sign-in URL for a public client app
  onedrive.connection.authorize_url:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
  register: signin
  no_log: true  # the result holds the code verifier

- name: Show the user where to sign in
  ansible.builtin.debug:
    msg: "Open {{ signin.url }} and paste the address the browser ends on."

- name: Sign in a work account of one tenant in the US Government cloud, forcing the consent page
  onedrive.connection.authorize_url:
    client_id: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
    cloud: usgov
    tenant: contoso.onmicrosoft.us
    scopes: offline_access User.Read Files.ReadWrite
    prompt: consent
    login_hint: adele@contoso.onmicrosoft.us
  register: signin
  no_log: true
"""

RETURN = r"""
url:
  description: The sign-in URL to open in a browser.
  returned: success
  type: str
  sample: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11\
    &response_type=code&redirect_uri=https%3A%2F%2Flogin.microsoftonline.com%2Fcommon%2Foauth2%2Fnativeclient\
    &scope=offline_access%20User.Read%20Files.Read%20Files.Read.All&state=Hq3vN0C1y2kXl1r8yCcTz7m5Lrj1ZbX2Q4h8sTgWw0E\
    &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
state:
  description: The state the sign-in response must carry; give it to M(onedrive.connection.redeem_code).
  returned: success
  type: str
  sample: Hq3vN0C1y2kXl1r8yCcTz7m5Lrj1ZbX2Q4h8sTgWw0E
code_verifier:
  description:
    - The PKCE code verifier; give it to M(onedrive.connection.redeem_code).
    - A secret until the code is redeemed; register the result with care and do not print it.
  returned: when O(pkce=true)
  type: str
  sample: dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
code_challenge:
  description: The S256 challenge derived from RV(code_verifier), as sent in RV(url).
  returned: when O(pkce=true)
  type: str
  sample: E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
code_challenge_method:
  description: The PKCE method.
  returned: when O(pkce=true)
  type: str
  sample: S256
redirect_uri:
  description: The redirect URI in RV(url); M(onedrive.connection.redeem_code) needs the same value.
  returned: success
  type: str
  sample: https://login.microsoftonline.com/common/oauth2/nativeclient
scopes:
  description: The scopes asked for, including V(offline_access).
  returned: success
  type: list
  elements: str
  sample: [offline_access, User.Read, Files.Read, Files.Read.All]
authorize_endpoint:
  description: The authorize endpoint of the tenant and cloud.
  returned: success
  type: str
  sample: https://login.microsoftonline.com/common/oauth2/v2.0/authorize
token_endpoint:
  description: The token endpoint of the tenant and cloud, where the code is redeemed.
  returned: success
  type: str
  sample: https://login.microsoftonline.com/common/oauth2/v2.0/token
reason:
  description: A stable word for why the module failed; the options' notes list them.
  returned: failure
  type: str
  sample: invalid_option
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    connection_argument_spec,
    endpoints_from_params,
    run,
)
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import validate_client_id
from ansible_collections.onedrive.connection.plugins.module_utils.pkce import new_state, new_verifier, s256_challenge
from ansible_collections.onedrive.connection.plugins.module_utils.redirect import NATIVE_CLIENT, validate_redirect_uri


def authorize(module: AnsibleModule) -> dict:
    params = module.params
    where = endpoints_from_params(params)
    redirect_uri = validate_redirect_uri(params["redirect_uri"])
    scopes = scope_list.validate(params["scopes"])
    if not scope_list.contains(scopes, scope_list.OFFLINE_ACCESS):
        module.warn("offline_access was added to scopes: without it Microsoft issues no refresh token.")
        scopes.insert(0, scope_list.OFFLINE_ACCESS)
    state = params["state"] or new_state()
    result = dict(
        changed=False,
        state=state,
        redirect_uri=redirect_uri,
        scopes=scopes,
        authorize_endpoint=where.authorize,
        token_endpoint=where.token,
    )
    if params["pkce"]:
        result.update(code_verifier=new_verifier(), code_challenge_method="S256")
        result["code_challenge"] = s256_challenge(result["code_verifier"])
    result["url"] = where.authorize_url(
        client_id=validate_client_id(params["client_id"]),
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        code_challenge=result.get("code_challenge"),
        prompt=params["prompt"],
        login_hint=params["login_hint"],
        domain_hint=params["domain_hint"],
    )
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            scopes=dict(type="list", elements="str", default=list(scope_list.DEFAULT)),
            redirect_uri=dict(type="str", default=NATIVE_CLIENT),
            state=dict(type="str"),
            pkce=dict(type="bool", default=True),
            prompt=dict(type="str", choices=["login", "none", "consent", "select_account"]),
            login_hint=dict(type="str"),
            domain_hint=dict(type="str"),
        ),
        supports_check_mode=True,
        # Nothing of the arguments goes to the host's system log: ansible-core 2.21 fails a module whose
        # argument syslog refuses (a NUL byte) before the module could say which option is wrong.
        no_log=True,
    )
    run(module, authorize, network=False)


if __name__ == "__main__":
    main()
