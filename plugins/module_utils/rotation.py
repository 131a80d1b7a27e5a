# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rotation and verification of many stored connections in one run, a bounded number at a time.

Each connection costs at most two HTTP requests (one refresh, one Graph ``$batch``) over one shared
Transport, and one connection's failure is only its own result, even an unexpected one.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import typing as t

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import (
    access_token_usable,
    rotation_due,
)
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport
from ansible_collections.onedrive.connection.plugins.module_utils.verification import (
    Verification,
    checked_token,
    verify,
)

# Stored fields that hold secrets, masked wherever Ansible could show the module's arguments.
SECRET_FIELDS = ("refresh_token", "access_token", "client_secret")
# Failures only a new sign-in repairs; anything else (throttling, outages, bad settings) may pass by itself.
REAUTHORIZE_REASONS = frozenset(
    (
        "token_expired",
        "token_revoked",
        "token_invalid",
        "consent_required",
        "interaction_required",
        "mfa_required",
        "missing_scope",
    )
)

REFRESH, ACCESS, NOT_DUE = "refresh", "access", "not_due"
# A check with the stored access token that never falls back to a refresh: the caller holds no claim to redeem
# the refresh token with. When Graph refuses the access token, the outcome's status is REFRESH_NEEDED.
ACCESS_ONLY, REFRESH_NEEDED = "access_only", "refresh_needed"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one connection: ``status`` is rotated, verified, not_due, skipped or failed."""

    status: str
    verification: Verification | None = None
    error: OneDriveError | None = None

    @property
    def failure(self) -> OneDriveError | None:
        return self.error or (self.verification.error if self.verification else None)

    def summary(self) -> dict[str, t.Any]:
        """What may be shown: everything but the tokens."""
        summary: dict[str, t.Any] = dict(status=self.status)
        check = self.verification
        if check is not None:
            summary.update(verified_at=check.verified_at, refresh_token_rotated=check.refresh_token_rotated)
            summary["tenant_id"] = check.tenant_id
            if check.tokens is not None:
                summary["granted_scopes"] = check.tokens.granted_scopes
            if check.identity is not None:
                summary.update(user=check.identity.user, drive=check.identity.drive)
        failure = self.failure
        if failure is not None:
            summary.update(failure.result(), needs_authorization=failure.reason in REAUTHORIZE_REASONS)
        return summary

    def update(self) -> dict[str, t.Any] | None:
        """The fields to store, or None when nothing new is known.

        A refresh is always stored, even when the check failed after it: once the service has rotated the
        token, only the new one is sure to work. A check with the stored access token changes nothing.
        """
        check = self.verification
        if check is None or check.tokens is None:
            return None
        answer = check.tokens.result()
        update = {"granted_scopes": answer["granted_scopes"]}
        # An answer's access token no HTTP header could carry is left out; the stored one stays.
        if check.tokens.access_token:
            update.update((key, answer[key]) for key in ("access_token", "access_token_expires_at"))
        if check.refresh_token_rotated:
            update.update(refresh_token=answer["refresh_token"], rotated_at=check.verified_at)
        if check.error is None:
            update["verified_at"] = check.verified_at
        if check.identity is not None:
            user, drive = check.identity.user, check.identity.drive
            update.update(
                user_id=user["id"], user_principal_name=user["user_principal_name"], account_type=user["account_type"]
            )
            if drive is not None:
                update.update(drive_id=drive["id"], drive_type=drive["drive_type"])
        return update


@dataclasses.dataclass(frozen=True)
class Policy:
    """Which connections are checked, and how."""

    rotate_after: int = 0
    force: bool = False
    check_not_due: bool = False
    check_mode: bool = False
    required_scopes: t.Sequence[str] = ()
    check_drive: bool = True


def plan(record: t.Mapping[str, t.Any], now: datetime.datetime, policy: Policy) -> str:
    """REFRESH when rotation is due; else, to check anyway, ACCESS while the stored access token serves."""
    if policy.force or rotation_due(record, now, policy.rotate_after):
        return REFRESH
    if not policy.check_not_due:
        return NOT_DUE
    return ACCESS if access_token_usable(record, now) else REFRESH


def rotate_one(
    transport: Transport,
    client: Client,
    record: t.Mapping[str, t.Any],
    step: str,
    policy: Policy,
    prefix: str = "",
) -> Outcome:
    """``prefix`` goes before a stored field's name in messages, such as ``connections.robot1.``."""
    if step == NOT_DUE:
        return Outcome("not_due")
    if step in (ACCESS, ACCESS_ONLY):
        check = _check(transport, client, record, policy, prefix, access_token=record["access_token"])
        # An access token can die before its time (revoked sessions, clock skew): the refresh token decides.
        if check.error is None or check.error.reason != "graph_unauthorized":
            return _outcome(check)
        if step == ACCESS_ONLY:
            return Outcome(REFRESH_NEEDED)
    if not record.get("refresh_token"):
        return Outcome("failed", error=OneDriveError(
            "The connection has no refresh_token; authorize it (the bootstrap role) to store one.", "token_invalid"
        ))
    if policy.check_mode:
        # Nothing is sent, but a token that could never be sent is reported as a real run would.
        checked_token(record["refresh_token"], prefix + "refresh_token")
        return Outcome("skipped")
    return _outcome(_check(transport, client, record, policy, prefix, refresh_token=record["refresh_token"]))


def _check(
    transport: Transport, client: Client, record: t.Mapping[str, t.Any], policy: Policy, prefix: str, **token: str
) -> Verification:
    return verify(
        transport,
        client,
        scopes=record.get("scopes") or None,
        required_scopes=policy.required_scopes,
        check_drive=policy.check_drive,
        prefix=prefix,
        **token,
    )


def _outcome(check: Verification) -> Outcome:
    if check.error is not None:
        return Outcome("failed", verification=check)
    return Outcome("rotated" if check.refresh_token_rotated else "verified", verification=check)


def rotate_all(
    transport: Transport,
    connections: t.Mapping[str, t.Mapping[str, t.Any]],
    make_client: t.Callable[[t.Mapping[str, t.Any]], Client],
    policy: Policy,
    now: datetime.datetime,
    max_workers: int,
    keep: t.Callable[[Outcome], t.Any] = lambda outcome: outcome,
    steps: t.Mapping[str, str] | None = None,
) -> dict[str, t.Any]:
    """Check every connection, ``max_workers`` at a time; the results keep the connections' order.

    ``steps`` gives each connection's step (see plan) when the caller has decided them already.

    Each result is what ``keep`` makes of the connection's Outcome, as soon as it is known: a caller that keeps
    only what it returns does not hold every answer (tokens, claims, user and drive) of thousands at once.
    """

    def one(name: str, record: t.Mapping[str, t.Any]) -> t.Any:
        try:
            step = plan(record, now, policy) if steps is None else steps[name]
            client = make_client(record) if step != NOT_DUE else None
            outcome = rotate_one(transport, client, record, step, policy, prefix=f"connections.{name}.")
        except OneDriveError as exc:
            outcome = Outcome("failed", error=exc)
        except Exception as exc:
            # Left uncaught, it would end the whole run and lose every token rotated so far. verify() catches
            # its own, so this one came from reading the stored record (its time stamps, its client).
            outcome = Outcome("failed", error=_surprise(name, exc))
        return keep(outcome)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {name: pool.submit(one, name, record) for name, record in connections.items()}
        return {name: future.result() for name, future in futures.items()}


def _surprise(name: str, exc: Exception) -> OneDriveError:
    """A failure nothing foresaw, named by its type alone: its text may quote what it choked on, such as a token."""
    return OneDriveError(
        f"connections.{name} could not be checked: an unexpected {type(exc).__name__} occurred while reading its"
        " stored fields; check them.",
        "invalid_option",
    )
