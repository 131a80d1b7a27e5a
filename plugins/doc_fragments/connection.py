# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options shared by every module that talks to the Microsoft identity platform or Graph.
    DOCUMENTATION = r"""
options:
  client_id:
    description:
      - The application (client) ID of the app registration, a GUID.
    type: str
    required: true
  tenant:
    description:
      - The tenant segment of the identity platform URLs.
      - V(common) admits work or school accounts and personal Microsoft accounts, V(organizations) only work or
        school accounts, V(consumers) only personal accounts.
      - A tenant ID (GUID) or a verified domain such as V(contoso.onmicrosoft.com) admits that tenant's accounts;
        an app registered for a single tenant needs one.
      - Anything else is rejected, such as a value holding C(/), C(?), C(%) or whitespace, since it could change
        the URL.
    type: str
    default: common
  cloud:
    description:
      - The Microsoft cloud, which picks the login and Graph hosts.
      - V(public) is the global cloud (C(login.microsoftonline.com), C(graph.microsoft.com)); personal accounts
        exist only there.
      - V(usgov) is US Government L4 (C(login.microsoftonline.us), C(graph.microsoft.us)).
      - V(usgov_dod) is US Government L5, DoD (C(login.microsoftonline.us), C(dod-graph.microsoft.us)).
      - V(china) is the cloud operated by 21Vianet (C(login.partner.microsoftonline.cn),
        C(microsoftgraph.chinacloudapi.cn)).
    type: str
    choices: [public, usgov, usgov_dod, china]
    default: public
  login_url:
    description:
      - The base URL of the identity platform, used instead of the O(cloud)'s login host; for a proxy, a test
        emulator or another sovereign cloud.
      - An absolute https URL without credentials (no user name or password before C(@)), query or fragment; a
        trailing slash is ignored. Plain http is accepted only for a loopback host (C(localhost), C(127.0.0.0/8)
        or C([::1])), such as a local emulator.
      - The token endpoint never redirects, so a redirect from it fails with reason C(unexpected_response),
        naming where it pointed; it is never followed, since the request carries a code, refresh token or secret.
    type: str
  graph_url:
    description:
      - The base URL of Microsoft Graph, used instead of the O(cloud)'s Graph host. The same rules as for
        O(login_url) apply.
      - A redirect from Graph is followed only within the same scheme, host and port, at most three times in a
        row; any other fails with reason C(unexpected_response).
    type: str
  client_secret:
    description:
      - The value of a client secret of the app registration, for confidential (web) apps only.
      - Public client apps must not send one; Microsoft rejects the request if they do.
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificates of the login and Graph hosts. Turn it off only for tests.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify TLS certificates against, instead of the bundle C(requests)
        uses by default; for a TLS-inspecting proxy or a test emulator.
    type: path
  timeout:
    description:
      - Seconds to wait for a connection or an answer, for each HTTP request.
      - Each answer must also be complete within three times this long, however steadily the server sends it;
        past that the request fails with reason C(network) and is not sent again.
      - An answer larger than 1 MiB fails with reason C(unexpected_response) and is not sent again.
    type: float
    default: 30
  max_retry_wait:
    description:
      - The most seconds the module waits in all before retrying one request.
      - Connection errors, timeouts, and the throttling and availability answers 429, 503 and 504 are retried up
        to three times, after the C(Retry-After) the service asked for (whole or fractional seconds) or else a
        short backoff (0.5, 1 and 2 seconds).
      - When the next wait would go past this bound, or the retries are spent, the module fails with reason
        C(throttled) (and the wait the service asked for in C(retry_after)), C(server_error) or C(network).
      - Other answers, such as 400, 401 and 403, are never retried.
      - A token request is not sent again once it may have reached the service (a read timeout, or the
        connection lost before the answer), since the code may be used up, or the refresh token rotated, already. It
        fails with reason C(network).
    type: float
    default: 60
notes:
  - "Failures return C(msg), saying what happened and what to do, and C(reason), a stable word to branch on:
    C(code_redeemed), C(code_expired), C(code_invalid), C(pkce_mismatch), C(redirect_mismatch),
    C(state_mismatch), C(access_denied), C(consent_required), C(interaction_required), C(mfa_required), C(blocked_by_policy),
    C(token_expired), C(token_revoked), C(token_invalid), C(missing_scope), C(invalid_scope),
    C(invalid_client), C(client_secret_required), C(app_not_found), C(tenant_not_found), C(invalid_request),
    C(invalid_option), C(throttled), C(server_error), C(unexpected_response), C(network) or C(tls)."
  - Where Microsoft sent them, failures also return its C(error) value, C(error_codes) (AADSTS numbers),
    C(trace_id) and C(correlation_id), which Microsoft support asks for.
  - Messages never contain a token, code, code verifier or client secret.
"""

    # The permissions a sign-in asks for (authorize_url, device_code).
    SCOPES = r"""
options:
  scopes:
    description:
      - The permissions to ask for. Bare names such as V(Files.Read) mean Microsoft Graph; a string of several
        names separated by spaces is split.
      - V(offline_access) is added, with a warning, when missing, since without it Microsoft issues no refresh
        token.
    type: list
    elements: str
    default: [offline_access, User.Read, Files.Read, Files.Read.All]
"""
