#!/usr/bin/python
# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: app_registration
short_description: Register the OneDrive connection's app in Microsoft Entra ID, idempotently, through Microsoft Graph
version_added: 1.0.0
description:
  - "Makes an application registration be as declared, through Microsoft Graph v1.0, the way the portal steps
    of registering the collection's app would leave it. It finds the registration by O(unique_name), Graph's
    alternate key C(uniqueName), and creates or updates it with C(PATCH /applications(uniqueName='...')) (an
    upsert, with C(Prefer: create-if-missing))."
  - "It owns these properties, and changes nothing else of the registration (owners, secrets, web and
    single-page-app redirect URIs, other APIs' permissions, Graph's application permissions, notes, ...):
    C(displayName), C(signInAudience), C(publicClient.redirectUris), C(isFallbackPublicClient) (I(Allow public
    client flows)), and Microsoft Graph's delegated permissions in C(requiredResourceAccess). For an audience
    that admits personal accounts it also sets C(api.requestedAccessTokenVersion) to 2, which Graph requires."
  - Delegated permissions are given by name; their ids are read from Microsoft Graph's service principal in the
    tenant (C(oauth2PermissionScopes)), never assumed.
  - A run that finds the registration as declared sends no write and reports no change.
  - With O(grant_admin_consent=true), also grants tenant-wide consent to those permissions (an
    C(oAuth2PermissionGrant) with C(consentType=AllPrincipals) for the app's service principal, which it creates
    in the tenant when missing), so that users of the tenant are not asked.
  - "B(The access token) is a delegated token for Microsoft Graph of a user allowed to manage applications, with
    the permission C(Application.ReadWrite.All) (and C(DelegatedPermissionGrant.ReadWrite.All) for
    O(grant_admin_consent)). One way: the device-code sign-in (M(onedrive.connection.device_code), then
    M(onedrive.connection.redeem_code) with C(device_code)) with a public client the administrator trusts, such
    as Microsoft's I(Microsoft Graph Command Line Tools) (client ID C(14d82eec-204b-4c2f-b7e8-296a70dab67e),
    what C(Connect-MgGraph) uses), asking for those scopes. These permissions need an administrator's consent
    once: the first administrator who signs in with them is asked, and may consent on behalf of the
    organization. The playbook C(onedrive.connection.register_app) does all of it."
author: onedrive.connection maintainers (@onedrive-connection)
requirements:
  - requests
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - onedrive.connection.attributes
attributes:
  idempotent:
    support: full
  check_mode:
    support: full
    details:
      - Reads the registration and Microsoft Graph's permissions, and reports what would change, without any write.
        RV(client_id) is null when the registration would be created.
  diff_mode:
    support: full
    details:
      - The before and after of the properties the module owns, in its own terms (and the admin consent's scopes
        with O(grant_admin_consent=true)).
  platform:
    platforms: all
options:
  access_token:
    description:
      - A delegated access token for Microsoft Graph; see the description for what it needs and how to get one.
      - A secret; it never appears in the output.
    type: str
    required: true
  unique_name:
    description:
      - The key the registration is kept by, Graph's C(uniqueName); the same on every run. It is set when the
        registration is created and cannot change afterwards.
      - 1 to 120 letters, digits, C(.), C(_) or C(-), starting with a letter or digit.
    type: str
    required: true
  display_name:
    description:
      - The name shown in the portal and on the consent page. Defaults to O(unique_name).
    type: str
  sign_in_audience:
    description:
      - Who may sign in. V(AzureADandPersonalMicrosoftAccount) admits work, school and personal accounts (any
        OneDrive), V(AzureADMultipleOrgs) work or school accounts of any tenant, V(AzureADMyOrg) only the tenant's
        own (the bootstrap then needs C(tenant) set to it), V(PersonalMicrosoftAccount) personal accounts only.
    type: str
    choices: [AzureADMyOrg, AzureADMultipleOrgs, AzureADandPersonalMicrosoftAccount, PersonalMicrosoftAccount]
    default: AzureADandPersonalMicrosoftAccount
  redirect_uris:
    description:
      - The redirect URIs of the I(Mobile and desktop applications) platform (C(publicClient)), exactly as the
        sign-in will send them; compared without regard to order.
      - The default serves the paste-the-address-bar sign-in and the loopback one (any port).
    type: list
    elements: str
    default: ['https://login.microsoftonline.com/common/oauth2/nativeclient', 'http://localhost']
  allow_public_client_flows:
    description:
      - I(Allow public client flows) (C(isFallbackPublicClient)). Must be V(true) for the collection's sign-ins
        without a client secret, the device-code one included; otherwise the token endpoint asks for a secret.
    type: bool
    default: true
  scopes:
    description:
      - Microsoft Graph's delegated permissions the app is declared to need, by name, such as V(Files.Read);
        C(https://graph.microsoft.com/) prefixes are removed and a string of several names separated by spaces is
        split. The default is the collection's default scopes.
      - Graph's delegated permissions of other kinds already on the registration are replaced by these; its
        application permissions and other APIs' permissions are left alone.
    type: list
    elements: str
    default: [offline_access, User.Read, Files.Read, Files.Read.All]
  grant_admin_consent:
    description:
      - Whether to grant tenant-wide admin consent to O(scopes) as well, for every user of the tenant of the
        signed-in administrator.
      - Needs C(DelegatedPermissionGrant.ReadWrite.All) in the token, and a user allowed to grant consent for
        Microsoft Graph's delegated permissions (Global Administrator, Privileged Role Administrator, Cloud
        Application Administrator or Application Administrator).
      - Personal accounts consent for themselves at sign-in; this does not apply to them.
    type: bool
    default: false
  state:
    description:
      - V(present) makes the registration as declared; V(absent) deletes it (with its service principal in the
        tenant, as Graph does), when there is one.
      - With V(absent), only O(unique_name) and the connection options are used.
    type: str
    choices: [present, absent]
    default: present
  tenant:
    description:
      - The tenant of the admin consent URL RV(admin_consent_url); V(organizations) lets the administrator's
        sign-in pick it. A tenant ID (GUID) or a verified domain names it.
      - Graph acts on the tenant of the signed-in user, whatever this says.
    type: str
    default: organizations
  cloud:
    description:
      - The Microsoft cloud, which picks the login and Graph hosts; V(public), V(usgov), V(usgov_dod) or V(china),
        as for the collection's other modules.
    type: str
    choices: [public, usgov, usgov_dod, china]
    default: public
  login_url:
    description:
      - The base URL of the identity platform, instead of the O(cloud)'s; used only for RV(admin_consent_url).
    type: str
  graph_url:
    description:
      - The base URL of Microsoft Graph, instead of the O(cloud)'s; for a proxy, a test emulator or another
        sovereign cloud. An absolute https URL (http only for a loopback host) without credentials, query or
        fragment.
    type: str
  validate_certs:
    description:
      - Whether to verify TLS certificates. Turn it off only for tests.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify TLS certificates against, instead of the bundle C(requests)
        uses by default.
    type: path
  timeout:
    description:
      - Seconds to wait for a connection or an answer, for each HTTP request.
    type: float
    default: 30
  max_retry_wait:
    description:
      - The most seconds to wait in all before retrying one request (429, 503 and 504 answers, connection errors);
        as for the collection's other modules.
    type: float
    default: 60
notes:
  - "Failures return C(msg), saying what to do, and a stable C(reason): C(forbidden) when Graph answers 403
    C(Authorization_RequestDenied) (the message names the permission the token lacks), C(graph_unauthorized)
    for an expired or foreign token, C(invalid_request) when Graph refuses the declaration (its message follows),
    C(invalid_option), C(not_found), C(throttled), C(server_error), C(unexpected_response), C(network) or C(tls)."
  - The module is not in the C(onedrive.connection.onedrive) action group, whose C(module_defaults) set the
    client ID and secret of the connection's own app, which this module has no use for.
  - Messages never contain the access token.
seealso:
  - module: onedrive.connection.device_code
  - module: onedrive.connection.redeem_code
  - name: Upsert application
    description: Graph's create-or-update of an application by its uniqueName.
    link: https://learn.microsoft.com/en-us/graph/api/application-upsert
  - name: Create oAuth2PermissionGrant
    description: Tenant-wide admin consent to delegated permissions.
    link: https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-post
"""

EXAMPLES = r"""
- name: Register the OneDrive plugin's app
  onedrive.connection.app_registration:
    access_token: "{{ admin_tokens.access_token }}"
    unique_name: onedrive-plugin
    display_name: OneDrive plugin
  register: app

- name: Show the client ID for the bootstrap
  ansible.builtin.debug:
    msg: "onedrive_client_id={{ app.client_id }}"

- name: A work-accounts-only app with write access, consented for the whole tenant
  onedrive.connection.app_registration:
    access_token: "{{ admin_tokens.access_token }}"
    unique_name: onedrive-plugin-contoso
    display_name: OneDrive plugin (Contoso)
    sign_in_audience: AzureADMultipleOrgs
    scopes: [offline_access, User.Read, Files.ReadWrite.All]
    grant_admin_consent: true

- name: Remove it
  onedrive.connection.app_registration:
    access_token: "{{ admin_tokens.access_token }}"
    unique_name: onedrive-plugin-contoso
    state: absent
"""

RETURN = r"""
client_id:
  description: The application (client) ID, C(appId), to give the bootstrap as C(onedrive_client_id); null in
    check mode when the registration would be created, and after O(state=absent) when there was none.
  returned: always
  type: str
  sample: 3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11
object_id:
  description: The application object's ID, C(id) (not the client ID).
  returned: always
  type: str
  sample: 6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
unique_name:
  description: O(unique_name).
  returned: always
  type: str
  sample: onedrive-plugin
created:
  description: Whether the registration was (in check mode, would be) created.
  returned: when O(state=present)
  type: bool
  sample: false
changes:
  description:
    - The Graph properties written (in check mode, that would be), V(adminConsent) when the consent was granted or
      changed, or V(deleted); empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: [publicClient, requiredResourceAccess]
permissions:
  description: The delegated permissions declared, as Graph names them, with the ids Graph gave.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    name:
      description: The permission's name.
      type: str
    id:
      description: Its id in Microsoft Graph's C(oauth2PermissionScopes).
      type: str
  sample: [{name: User.Read, id: e1fe6dd8-ba31-4d61-89e7-88639da4683d}]
admin_consent_url:
  description:
    - Where an administrator grants tenant-wide consent to the permissions in a browser, instead of
      O(grant_admin_consent); for the tenant O(tenant). Null when the client ID is not known yet (check mode).
  returned: when O(state=present)
  type: str
  sample: "https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id=3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11\
    &scope=https%3A%2F%2Fgraph.microsoft.com%2FUser.Read&redirect_uri=http%3A%2F%2Flocalhost"
admin_consent:
  description: The tenant-wide consent, its C(scope) (space separated) and whether it C(changed).
  returned: when O(grant_admin_consent=true)
  type: dict
  sample: {scope: offline_access User.Read Files.Read Files.Read.All, changed: false}
reason:
  description: A stable word for why the module failed; the notes list them.
  returned: failure
  type: str
  sample: forbidden
error:
  description: Graph's error code.
  returned: failure, when Graph sent one
  type: str
  sample: Authorization_RequestDenied
trace_id:
  description: Graph's C(request-id) of the failed request.
  returned: failure, when Graph sent one
  type: str
  sample: 0f2c4a1e-9b8d-4c7e-8f6a-5b4c3d2e1f00
correlation_id:
  description: Graph's C(client-request-id) of the failed request.
  returned: failure, when Graph sent one
  type: str
  sample: 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.app_registration import (
    Declaration,
    GraphAdmin,
    ensure,
    validate_unique_name,
)
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    connection_argument_spec,
    endpoints_from_params,
    run,
    transport_from_params,
)
from ansible_collections.onedrive.connection.plugins.module_utils.redirect import NATIVE_CLIENT, validate_redirect_uri
from ansible_collections.onedrive.connection.plugins.module_utils.verification import checked_token


def register(module: AnsibleModule) -> dict:
    params = module.params
    declaration = Declaration(
        unique_name=validate_unique_name(params["unique_name"]),
        display_name=params["display_name"] or params["unique_name"],
        sign_in_audience=params["sign_in_audience"],
        redirect_uris=tuple(dict.fromkeys(validate_redirect_uri(uri) for uri in params["redirect_uris"])),
        allow_public_client_flows=params["allow_public_client_flows"],
        scopes=tuple(scope_list.validate(params["scopes"])),
    )
    where = endpoints_from_params(params)
    with transport_from_params(params) as transport:
        admin = GraphAdmin(transport, where, checked_token(params["access_token"], "access_token"))
        result = ensure(
            admin,
            where,
            declaration,
            present=params["state"] == "present",
            grant_admin_consent=params["grant_admin_consent"],
            check_mode=module.check_mode,
        )
    if not module._diff:
        result.pop("diff")
    return result


def argument_spec() -> dict:
    spec = connection_argument_spec(
        access_token=dict(type="str", required=True, no_log=True),
        unique_name=dict(type="str", required=True),
        display_name=dict(type="str"),
        sign_in_audience=dict(
            type="str",
            default="AzureADandPersonalMicrosoftAccount",
            choices=[
                "AzureADMyOrg",
                "AzureADMultipleOrgs",
                "AzureADandPersonalMicrosoftAccount",
                "PersonalMicrosoftAccount",
            ],
        ),
        redirect_uris=dict(type="list", elements="str", default=[NATIVE_CLIENT, "http://localhost"]),
        allow_public_client_flows=dict(type="bool", default=True),
        scopes=dict(type="list", elements="str", default=list(scope_list.DEFAULT)),
        grant_admin_consent=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        tenant=dict(type="str", default="organizations"),
    )
    # The connection's own app is not this module's business: it acts with the administrator's token.
    del spec["client_id"], spec["client_secret"]
    return spec


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        # Nothing of the arguments goes to the host's system log, as for the collection's other modules.
        no_log=True,
    )
    run(module, register)


if __name__ == "__main__":
    main()
