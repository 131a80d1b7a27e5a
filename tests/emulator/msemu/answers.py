"""Named answers Microsoft gives in the field, each with where it was seen.

A test asks for one with `fault(endpoint, "answer", answer=NAME)` (the token endpoint's from `token`, the
drive's from `drive`, also inside a `$batch`), and a fixture user can carry a drive answer
(`drive_answer: NAME`) instead of a drive. The texts are the emulator's own paraphrases; what matters is
the shape: status, `error`, AADSTS number, `suberror`, Graph `code`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import ids
from .errors import GraphError, OAuthError


@dataclass(frozen=True)
class LoginAnswer:
    error: str
    code: int
    message: str
    suberror: str | None = None
    claims: bool = False

    def exception(self) -> OAuthError:
        claims = json.dumps({"access_token": {"capolids": {"essential": True, "values": [ids.guid()]}}})
        return OAuthError(self.error, self.code, self.message, suberror=self.suberror,
                          claims=claims if self.claims else None)


@dataclass(frozen=True)
class DriveAnswer:
    status: int
    code: str
    message: str

    def exception(self) -> GraphError:
        return GraphError(self.status, self.code, self.message)


_SIGN_IN_FREQUENCY = ("The refresh token has expired or is invalid due to sign-in frequency checks by conditional "
                      "access. The token was issued on 2024-01-01T00:00:00.0000000Z and the maximum allowed "
                      "lifetime for this request is 86400.")

LOGIN_ANSWERS: dict[str, LoginAnswer] = {
    # Conditional Access sign-in frequency, as invalid_grant with suberror token_expired:
    # https://github.com/simonrob/email-oauth2-proxy/issues/181
    # https://github.com/Azure/azure-sdk-for-python/issues/28478
    "sign_in_frequency": LoginAnswer("invalid_grant", 70043, _SIGN_IN_FREQUENCY, suberror="token_expired"),
    # The same number under interaction_required: https://github.com/microsoft/vscode-azure-account/issues/673
    "sign_in_frequency_interaction": LoginAnswer("interaction_required", 70043, _SIGN_IN_FREQUENCY,
                                                 suberror="token_expired"),
    # Refresh token of a single-page-app redirect URI past its fixed 24 hours:
    # https://github.com/AzureAD/microsoft-authentication-library-for-js/issues/6765
    "spa_lifetime": LoginAnswer(
        "invalid_grant", 700084,
        "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of "
        "1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the "
        "SPA to the sign in page."),
    # Multi-factor authentication expired by policy, on refresh:
    # https://github.com/SocialiteProviders/Providers/issues/998
    "mfa_expired": LoginAnswer(
        "invalid_grant", 50078,
        "Presented multi-factor authentication has expired due to policies configured by your administrator, you "
        "must refresh your multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
        suberror="basic_action", claims=True),
    # Multi-factor enrolment required, as interaction_required: https://github.com/Azure/azure-kusto-python/issues/89
    "mfa_enrollment": LoginAnswer("interaction_required", 50079,
                                  "The user is required to use multi-factor authentication.",
                                  suberror="basic_action", claims=True),
    # Blocked by a Conditional Access policy: https://github.com/dafthack/MSOLSpray/issues/5
    # https://github.com/AzureAD/microsoft-identity-web/issues/2419
    "ca_blocked": LoginAnswer("interaction_required", 53003,
                              "Access has been blocked by Conditional Access policies. The access policy does not "
                              "allow token issuance.", suberror="message_only"),
    # Loop detection on user-facing token requests (invalid_grant):
    # https://learn.microsoft.com/en-us/entra/msal/dotnet/advanced/client-and-server-throttling
    # https://github.com/AzureAD/MSAL.PS/issues/28
    "loop_detected": LoginAnswer("invalid_grant", 50196,
                                 "The server terminated an operation because it encountered a client request "
                                 "loop. Please contact your app vendor."),
    # A personal account's grant that expired, as AADSTS70000 rather than 700082:
    # https://github.com/sagarrabadiya/outlook-php/issues/16 (and PROTOCOL.md, "Answers that surprise")
    "grant_expired_personal": LoginAnswer("invalid_grant", 70000,
                                          "The user could not be authenticated as the grant is expired. The user "
                                          "must sign in again."),
    # A redirect URI registered as a single-page application, redeemed without a browser's Origin header:
    # https://github.com/AzureAD/microsoft-authentication-library-for-js/issues/2482
    # https://github.com/sidebase/nuxt-auth/issues/301
    "spa_redirect": LoginAnswer("invalid_request", 9002327,
                                "Tokens of the single-page application client type can only be redeemed by "
                                "cross-origin requests."),
}

# interaction_required from the token endpoint with each suberror MSAL knows; the numbers are ones no client
# table knows, so only the suberror can guide a client. Suberror values:
# https://learn.microsoft.com/en-us/java/api/com.microsoft.aad.msal4j.interactionrequiredexceptionreason
# https://learn.microsoft.com/en-us/javascript/api/@azure/msal-node/interactionrequiredautherrorcodes
SUBERRORS = ("basic_action", "additional_action", "message_only", "consent_required", "user_password_expired",
             "bad_token")
for _suberror in SUBERRORS:
    LOGIN_ANSWERS[f"interaction_{_suberror}"] = LoginAnswer(
        "interaction_required", 99999, "The user must interact with the sign-in service (emulated).",
        suberror=_suberror)

DRIVE_ANSWERS: dict[str, DriveAnswer] = {
    # Work account whose tenant has no SharePoint Online licence:
    # https://github.com/OneDrive/onedrive-api-docs/issues/1773 https://github.com/rclone/rclone/issues/8757
    "no_spo_license": DriveAnswer(400, "BadRequest", "Tenant does not have a SPO license."),
    # https://github.com/skilion/onedrive/issues/276
    "mysite_url": DriveAnswer(400, "BadRequest", "Unable to retrieve user's mysite URL."),
    # https://github.com/Azure-Samples/ms-identity-python-daemon/issues/18
    # https://github.com/microsoftgraph/microsoft-graph-docs/issues/11344
    "mysite_url_unknown": DriveAnswer(500, "UnknownError", "Unable to retrieve user's mysite URL."),
    # OneDrive never provisioned: https://github.com/alcionai/corso/issues/966
    "mysite_not_found": DriveAnswer(404, "ResourceNotFound", "User's mysite not found."),
    # https://github.com/OneDrive/onedrive-api-docs/issues/1628
    "item_not_found": DriveAnswer(404, "itemNotFound", "Item not found"),
    # https://github.com/alcionai/corso/issues/3846
    "file_not_found": DriveAnswer(404, "itemNotFound", "404 FILE NOT FOUND"),
}

# A $batch whose access token Graph refuses inside it: the batch itself answers 200, each sub-request 401.
# https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/2660 (and PROTOCOL.md, "Answers that surprise")
BATCH_ANSWERS: dict[str, DriveAnswer] = {
    "inner_unauthorized": DriveAnswer(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
}

# Which answers an endpoint can give.
BY_ENDPOINT: dict[str, dict] = {"token": LOGIN_ANSWERS, "drive": DRIVE_ANSWERS, "batch": BATCH_ANSWERS}


def check(endpoint: str, name: str | None) -> None:
    """ValueError unless `name` is an answer `endpoint` gives."""
    known = BY_ENDPOINT.get(endpoint)
    if known is None:
        raise ValueError(f"answer faults target {' or '.join(BY_ENDPOINT)}, not {endpoint!r}")
    if name not in known:
        raise ValueError(f"unknown answer {name!r} for {endpoint}; use one of {', '.join(known)}")
