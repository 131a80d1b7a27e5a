"""What the OpenBao/Vault store takes from the environment once, and the settings it refuses before any request."""

from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.plugin_utils.hashi_vault_store import HashiVaultStore, StoreError

OPTIONS = dict(
    url="https://bao.example.com:8200", token="t", auth_method="token", role_id=None, secret_id=None, namespace=None,
    mount_point="secret", path="onedrive/connections", ca_path=None, validate_certs=True, timeout=30.0,
)


def test_the_ca_bundle_and_proxy_of_the_environment_apply_as_requests_would_apply_them(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    store = HashiVaultStore(OPTIONS)
    assert store._verify() == "/etc/ssl/bundle.pem"
    assert store._session().proxies.get("https") == "http://proxy.example.com:3128"
    monkeypatch.setenv("NO_PROXY", "bao.example.com")
    assert not store._session().proxies.get("https")
    assert HashiVaultStore({**OPTIONS, "ca_path": "/own.pem"})._verify() == "/own.pem"
    assert HashiVaultStore({**OPTIONS, "validate_certs": False})._verify() is False


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(url=None), "hashi_vault.url is not set"),
        (dict(url="bao:8200"), "must start with https:// or http://"),
        (dict(token=None), "hashi_vault.token is not set"),
        (dict(auth_method="approle"), "needs hashi_vault.role_id and hashi_vault.secret_id"),
        (dict(mount_point="/"), "mount_point is empty"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_what_to_set(change, words):
    with pytest.raises(StoreError, match=words) as raised:
        HashiVaultStore({**OPTIONS, **change})
    assert raised.value.reason == "store_invalid"
