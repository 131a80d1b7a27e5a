"""Vault secrets for the plugin_utils tests: real VaultLib objects, as a play would have loaded them."""

from __future__ import annotations

import pytest

from ansible.parsing.vault import VaultLib, VaultSecret


def _vault(*identities: tuple[str, str]) -> VaultLib:
    return VaultLib([(vault_id, VaultSecret(password.encode())) for vault_id, password in identities])


@pytest.fixture
def make_vault():
    """Builds a VaultLib from (vault id, password) pairs."""
    return _vault


@pytest.fixture
def vault() -> VaultLib:
    return _vault(("default", "correct horse"))
