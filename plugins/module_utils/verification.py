# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The check of one connection: refresh its token, compare the granted scopes, and ask Graph who and which drive.

Batch modules call ``verify`` from a thread pool with one shared Transport and Client; it never raises (not
even for a surprise: that would lose a refresh token the service has already rotated), so one connection's
failure is just its result.
"""

from __future__ import annotations

import dataclasses
import typing as t
import uuid

from ansible_collections.onedrive.connection.plugins.module_utils import graph
from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import format_timestamp, utcnow
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import (
    Client,
    TokenSet,
    UnusableAccessToken,
    header_safe,
)
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport

# What a OneDrive connection needs: a refresh token, the user's profile, and reading their files.
DEFAULT_REQUIRED_SCOPES = (scope_list.OFFLINE_ACCESS, "User.Read", "Files.Read")
CONSUMER_TENANT_ID = graph.CONSUMER_TENANT_ID


@dataclasses.dataclass(frozen=True)
class Verification:
    """What one check found. ``error`` is set when it failed; ``tokens`` holds the refresh answer even then,
    since once Microsoft has rotated the refresh token only the new one is sure to work."""

    verified_at: str
    tokens: TokenSet | None
    refresh_token_rotated: bool
    identity: graph.Identity | None
    tenant_id: str | None
    error: OneDriveError | None

    def result(self) -> dict[str, t.Any]:
        """The values a module returns, with the error's fields when it failed.

        ``refresh_token`` is there only when it was rotated: otherwise the caller's stored one stays valid
        (and Ansible would mask a value equal to a no_log option).
        """
        result: dict[str, t.Any] = dict(
            changed=False,
            verified_at=self.verified_at,
            tenant_id=self.tenant_id,
            refresh_token_rotated=self.refresh_token_rotated,
        )
        if self.error is not None:
            result.update(failed=True, **self.error.result())
        if self.tokens is not None:
            answer = self.tokens.result()
            result["granted_scopes"] = answer["granted_scopes"]
            if self.tokens.access_token:
                result.update((key, answer[key]) for key in ("access_token", "access_token_expires_at"))
            if self.refresh_token_rotated:
                result["refresh_token"] = self.tokens.refresh_token
        if self.identity is not None:
            result.update(user=self.identity.user, drive=self.identity.drive)
        return result


def verify(
    transport: Transport,
    client: Client,
    *,
    refresh_token: str | None = None,
    access_token: str | None = None,
    scopes: list[str] | None = None,
    required_scopes: t.Sequence[str] = DEFAULT_REQUIRED_SCOPES,
    check_drive: bool = True,
    prefix: str = "",
) -> Verification:
    """Check one connection with exactly one of ``refresh_token`` or ``access_token``.

    A refresh token costs one token request (with ``scopes`` when given) and its granted scopes must cover
    ``required_scopes``; then one Graph ``$batch`` asks for the user and, with ``check_drive``, the drive.
    An access token's scopes are unknown (it is never parsed), so only Graph's answers check it.
    ``prefix`` goes before the token's name in messages, such as ``connections.robot1.`` for a stored record.
    """
    if (refresh_token is None) == (access_token is None):
        raise ValueError("verify needs exactly one of refresh_token or access_token")
    tokens = identity = error = None
    field = prefix + ("refresh_token" if refresh_token is not None else "access_token")
    service = "the token endpoint"
    try:
        if refresh_token is not None:
            tokens = _with_offline_access(client.refresh(checked_token(refresh_token, field), scopes))
            _require(required_scopes, tokens.granted_scopes)
            access_token = tokens.access_token
        else:
            access_token = checked_token(access_token, field)
        service = "Graph"
        identity = graph.identify(transport, client.endpoints, access_token, check_drive=check_drive)
        if tokens is not None and tokens.tenant_id and identity.drive is None:
            # Without a drive, the id_token's tenant tells a personal account better than the user id's shape.
            identity.user["account_type"] = graph.account_type(identity.user["id"], tenant_id=tokens.tenant_id)
    except UnusableAccessToken as exc:
        tokens, error = _with_offline_access(exc.tokens), exc
    except OneDriveError as exc:
        error = exc
    except Exception as exc:
        error = _surprise(exc, field, service)
    return Verification(
        verified_at=format_timestamp(utcnow()),
        tokens=tokens,
        refresh_token_rotated=tokens is not None and tokens.refresh_token != refresh_token,
        identity=identity,
        tenant_id=_tenant_id(tokens, identity, client.endpoints.tenant),
        error=error,
    )


def checked_token(token: str, field: str) -> str:
    """The token without surrounding whitespace (a file's last line break); fails naming ``field``, never showing
    the value, when it is empty or holds what no token has and no HTTP request can carry."""
    token = token.strip()
    if not token:
        raise OneDriveError(f"{field} is empty; check the variable or vault entry that holds it.", "invalid_option")
    if not header_safe(token):
        raise OneDriveError(
            f"{field} holds spaces, control characters or characters outside ASCII, which no token has and no HTTP"
            " request can carry; check the variable or vault entry that holds it.",
            "token_invalid",
        )
    return token


def _surprise(exc: Exception, field: str, service: str) -> OneDriveError:
    """A failure nothing foresaw, named by its type alone: its text may quote what it choked on, such as a token."""
    return OneDriveError(
        f"The check of {field} with {service} failed with an unexpected {type(exc).__name__}; check login_url,"
        " graph_url and any proxy between, and report it if it persists.",
        "unexpected_response",
    )


def _with_offline_access(tokens: TokenSet) -> TokenSet:
    """A refresh token came back, which proves offline_access even where the scope list leaves it out."""
    if tokens.granted_scopes is None:
        return tokens
    granted = scope_list.unique([*tokens.granted_scopes, scope_list.OFFLINE_ACCESS])
    return dataclasses.replace(tokens, granted_scopes=granted)


def covering(scope: str) -> frozenset[str]:
    """The permissions (normalised, case-folded) any of which grants ``scope``.

    Graph names delegated permissions Resource.Operation[.Constraint]: ReadWrite includes Read, and .All
    (everything the user can reach) includes the unconstrained one (the user's own), so Files.Read is
    granted by Files.Read, Files.Read.All, Files.ReadWrite and Files.ReadWrite.All.
    """
    name = scope_list.normalise(scope).casefold()
    resource, _dot, rest = name.partition(".")
    operation, _dot, constraint = rest.partition(".")
    if operation not in ("read", "readwrite"):
        return frozenset((name,))
    operations = ("read", "readwrite") if operation == "read" else ("readwrite",)
    constraints = (constraint,) if constraint else ("", "all")
    return frozenset(".".join(filter(None, (resource, op, con))) for op in operations for con in constraints)


def _require(required: t.Iterable[str], granted: list[str] | None) -> None:
    """Fail with missing_scope naming every required scope the grant lacks; unknown grants pass to Graph."""
    if granted is None:
        return
    have = {scope_list.normalise(scope).casefold() for scope in granted}
    missing = [scope for scope in required if not covering(scope) & have]
    if missing:
        raise OneDriveError(
            f"The connection's grant lacks {' and '.join(missing)} (or a broader scope); it has"
            f" {' '.join(granted)}. Add the missing scope to the scopes, authorize the connection again"
            " (authorize_url, sign in, redeem_code) and store the new refresh token.",
            "missing_scope",
        )


def _tenant_id(tokens: TokenSet | None, identity: graph.Identity | None, tenant: str) -> str | None:
    """The tenant from the id_token, else the one personal accounts live in, else the tenant option's GUID."""
    if tokens is not None and tokens.tenant_id:
        return tokens.tenant_id
    personal = identity is not None and identity.user["account_type"] == "personal"
    if personal or tenant.lower() == "consumers":
        return CONSUMER_TENANT_ID
    try:
        return str(uuid.UUID(tenant))
    except ValueError:
        return None
