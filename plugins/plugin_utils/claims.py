# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Claims: which run may redeem a connection's refresh token, so that no two runs ever redeem the same one.

A claim is a field of the connection, written with a compare-and-set against what the run read, and released
by the write of the run's result. It holds no secret: a run id, the host and process, and when it expires.
A run that crashed leaves its claim behind; once it has expired another run may take it over.
"""

from __future__ import annotations

import datetime
import os
import socket
import typing as t
import uuid

from ansible_collections.onedrive.connection.plugins.module_utils.schedule import format_timestamp, parse_timestamp

FIELD = "claim"
# Taking and releasing a claim is bookkeeping, not a change of the connection: not reported, not in a diff.
HIDDEN = (FIELD,)


def new(lease_seconds: int, now: datetime.datetime) -> dict[str, t.Any]:
    """This run's claim, the same value on every connection it claims."""
    return {
        "run_id": uuid.uuid4().hex,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "expires_at": format_timestamp(now + datetime.timedelta(seconds=lease_seconds)),
    }


def held_by_another(record: t.Mapping[str, t.Any], mine: t.Mapping[str, t.Any], now: datetime.datetime) -> dict | None:
    """The live claim of another run on the connection, or None when it is free or its claim has expired."""
    claim = record.get(FIELD)
    if not isinstance(claim, dict) or claim.get("run_id") == mine["run_id"]:
        return None
    expires = parse_timestamp(claim.get("expires_at"))
    return claim if expires is not None and expires > now else None


def expectation(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What a claim write expects: the claim and the refresh token as this run read them."""
    return {FIELD: record.get(FIELD), "refresh_token": record.get("refresh_token")}


def shown(claim: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Another run's claim as a result may show it."""
    return {key: claim.get(key) for key in ("run_id", "host", "pid", "expires_at")}
