# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Time stamps of stored connections: when rotation is due, and whether an access token still serves."""

from __future__ import annotations

import datetime
import re
import typing as t

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# An access token this close to expiry is not worth a Graph call: the plugin could not use it either.
ACCESS_TOKEN_MARGIN = 300

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"([0-9]+)\s*([smhdw])")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def format_timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: t.Any) -> datetime.datetime | None:
    """A stored time stamp, or None when it is missing or not one of ours."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def parse_duration(text: t.Any) -> int:
    """Seconds in ``3600``, ``90m``, ``12h``, ``7d``, ``2w`` or a sum such as ``1d12h``."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    value = str(text).strip().lower()
    if value.isascii() and value.isdigit():
        return int(value)
    parts = _DURATION.findall(value)
    if not parts or _DURATION.sub("", value).strip():
        raise ValueError(
            f"{text!r} is not a duration; use seconds or a number with a unit s, m, h, d or w, such as 7d or 12h"
        )
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


def rotation_due(record: dict, now: datetime.datetime, rotate_after: int) -> bool:
    """Due when the token was last rotated (or obtained) at least ``rotate_after`` seconds ago, or never."""
    last = parse_timestamp(record.get("rotated_at")) or parse_timestamp(record.get("obtained_at"))
    return last is None or (now - last).total_seconds() >= rotate_after


def access_token_usable(record: dict, now: datetime.datetime) -> bool:
    expires = parse_timestamp(record.get("access_token_expires_at"))
    return bool(record.get("access_token")) and expires is not None and (
        (expires - now).total_seconds() > ACCESS_TOKEN_MARGIN
    )
