# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Microsoft Graph: whom an access token belongs to and which drive it reaches, asked in one ``$batch``."""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import Endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError, redact, status_error
from ansible_collections.onedrive.connection.plugins.module_utils.transport import (
    MAX_REDIRECTS,
    RETRY_STATUSES,
    Transport,
    json_body,
    parse_retry_after,
)

ME = "me"
DRIVE = "drive"
_URLS = {ME: "/me", DRIVE: "/me/drive"}
# The permission each sub-request needs; Graph answers 403 accessDenied without it.
_NEEDS = {ME: "User.Read", DRIVE: "Files.Read"}
# Personal (Microsoft account) user ids are hex, 16 digits as issued but fewer where Graph drops leading zeros;
# work or school ones are GUIDs.
_PERSONAL_ID = re.compile(r"[0-9a-fA-F]{1,16}")
# The tenant every personal account lives in.
CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
_ACCOUNT_BY_DRIVE_TYPE = {"personal": "personal", "business": "work", "documentLibrary": "work"}


def account_type(user_id: str, drive_type: t.Any = None, tenant_id: str | None = None) -> str:
    """personal or work: by the drive's type, else by the tenant, and only then by the shape of the user id."""
    if drive_type in _ACCOUNT_BY_DRIVE_TYPE:
        return _ACCOUNT_BY_DRIVE_TYPE[drive_type]
    if tenant_id:
        return "personal" if tenant_id.lower() == CONSUMER_TENANT_ID else "work"
    return "personal" if _PERSONAL_ID.fullmatch(user_id) else "work"


# Graph reports a missing or unprovisioned OneDrive as 400 BadRequest or 500 UnknownError too, not only as
# 404; only its text ("Tenant does not have a SPO license.", "Unable to retrieve user's mysite URL.") tells.
_NO_DRIVE_TEXT = re.compile(r"mysite|SPO license", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Identity:
    """The user a token belongs to and, when asked for, their drive, in the shape modules return."""

    user: dict[str, t.Any]
    drive: dict[str, t.Any] | None


@dataclasses.dataclass(frozen=True)
class _Answer:
    """One sub-request's response from inside a ``$batch`` answer."""

    status: int
    retry_after: float | None
    body: t.Any


def identify(transport: Transport, endpoints: Endpoints, access_token: str, *, check_drive: bool = True) -> Identity:
    """GET /me and, with ``check_drive``, GET /me/drive, in one POST /v1.0/$batch.

    A throttled sub-request (429, 503 or 504 inside a 200 answer) makes the whole batch retried within the
    transport's bound, as does a lost answer: the batch only reads. Any failure left raises OneDriveError.
    """
    wanted = (ME, DRIVE) if check_drive else (ME,)
    payload = {"requests": [{"id": name, "method": "GET", "url": _URLS[name]} for name in wanted]}
    response = transport.request(
        "POST",
        endpoints.graph("/$batch"),
        json=payload,
        headers={"Authorization": f"Bearer {access_token}"},
        idempotent=True,
        redirects=MAX_REDIRECTS,  # within Graph's origin only, as the transport enforces
        retry_status=_retry_status,
    )
    body = json_body(response)
    if response.status_code != 200:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise _error(None, response.status_code, retry_after, body, access_token)
    answers = _answers(body, wanted)
    for name in wanted:
        answer = answers[name]
        if answer.status != 200:
            raise _error(name, answer.status, answer.retry_after, answer.body, access_token)
    user = _user(answers[ME].body)
    drive = _drive(answers[DRIVE].body) if check_drive else None
    user["account_type"] = account_type(user["id"], drive["drive_type"] if drive else None)
    return Identity(user=user, drive=drive)


def _retry_status(response: t.Any) -> tuple[int, str | None]:
    """The status and Retry-After that decide a retry: a throttled sub-request's, asking the longest wait."""
    if response.status_code != 200:
        return response.status_code, response.headers.get("Retry-After")
    try:
        answers = _answers(json_body(response), ()).values()
    except OneDriveError:
        return response.status_code, None
    throttled = [answer for answer in answers if answer.status in RETRY_STATUSES]
    if not throttled:
        return response.status_code, None
    worst = max(throttled, key=lambda answer: answer.retry_after or 0)
    return worst.status, None if worst.retry_after is None else str(worst.retry_after)


def _answers(body: t.Any, wanted: t.Iterable[str]) -> dict[str, _Answer]:
    """The sub-responses of a ``$batch`` answer by id; fails when one of ``wanted`` is missing."""
    responses = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(responses, list):
        raise OneDriveError(
            "Graph answered $batch without its JSON list of responses; check graph_url and any proxy between.",
            "unexpected_response",
        )
    answers = {}
    for item in responses:
        if isinstance(item, dict) and isinstance(item.get("status"), int) and item.get("id") in _URLS:
            headers = item.get("headers") if isinstance(item.get("headers"), dict) else {}
            # Sub-response header names keep whatever case the service used.
            headers = {str(name).lower(): value for name, value in headers.items()}
            answers[item["id"]] = _Answer(
                item["status"], parse_retry_after(headers.get("retry-after")), item.get("body")
            )
    absent = [_URLS[name] for name in wanted if name not in answers]
    if absent:
        raise OneDriveError(
            f"Graph's $batch answer holds no response for {' and '.join(absent)}; check graph_url and any proxy"
            " between.",
            "unexpected_response",
        )
    return answers


def _error(name: str | None, status: int, retry_after: float | None, body: t.Any, access_token: str) -> OneDriveError:
    """Classify a failed Graph answer: the $batch itself (``name`` None) or one of its sub-requests."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    inner = error.get("innerError") if isinstance(error.get("innerError"), dict) else {}
    details = dict(
        error=_text(error.get("code")),
        trace_id=_text(inner.get("request-id")),
        correlation_id=_text(inner.get("client-request-id")),
    )
    said = redact(_text(error.get("message")) or "", (access_token,)).strip()
    if name == DRIVE and _no_drive(status, said):
        return _no_drive_error(status, said, details)
    generic = status_error(status, retry_after=retry_after, **details)
    if generic is not None:
        return generic
    said = f" Graph said: {said.splitlines()[0]}" if said else ""
    url = _URLS.get(name or "", "/$batch")
    if status == 401:
        return OneDriveError(
            f"Graph refused the access token (HTTP 401 for {url}): it has expired, is malformed, or was issued for"
            " another cloud or resource. Verify with refresh_token, or pass a fresh access token for graph_url." + said,
            "graph_unauthorized",
            **details,
        )
    if status == 403 and name in _NEEDS:
        scope = _NEEDS[name]
        return OneDriveError(
            f"Graph denied {url} (HTTP 403): the token lacks {scope} or a broader scope. Add {scope} to the scopes,"
            " authorize the connection again (authorize_url, sign in, redeem_code) and store the new refresh token."
            + said,
            "missing_scope",
            **details,
        )
    return OneDriveError(
        f"Graph answered HTTP {status} for {url}; check graph_url and any proxy between." + said,
        "unexpected_response",
        **details,
    )


def _no_drive(status: int, message: str) -> bool:
    """Whether a failed /me/drive answer says the account has no usable OneDrive."""
    return status == 404 or (status in (400, 500) and bool(_NO_DRIVE_TEXT.search(message)))


def _no_drive_error(status: int, message: str, details: dict[str, t.Any]) -> OneDriveError:
    said = f" Graph said: {message.splitlines()[0]}" if message else ""
    return OneDriveError(
        f"The account has no usable OneDrive (HTTP {status} for /me/drive): a work or school account gets one only"
        " when its tenant has SharePoint Online and the user a license that includes OneDrive, once the user has"
        " opened OneDrive. Set check_drive=false to verify the account alone." + said,
        "no_drive",
        **details,
    )


def _text(value: t.Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(body: t.Any, url: str) -> dict[str, t.Any]:
    if not isinstance(body, dict) or not _text(body.get("id")):
        raise OneDriveError(
            f"Graph answered 200 for {url} without an object id; check graph_url and any proxy between.",
            "unexpected_response",
        )
    return body


def _user(body: t.Any) -> dict[str, t.Any]:
    user = _object(body, _URLS[ME])
    return dict(
        id=user["id"],
        display_name=user.get("displayName"),
        user_principal_name=user.get("userPrincipalName"),
        mail=user.get("mail"),
        account_type="personal" if _PERSONAL_ID.fullmatch(user["id"]) else "work",
    )


def _drive(body: t.Any) -> dict[str, t.Any]:
    drive = _object(body, _URLS[DRIVE])
    owner = drive.get("owner") if isinstance(drive.get("owner"), dict) else {}
    owner_user = owner.get("user") if isinstance(owner.get("user"), dict) else None
    quota = drive.get("quota") if isinstance(drive.get("quota"), dict) else {}
    return dict(
        id=drive["id"],
        drive_type=drive.get("driveType"),
        owner=dict(id=owner_user.get("id"), display_name=owner_user.get("displayName")) if owner_user else None,
        quota={key: quota.get(key) for key in ("total", "used", "remaining", "deleted", "state")},
    )
