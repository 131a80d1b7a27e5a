# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one exception every module fails with, and the classification of Microsoft's error answers.

Microsoft says its AADSTS numbers and texts may change, so the OAuth ``error`` field and the HTTP status
decide the family of a failure; a known AADSTS number only refines the reason and the advice within the
family it was seen in, and an unknown one falls back to the family's own.
"""

from __future__ import annotations

import re
import typing as t

_AADSTS = re.compile(r"AADSTS(\d+)")
# Error redirects carry the request ids only inside error_description, as "Trace ID: <guid>" lines.
_DESCRIPTION_ID = re.compile(r"^(Trace|Correlation) ID:\s*(\S+)", re.MULTILINE)


class OneDriveError(Exception):
    """A failure with everything a module returns about it; ``msg`` never holds a secret."""

    def __init__(
        self,
        msg: str,
        reason: str,
        *,
        error: str | None = None,
        error_codes: t.Iterable[int] = (),
        trace_id: str | None = None,
        correlation_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.reason = reason
        self.error = error
        self.error_codes = list(error_codes)
        self.trace_id = trace_id
        self.correlation_id = correlation_id
        self.retry_after = retry_after

    def result(self) -> dict[str, t.Any]:
        """The keyword arguments for ``fail_json``."""
        result = dict(
            msg=self.msg,
            reason=self.reason,
            error=self.error,
            error_codes=self.error_codes,
            trace_id=self.trace_id,
            correlation_id=self.correlation_id,
        )
        if self.retry_after is not None:
            result["retry_after"] = self.retry_after
        return result


class _Advice(t.NamedTuple):
    reason: str
    msg: str


_REAUTHORIZE = "authorize the connection again (authorize_url, sign in, redeem_code)"

_CODE_INVALID = _Advice(
    "code_invalid", "Microsoft rejected the code; sign in again to get a new one and redeem it once, promptly."
)
_CODE_REDEEMED = _Advice("code_redeemed", "The code was already used; sign in again to get a new one.")
_CODE_EXPIRED = _Advice(
    "code_expired", "The code has expired (codes live about 10 minutes); sign in again and redeem the new code at once."
)
_PKCE_MISMATCH = _Advice(
    "pkce_mismatch",
    "code_verifier does not belong to this code; pass the code_verifier that authorize_url returned together with"
    " the URL the user signed in with.",
)
_REDIRECT_MISMATCH = _Advice(
    "redirect_mismatch",
    "redirect_uri differs from the one the user signed in with, or is not registered for the app; use exactly the"
    " same redirect_uri for authorize_url and redeem_code, as registered.",
)
_TOKEN_INVALID = _Advice(
    "token_invalid", f"Microsoft rejected the refresh token as invalid; check what was stored, or {_REAUTHORIZE}."
)
_GRANT_GONE = _Advice(
    "token_invalid",
    "Microsoft no longer accepts the refresh token: its grant has expired or was withdrawn (personal accounts get"
    f" AADSTS70000 for this rather than a number of its own); {_REAUTHORIZE}.",
)
# Personal accounts answer AADSTS70000 too when a refresh asks for a scope the sign-in did not grant.
_SCOPE_OUTSIDE_GRANT = (
    " A scope outside what was consented at sign-in gets the same answer: refresh without scopes, or sign in again"
    " asking for them."
)
_TOKEN_EXPIRED = _Advice(
    "token_expired",
    f"The refresh token has expired (unused for 90 days, or past its lifetime); {_REAUTHORIZE}.",
)
# A lifetime set by policy ends on its own schedule: rotating more often cannot extend it.
_SIGN_IN_FREQUENCY = _Advice(
    "token_expired",
    "The refresh token has outlived the sign-in frequency that a Conditional Access policy of the tenant sets"
    " (hours or days, not the 90-day inactivity window), so rotating sooner (rotate_after) does not keep it alive;"
    f" {_REAUTHORIZE}, and expect to do so again each time the policy's period runs out.",
)
_SPA_LIFETIME = _Advice(
    "token_expired",
    "The refresh token was issued through a redirect URI registered as a single-page application, whose tokens"
    " live at most 24 hours whatever rotate_after says; register the redirect URI under 'Mobile and desktop"
    f" applications' instead and {_REAUTHORIZE}.",
)
_TOKEN_REVOKED = _Advice(
    "token_revoked",
    f"The grant was revoked (password change, or sign-in sessions revoked by the user or an admin); {_REAUTHORIZE}.",
)
_CONSENT_REQUIRED = _Advice(
    "consent_required",
    "The user or an admin has not consented to a requested scope; sign in again with prompt=consent, or ask an"
    " admin to grant consent for the app.",
)
_MFA_REQUIRED = _Advice(
    "mfa_required", "Microsoft requires multi-factor authentication; the user has to sign in interactively again."
)
_INTERACTION_REQUIRED = _Advice(
    "interaction_required",
    "Microsoft needs the user to interact with the sign-in page; sign in again without prompt=none.",
)
# A refresh never shows a page, so the advice for it is a new interactive sign-in, not a prompt value.
_REFRESH_INTERACTION = _Advice(
    "interaction_required",
    f"Microsoft needs the user to interact with a sign-in page before it issues tokens again; {_REAUTHORIZE}.",
)
_ADDITIONAL_ACTION = _Advice(
    "interaction_required",
    "Microsoft needs the user to do something outside this app first (such as accept terms of use or register"
    f" the device); have the user sign in interactively and follow the prompts, then {_REAUTHORIZE}.",
)
_MESSAGE_ONLY = _Advice(
    "interaction_required",
    "Microsoft has a message for the user that only an interactive sign-in shows; have the user sign in to read"
    f" it, then {_REAUTHORIZE}.",
)
_PASSWORD_EXPIRED = _Advice(
    "interaction_required",
    f"The user's password has expired; the user has to sign in interactively and change it, then {_REAUTHORIZE}.",
)
_BLOCKED_BY_POLICY = _Advice(
    "blocked_by_policy",
    "A Conditional Access policy of the tenant blocks token issuance for this user, app, device or location;"
    " signing in again does not help: an administrator of the tenant has to change the policy or exclude this"
    " use from it.",
)
_SPA_REDIRECT = _Advice(
    "redirect_mismatch",
    "The redirect URI is registered as a single-page application, whose codes and tokens only a browser may redeem;"
    " register it under 'Mobile and desktop applications' in the app's Authentication settings instead, and sign"
    " in again.",
)
_LOOP_DETECTED = _Advice(
    "throttled", "Microsoft saw the same request too often in a short time; slow down and try again later."
)
_INVALID_CLIENT = _Advice(
    "invalid_client",
    "Microsoft rejected the client credentials; pass the client secret's value (not its ID) and check that it has"
    " not expired.",
)
_WRONG_SECRET = _Advice(
    "invalid_client", "client_secret is wrong; pass the secret's value as shown once when it was created, not its ID."
)
_EXPIRED_SECRET = _Advice("invalid_client", "client_secret has expired; create a new secret for the app.")
_PUBLIC_CLIENT_SECRET = _Advice(
    "invalid_client", "The app is a public client, which must not send a secret; remove client_secret."
)
_SECRET_REQUIRED = _Advice(
    "client_secret_required",
    "The app requires a client secret: pass client_secret, or turn on 'Allow public client flows' in the app"
    " registration and register the redirect URI as a mobile and desktop application.",
)
_APP_NOT_FOUND = _Advice(
    "app_not_found",
    "The application is unknown to, or not allowed in, this tenant and cloud; check client_id, tenant and cloud.",
)
_SINGLE_TENANT = _Advice(
    "app_not_found",
    "The app accepts only accounts of its own tenant; set tenant to that tenant's ID or domain instead of common.",
)
_TENANT_NOT_FOUND = _Advice("tenant_not_found", "The tenant does not exist in this cloud; check tenant and cloud.")
_INVALID_SCOPE = _Advice("invalid_scope", "Microsoft rejected the requested scopes; fix the scopes list.")
_INVALID_REQUEST = _Advice("invalid_request", "Microsoft rejected the request as malformed.")
_MISSING_PARAMETER = _Advice(
    "invalid_request", "Microsoft says a required parameter is missing; this is a bug in onedrive.connection."
)
_ACCESS_DENIED = _Advice(
    "access_denied",
    "Sign-in was cancelled or consent was declined; sign in again and accept the requested permissions, or ask an"
    " admin to grant consent for the app.",
)
_SERVER_ERROR = _Advice("server_error", "Microsoft reported an error on its side; try again later.")
# The device authorization grant's final answers (RFC 8628, section 3.5; Microsoft's "Expected errors" of the
# device code flow). authorization_pending and slow_down are not final: the polling loop handles them.
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_DEVICE_DECLINED = _Advice(
    "access_denied",
    "The user declined the sign-in on the device login page; start again (device_code) and accept the requested"
    " permissions, or ask an admin to grant consent for the app.",
)
_DEVICE_EXPIRED = _Advice(
    "code_expired",
    "The device code expired before the user finished signing in (Microsoft's live 15 minutes); start again"
    " (device_code) and sign in within that time.",
)
_DEVICE_CODE_UNKNOWN = _Advice(
    "code_invalid",
    "The token endpoint does not know this device code; pass the device_code that the device_code module returned,"
    " with the same client_id, tenant and cloud, or start again.",
)

# The advice for an OAuth error value, when no AADSTS number below refines it.
_BY_ERROR = {
    "invalid_client": _INVALID_CLIENT,
    "unauthorized_client": _APP_NOT_FOUND,
    "invalid_tenant": _TENANT_NOT_FOUND,
    "invalid_scope": _INVALID_SCOPE,
    "invalid_resource": _INVALID_SCOPE,
    "consent_required": _CONSENT_REQUIRED,
    "interaction_required": _INTERACTION_REQUIRED,
    "login_required": _INTERACTION_REQUIRED,
    "access_denied": _ACCESS_DENIED,
    "server_error": _SERVER_ERROR,
    "temporarily_unavailable": _SERVER_ERROR,
    "authorization_declined": _DEVICE_DECLINED,
    "expired_token": _DEVICE_EXPIRED,
    "bad_verification_code": _DEVICE_CODE_UNKNOWN,
}

# Numbers seen under both invalid_grant and interaction_required, whatever the grant.
_SHARED_INVALID_GRANT = {
    65001: _CONSENT_REQUIRED,
    50076: _MFA_REQUIRED,
    50078: _MFA_REQUIRED,
    50079: _MFA_REQUIRED,
    53003: _BLOCKED_BY_POLICY,
}
# invalid_grant means something different for each grant type; None is the fallback.
_INVALID_GRANT: dict[str, dict[int | None, _Advice]] = {
    "authorization_code": {
        None: _CODE_INVALID,
        54005: _CODE_REDEEMED,
        70008: _CODE_EXPIRED,
        50148: _PKCE_MISMATCH,
        501481: _PKCE_MISMATCH,
        50011: _REDIRECT_MISMATCH,
        500112: _REDIRECT_MISMATCH,
        **_SHARED_INVALID_GRANT,
    },
    "refresh_token": {
        None: _TOKEN_INVALID,
        70000: _GRANT_GONE,
        9002313: _TOKEN_INVALID,
        70008: _TOKEN_EXPIRED,
        700082: _TOKEN_EXPIRED,
        70043: _SIGN_IN_FREQUENCY,
        700084: _SPA_LIFETIME,
        50173: _TOKEN_REVOKED,
        **_SHARED_INVALID_GRANT,
    },
    # A device code redeemed once already (AADSTS54005) or expired (70020 under expired_token, 70008 seen too).
    DEVICE_CODE_GRANT: {
        None: _DEVICE_CODE_UNKNOWN,
        54005: _CODE_REDEEMED,
        70008: _DEVICE_EXPIRED,
        70020: _DEVICE_EXPIRED,
        **_SHARED_INVALID_GRANT,
    },
}
# What the token endpoint's suberror says when no AADSTS number above is known; the same under
# invalid_grant and interaction_required, which Microsoft uses interchangeably for these.
_SUBERROR = {
    "consent_required": _CONSENT_REQUIRED,
    "basic_action": _MFA_REQUIRED,
    "additional_action": _ADDITIONAL_ACTION,
    "message_only": _MESSAGE_ONLY,
    "user_password_expired": _PASSWORD_EXPIRED,
    "bad_token": _TOKEN_INVALID,
    "token_expired": _TOKEN_EXPIRED,
}
# invalid_grant and interaction_required share the numbers and suberrors; only their fallback differs.
_GRANT_FAMILIES = ("invalid_grant", "interaction_required")
# Loop detection is throttling whatever error value carries it: waiting is the only repair. A single-page-app
# redirect URI, whatever the grant (Microsoft sends it as invalid_request).
_ANY_ERROR = {50196: _LOOP_DETECTED, 9002327: _SPA_REDIRECT}

# AADSTS numbers, per OAuth error value, that sharpen the advice.
_REFINE: dict[str, dict[int, _Advice]] = {
    "invalid_client": {
        7000215: _WRONG_SECRET,
        7000222: _EXPIRED_SECRET,
        7000218: _SECRET_REQUIRED,
        700025: _PUBLIC_CLIENT_SECRET,
    },
    "invalid_request": {
        900144: _MISSING_PARAMETER,
        50194: _SINGLE_TENANT,
        90002: _TENANT_NOT_FOUND,
    },
    "unauthorized_client": {50194: _SINGLE_TENANT},
    # The authorize endpoint's redirect, where the page can still be shown.
    "interaction_required": {53003: _BLOCKED_BY_POLICY, 50076: _MFA_REQUIRED, 50079: _MFA_REQUIRED},
}


def _advice(error: str, codes: list[int], suberror: str | None, grant: str | None) -> _Advice:
    if error in _GRANT_FAMILIES and grant in _INVALID_GRANT:
        table = {**_INVALID_GRANT[grant], **_ANY_ERROR}
        family = _INVALID_GRANT[grant][None] if error == "invalid_grant" else _REFRESH_INTERACTION
        fallback = _SUBERROR.get(suberror or "", family)
    else:
        table = {**_REFINE.get(error, {}), **_ANY_ERROR}
        fallback = _BY_ERROR.get(error, _INVALID_REQUEST)
    return next((table[code] for code in codes if code in table), fallback)


def redact(text: str, secrets: t.Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced, for service texts that might echo a request."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def _with_description(msg: str, description: str | None, secrets: t.Iterable[str | None]) -> str:
    """``msg`` and the first line of Microsoft's description; the lines after it repeat the request ids."""
    lines = redact(description or "", secrets).strip().splitlines()
    return f"{msg} Microsoft said: {lines[0].strip()}" if lines else msg


def _codes(value: t.Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return [code for code in value if isinstance(code, int) and not isinstance(code, bool)]


def _text(value: t.Any) -> str | None:
    return value if isinstance(value, str) and value else None


def status_error(
    status: int,
    *,
    retry_after: float | None = None,
    error: str | None = None,
    error_codes: t.Iterable[int] = (),
    trace_id: str | None = None,
    correlation_id: str | None = None,
) -> OneDriveError | None:
    """The failure for a throttling or server status once retries are spent, whatever the endpoint; else None."""
    details = dict(
        error=error, error_codes=error_codes, trace_id=trace_id, correlation_id=correlation_id, retry_after=retry_after
    )
    if status == 429 or (status in (503, 504) and retry_after is not None):
        wait = "" if retry_after is None else f" and asked to wait {retry_after:g} s"
        return OneDriveError(
            f"Microsoft is throttling requests (HTTP {status}){wait}; wait and run again, or raise max_retry_wait.",
            "throttled",
            **details,
        )
    if status >= 500 and error is None:
        # Microsoft's own errors always carry one; a bare page or text comes from something in between.
        return OneDriveError(
            f"HTTP {status} without Microsoft's error details, as a proxy or gateway answers when it fails; try"
            " again later, and check login_url, graph_url and the proxy settings if it persists.",
            "server_error",
            **details,
        )
    if status >= 500:
        return OneDriveError(
            f"Microsoft answered HTTP {status}, an error on its side; try again later.", "server_error", **details
        )
    return None


def token_error(
    status: int,
    payload: t.Any,
    *,
    grant: str,
    scopes_sent: bool = False,
    retry_after: float | None = None,
    secrets: t.Iterable[str | None] = (),
) -> OneDriveError:
    """Classify a failed token endpoint answer; ``payload`` is its parsed JSON body, or None.

    ``grant`` is the request's grant_type, ``scopes_sent`` whether it asked for scopes of its own, ``secrets`` the
    values it sent that must not be echoed.
    """
    body = payload if isinstance(payload, dict) else {}
    error = _text(body.get("error"))
    details = dict(
        error=error,
        error_codes=_codes(body.get("error_codes")),
        trace_id=_text(body.get("trace_id")),
        correlation_id=_text(body.get("correlation_id")),
    )
    generic = status_error(status, retry_after=retry_after, **details)
    if generic is not None:
        return generic
    if error is None:
        return OneDriveError(
            f"The token endpoint answered HTTP {status} without an OAuth error; check login_url and any proxy between.",
            "unexpected_response",
            **details,
        )
    advice = _advice(error, details["error_codes"], _text(body.get("suberror")), grant)
    msg = advice.msg + (_SCOPE_OUTSIDE_GRANT if advice is _GRANT_GONE and scopes_sent else "")
    return OneDriveError(_with_description(msg, _text(body.get("error_description")), secrets), advice.reason, **details)


def authorize_error(params: t.Mapping[str, str]) -> OneDriveError:
    """Classify an error redirect from the authorize endpoint, given its decoded parameters."""
    error = params["error"]
    description = params.get("error_description", "")
    codes = [int(code) for code in _AADSTS.findall(description)]
    ids = {f"{kind.lower()}_id": value for kind, value in _DESCRIPTION_ID.findall(description)}
    advice = _advice(error, codes, None, None)
    return OneDriveError(
        _with_description(f"The sign-in ended with an error. {advice.msg}", description, ()),
        advice.reason,
        error=error,
        error_codes=codes,
        **ids,
    )
