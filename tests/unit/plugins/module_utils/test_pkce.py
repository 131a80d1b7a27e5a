from __future__ import annotations

import re

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.pkce import (
    new_state,
    new_verifier,
    s256_challenge,
    validate_verifier,
)


def test_rfc7636_appendix_b_vector():
    assert (
        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_new_verifier_is_43_unreserved_characters_and_fresh():
    verifiers = {new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", verifier) for verifier in verifiers)
    assert all(validate_verifier(verifier) == verifier for verifier in verifiers)


def test_new_state_is_url_safe_and_fresh():
    states = {new_state() for _ in range(50)}
    assert len(states) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", state) for state in states)


@pytest.mark.parametrize("verifier", ["a" * 43, "a" * 128, "A-._~" + "0" * 38])
def test_validate_verifier_accepts_rfc_lengths_and_characters(verifier):
    assert validate_verifier(verifier) == verifier


@pytest.mark.parametrize("verifier", ["", "a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "/", "a" * 42 + " "])
def test_validate_verifier_rejects_and_never_echoes(verifier):
    with pytest.raises(OneDriveError) as raised:
        validate_verifier(verifier)
    assert raised.value.reason == "invalid_option"
    assert verifier not in raised.value.msg or not verifier
