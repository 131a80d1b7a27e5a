"""Random identifiers and secrets shaped like the ones Microsoft issues."""

from __future__ import annotations

import secrets
import string
import uuid

_USER_CODE_ALPHABET = string.ascii_uppercase + string.digits


def guid() -> str:
    return str(uuid.uuid4())


def is_guid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def opaque(prefix: str, nbytes: int) -> str:
    """An opaque secret; the prefix mimics Microsoft's (work codes start 1.A, personal ones M.C)."""
    return prefix + secrets.token_urlsafe(nbytes)


def user_code() -> str:
    return "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
