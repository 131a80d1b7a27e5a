# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""PKCE (RFC 7636) and the state value that ties a sign-in response to its request."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

# RFC 7636 section 4.1: 43 to 128 characters from the URL-safe unreserved set.
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_verifier() -> str:
    """A code_verifier from 32 random bytes: 43 characters, 256 bits of entropy as RFC 7636 recommends."""
    return _base64url(secrets.token_bytes(32))


def s256_challenge(verifier: str) -> str:
    """The S256 code_challenge; plain is never used, since S256 is mandatory to implement."""
    return _base64url(hashlib.sha256(verifier.encode("ascii")).digest())


def validate_verifier(verifier: str) -> str:
    if not _VERIFIER.fullmatch(verifier):
        raise OneDriveError(
            "code_verifier must be 43 to 128 characters of letters, digits and -._~; pass the code_verifier that"
            " authorize_url returned.",
            "invalid_option",
        )
    return verifier


def new_state() -> str:
    """An unguessable state value for one sign-in."""
    return secrets.token_urlsafe(32)
