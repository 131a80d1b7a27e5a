"""The program itself: HTTPS with its own CA, plain HTTP, --config, keep-alive and concurrency."""

from __future__ import annotations

import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from msemu import config
from msemu.process import EmulatorProcess


def test_https_certificate_is_valid_for_127_0_0_1_and_localhost(emulator):
    port = int(emulator.base_url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=emulator.ca_path)
    for host in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert emulator.base_url.startswith("https://127.0.0.1:")


def test_untrusted_clients_fail_verification(emulator):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emulator.base_url + "/common/v2.0/.well-known/openid-configuration",
                     verify=requests.certs.where(), timeout=30)


def test_keep_alive_and_concurrency(proto, emulator):
    """100 connections at once, 20 keep-alive requests each: the load a benchmark puts on it."""
    token = emulator.grant(proto.PUBLIC, proto.ADELE, ["User.Read"])["access_token"]

    def client(_):
        statuses = []
        with requests.Session() as session:
            for _ in range(20):
                response = session.get(f"{proto.base}/v1.0/me", headers={"Authorization": f"Bearer {token}"},
                                       verify=proto.ca, timeout=60)
                statuses.append((response.status_code, response.raw.version))
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=100) as pool:
        results = [s for statuses in pool.map(client, range(100)) for s in statuses]
    elapsed = time.monotonic() - started
    assert results == [(200, 11)] * 2000
    assert emulator.log()["counts"] == {"me": 2000}
    assert elapsed < 30


def _tiny_fixtures(path: Path) -> Path:
    raw = yaml.safe_load(config.DEFAULT_FIXTURES.read_text())
    raw["tenants"] = [{"name": "tailspin", "id": "a0a0a0a0-b1b1-4c2c-8d3d-e4e4e4e4e4e4",
                       "domains": ["tailspin.example"]}]
    raw["apps"] = [dict(raw["apps"][0], home_tenant="tailspin")]
    raw["users"] = [dict(raw["users"][0], login="bob@tailspin.example", tenant="tailspin")]
    path.write_text(yaml.safe_dump(raw))
    return path


def test_plain_http_with_a_config_file(tmp_path):
    fixtures = _tiny_fixtures(tmp_path / "fixtures.yaml")
    with EmulatorProcess(tmp_path / "state", https=False, config=fixtures) as process:
        client = process.client
        assert client.base_url.startswith("http://127.0.0.1:")
        assert not (tmp_path / "state" / "ca.pem").exists()
        document = requests.get(client.base_url + "/tailspin.example/v2.0/.well-known/openid-configuration",
                                timeout=30).json()
        assert document["issuer"] == f"{client.base_url}/a0a0a0a0-b1b1-4c2c-8d3d-e4e4e4e4e4e4/v2.0"
        assert requests.get(client.base_url + "/contoso.com/v2.0/.well-known/openid-configuration",
                            timeout=30).status_code == 400
        token = client.grant("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "bob@tailspin.example", ["User.Read"])
        assert token["scope"] == "https://graph.microsoft.com/User.Read"
    assert not (tmp_path / "state" / "url").exists()


def test_bad_config_stops_the_program(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apps: []\n")
    with pytest.raises(RuntimeError, match="exited with status 2"):
        EmulatorProcess(tmp_path / "state", https=False, config=bad).start()


def test_default_fixtures_match_the_contract():
    fixtures = config.load()
    assert [(a.name, a.audience, a.allow_public_client_flows) for a in fixtures.apps] == [
        ("public", "AzureADandPersonalMicrosoftAccount", True),
        ("confidential", "AzureADMultipleOrgs", False),
        ("single_tenant", "AzureADMyOrg", True),
        ("no_public_flows", "AzureADandPersonalMicrosoftAccount", False),
        ("personal_only", "PersonalMicrosoftAccount", True),
        ("Microsoft Graph Command Line Tools", "AzureADMultipleOrgs", True),
    ]
    assert [(u.login, u.personal, u.drive.type if u.drive else None) for u in fixtures.users] == [
        ("adele@contoso.onmicrosoft.com", False, "business"),
        ("nodrive@contoso.onmicrosoft.com", False, None),
        ("mfa@contoso.onmicrosoft.com", False, "business"),
        ("alex@fabrikam.onmicrosoft.com", False, "business"),
        ("megan@outlook.com", True, "personal"),
        ("admin@contoso.onmicrosoft.com", False, None),
    ]
    assert [u.login for u in fixtures.users if u.roles] == ["admin@contoso.onmicrosoft.com"]
