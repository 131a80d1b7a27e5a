# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The health of stored connections: what a check records in the store, and what connection_status reports.

Everything here reads the non-secret fields of a record only, sends nothing, and renders the report (the table,
the JSON document and the Prometheus text format) so that no playbook has to build it in Jinja.
"""

from __future__ import annotations

import datetime
import json
import typing as t

from ansible_collections.onedrive.connection.plugins.module_utils.common import connection_argument_spec
from ansible_collections.onedrive.connection.plugins.module_utils.rotation import REAUTHORIZE_REASONS
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import format_timestamp, parse_timestamp
from ansible_collections.onedrive.connection.plugins.module_utils.store_options import CLAIM_OPTIONS, DEFAULT_KEY, STORE_OPTIONS
from ansible_collections.onedrive.connection.plugins.module_utils.verification import DEFAULT_REQUIRED_SCOPES

# Microsoft ends a refresh token's life after 90 days without use; each use issues a new one with a new window.
INACTIVITY_WINDOW = datetime.timedelta(days=90)
# Within this of the end of its window, a healthy connection is reported as expiring (the README's alert agrees).
EXPIRY_WARNING = datetime.timedelta(days=14)
DEFAULT_ROTATE_AFTER = "7d"

# What a check records in the connection's record, in the same write as its tokens. Bookkeeping, like a claim:
# hidden from changed and from diffs.
LAST_STATUS, LAST_REASON, LAST_CHECKED_AT = "last_status", "last_reason", "last_checked_at"
STATUS_FIELDS = (LAST_STATUS, LAST_REASON, LAST_CHECKED_AT)
# The rotation statuses that are a check's verdict; not_due, skipped and claimed say nothing about the grant.
RECORDED = ("rotated", "verified", "failed")
PASSED = ("rotated", "verified")

# Reasons that pass by themselves: the next run tries again.
TRANSIENT_REASONS = frozenset(("throttled", "server_error", "unexpected_response", "network", "tls", "graph_unauthorized"))

# The only stored fields a status may show: every secret stays out by construction, not by filtering.
SHOWN_FIELDS = (
    "client_id", "tenant", "cloud", "user_id", "user_principal_name", "account_type", "drive_id", "drive_type",
    "obtained_at", "rotated_at", "verified_at", LAST_CHECKED_AT,
)
# Values that change with the clock alone; the files leave them out so that they change only with the store.
CLOCK_FIELDS = ("refresh_token_age_seconds", "refresh_token_age_days", "rotation_due")

METRICS = (
    ("onedrive_connection_up", "1 when the connection's last check passed, else 0 (never checked, failed, expired)."),
    ("onedrive_connection_last_rotation_timestamp_seconds",
     "When the stored refresh token was issued: its last rotation, else its sign-in (Unix time)."),
    ("onedrive_connection_last_verification_timestamp_seconds",
     "When Microsoft Graph last accepted the connection (Unix time)."),
    ("onedrive_connection_refresh_token_expiry_timestamp_seconds",
     "When the stored refresh token's 90-day inactivity window ends if nothing uses it (Unix time)."),
    ("onedrive_connection_info", "The connection's account; the value is always 1."),
)


def argument_spec() -> dict[str, dict[str, t.Any]]:
    """The options of connection_status, shared by the module (documentation, checks) and its action plugin."""
    spec = connection_argument_spec(
        names=dict(type="list", elements="str"),
        rotate_after=dict(type="str", default=DEFAULT_ROTATE_AFTER),
        verify=dict(type="bool", default=False),
        required_scopes=dict(type="list", elements="str", default=list(DEFAULT_REQUIRED_SCOPES)),
        check_drive=dict(type="bool", default=True),
        max_workers=dict(type="int", default=32),
        json_file=dict(type="path"),
        metrics_file=dict(type="path"),
        path=dict(type="path"),
        key=dict(type="str", default=DEFAULT_KEY, no_log=False),
        vault_id=dict(type="str"),
        lock_timeout=dict(type="float", default=60),
        **STORE_OPTIONS,
        **CLAIM_OPTIONS,
    )
    spec["client_id"]["required"] = False
    return spec


# Recording.


def recorded(summary: t.Mapping[str, t.Any], now: str) -> dict[str, t.Any] | None:
    """The status fields a rotation result records, or None when it checked nothing. None as a value: remove it."""
    status = summary.get("status")
    if status not in RECORDED:
        return None
    return {
        LAST_STATUS: status,
        LAST_REASON: summary.get("reason") if status == "failed" else None,
        LAST_CHECKED_AT: summary.get("verified_at") or now,
    }


def verdict_changed(record: t.Mapping[str, t.Any], fields: t.Mapping[str, t.Any]) -> bool:
    """Whether fields tell something the record does not: a check that writes nothing else is recorded only then."""
    last = _last_status(record)
    before = last in PASSED, last is not None, record.get(LAST_REASON) if last == "failed" else None
    after = fields[LAST_STATUS] in PASSED, True, fields[LAST_REASON]
    return before != after


def _last_status(record: t.Mapping[str, t.Any]) -> str | None:
    """The recorded verdict; a record from before verdicts were recorded (or the bootstrap role's, which stores a
    connection only once Graph accepted it) has only its successful check's verified_at."""
    last = record.get(LAST_STATUS)
    if last in RECORDED:
        return last
    return "verified" if parse_timestamp(record.get("verified_at")) is not None else None


# Reporting.


def _timestamp(record: t.Mapping[str, t.Any], field: str) -> datetime.datetime | None:
    return parse_timestamp(record.get(field))


def _shown_time(moment: datetime.datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def connection_status(record: t.Mapping[str, t.Any], now: datetime.datetime, rotate_after: int) -> dict[str, t.Any]:
    """One stored connection's status, from its non-secret fields only."""
    shown: dict[str, t.Any] = {field: record.get(field) if isinstance(record.get(field), str) else None for field in SHOWN_FIELDS}
    for field in ("obtained_at", "rotated_at", "verified_at", LAST_CHECKED_AT):
        shown[field] = _shown_time(_timestamp(record, field))
    scopes = record.get("granted_scopes") or record.get("scopes") or []
    shown["scopes"] = scopes.split() if isinstance(scopes, str) else [str(scope) for scope in scopes if isinstance(scope, str)]

    issued = _timestamp(record, "rotated_at") or _timestamp(record, "obtained_at")
    expires = issued + INACTIVITY_WINDOW if issued else None
    due = issued + datetime.timedelta(seconds=rotate_after) if issued else None
    age = int((now - issued).total_seconds()) if issued else None
    shown.update(
        refresh_token_stored=bool(record.get("refresh_token")),
        refresh_token_issued_at=_shown_time(issued),
        refresh_token_expires_at=_shown_time(expires),
        refresh_token_age_seconds=age,
        refresh_token_age_days=round(age / 86400, 1) if age is not None else None,
        next_rotation_due_at=_shown_time(due) if due else format_timestamp(now),
        rotation_due=due is None or due <= now,
    )

    status = _last_status(record)
    up = None if status is None else status in PASSED
    reason = record.get(LAST_REASON) if status == "failed" else None
    if status == "failed" and not isinstance(reason, str):
        reason = "unknown"
    # What the store says overrides an older verdict: a connection cannot work without a token, or past its window.
    if not shown["refresh_token_stored"]:
        up, reason = False, "token_invalid"
    elif expires is not None and expires <= now and up is not False:
        up, reason = False, "token_expired"
    shown.update(up=up, reason=reason, last_status=status, needs_authorization=reason in REAUTHORIZE_REASONS)
    shown["advice"] = _advice(shown, now, expires)
    return shown


def _advice(shown: t.Mapping[str, t.Any], now: datetime.datetime, expires: datetime.datetime | None) -> str:
    reason = shown["reason"]
    if shown["up"] is None:
        return "never checked: run the rotate role (or this report with verification)"
    if shown["up"] is False:
        if not shown["refresh_token_stored"]:
            return "no refresh token stored: sign in with the bootstrap role"
        if shown["needs_authorization"]:
            return "sign in again with the bootstrap role"
        if reason == "blocked_by_policy":
            return "a Conditional Access policy blocks it: a tenant administrator must act"
        if reason == "no_drive":
            return "the account has no usable OneDrive: license it, or check without the drive"
        if reason in TRANSIENT_REASONS:
            return "transient: the next rotation tries again"
        return f"{reason}: see Troubleshooting in the README"
    if expires is not None and expires - now <= EXPIRY_WARNING:
        return "expires soon: run the rotate role"
    if shown["rotation_due"]:
        return "rotation due: run the rotate role (is its schedule running?)"
    return "ok"


def statuses(connections: t.Mapping[str, t.Mapping[str, t.Any]], now: datetime.datetime, rotate_after: int) -> dict:
    """The status of every connection, by name, in the store's order."""
    return {name: connection_status(record, now, rotate_after) for name, record in connections.items()}


def summary(report: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, list[str]]:
    return {
        "up": [name for name, shown in report.items() if shown["up"] is True],
        "down": [name for name, shown in report.items() if shown["up"] is False],
        "unknown": [name for name, shown in report.items() if shown["up"] is None],
        "reauthorize": [name for name, shown in report.items() if shown["needs_authorization"]],
    }


def _rank(item: tuple[str, t.Mapping[str, t.Any]]) -> tuple:
    name, shown = item
    health = {False: 0, None: 1, True: 2}[shown["up"]]
    return health, shown["advice"] == "ok", shown["refresh_token_expires_at"] or "", name


def table(report: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """One line per connection, the unhealthy ones first, with what to do; columns aligned."""
    header = ("CONNECTION", "STATE", "USER", "TOKEN EXPIRES", "ROTATED", "VERIFIED", "REASON", "WHAT TO DO")
    rows = [header]
    for name, shown in sorted(report.items(), key=_rank):
        rows.append((
            name if name.isprintable() else name.encode("unicode_escape").decode("ascii"),
            {True: "up", False: "DOWN", None: "unknown"}[shown["up"]],
            shown["user_principal_name"] or "-",
            _short(shown["refresh_token_expires_at"]),
            _short(shown["refresh_token_issued_at"]),
            _short(shown["verified_at"]),
            shown["reason"] or "-",
            shown["advice"],
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]) for row in rows]


def _short(timestamp: str | None) -> str:
    return timestamp[:16].replace("T", " ") if timestamp else "-"


def document(report: t.Mapping[str, t.Mapping[str, t.Any]], rotate_after: int) -> str:
    """The JSON file: every connection's status without the values that change with the clock alone."""
    steady = {name: {key: value for key, value in shown.items() if key not in CLOCK_FIELDS} for name, shown in report.items()}
    return json.dumps({"rotate_after_seconds": rotate_after, "connections": steady}, indent=2, sort_keys=True) + "\n"


def _label(value: t.Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _seconds(timestamp: str | None) -> int | None:
    moment = parse_timestamp(timestamp)
    return int(moment.timestamp()) if moment is not None else None


def metrics(report: t.Mapping[str, t.Mapping[str, t.Any]]) -> str:
    """The Prometheus text exposition format, as node_exporter's textfile collector reads it.

    A time that is not known has no sample at all: a 0 would read as 1970 and fire every expiry alert.
    """
    values: dict[str, list[str]] = {metric: [] for metric, dummy in METRICS}
    for name, shown in report.items():
        connection = f'connection="{_label(name)}"'
        values["onedrive_connection_up"].append(f"{{{connection}}} {1 if shown['up'] else 0}")
        for metric, field in (
            ("onedrive_connection_last_rotation_timestamp_seconds", "refresh_token_issued_at"),
            ("onedrive_connection_last_verification_timestamp_seconds", "verified_at"),
            ("onedrive_connection_refresh_token_expiry_timestamp_seconds", "refresh_token_expires_at"),
        ):
            seconds = _seconds(shown[field])
            if seconds is not None:
                values[metric].append(f"{{{connection}}} {seconds}")
        labels = ",".join(
            [connection] + [f'{label}="{_label(shown[label])}"' for label in ("user_principal_name", "account_type", "drive_type")]
        )
        values["onedrive_connection_info"].append(f"{{{labels}}} 1")
    lines = []
    for metric, help_text in METRICS:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines += [metric + sample for sample in values[metric]]
    return "\n".join(lines) + "\n"


def unknown_names(connections: t.Mapping[str, t.Any], names: t.Iterable[str] | None) -> list[str]:
    return [name for name in names or () if name not in connections]


def selected(connections: t.Mapping[str, t.Any], names: t.Sequence[str] | None) -> dict:
    """The connections named (all when None); a record that is not a mapping raises ValueError naming it."""
    chosen = connections if names is None else {name: connections[name] for name in names}
    for name, record in chosen.items():
        if not isinstance(record, dict):
            raise ValueError(f"connection {name} is not a mapping of fields")
    return dict(chosen)
