"""Discovery documents, the JWKS, unknown tenants and the error body shape."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _get(proto, path, **kwargs):
    return requests.get(proto.base + path, verify=proto.ca, timeout=30, **kwargs)


@pytest.mark.parametrize(("segment", "endpoint_tenant", "issuer_tenant"), [
    ("common", "common", "{tenantid}"),
    ("organizations", "organizations", "{tenantid}"),
    ("consumers", "consumers", "9188040d-6c67-4c5b-b112-36a304b66dad"),
    ("5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b", "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b",
     "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"),
    ("contoso.com", "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b", "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"),
    ("Fabrikam.onmicrosoft.com", "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"),
])
def test_openid_configuration_points_at_the_emulator(proto, segment, endpoint_tenant, issuer_tenant):
    response = _get(proto, f"/{segment}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    tenant_url = f"{proto.base}/{endpoint_tenant}"
    assert document["authorization_endpoint"] == f"{tenant_url}/oauth2/v2.0/authorize"
    assert document["token_endpoint"] == f"{tenant_url}/oauth2/v2.0/token"
    assert document["device_authorization_endpoint"] == f"{tenant_url}/oauth2/v2.0/devicecode"
    assert document["end_session_endpoint"] == f"{tenant_url}/oauth2/v2.0/logout"
    assert document["jwks_uri"] == f"{tenant_url}/discovery/v2.0/keys"
    assert document["issuer"] == f"{proto.base}/{issuer_tenant}/v2.0"
    assert document["msgraph_host"] == proto.base.split("://")[1]


@pytest.mark.parametrize("path", [
    "/nosuch.example/v2.0/.well-known/openid-configuration",
    "/11111111-2222-4333-8444-555555555555/v2.0/.well-known/openid-configuration",
    "/nosuch.example/discovery/v2.0/keys",
])
def test_unknown_tenant_is_invalid_tenant(proto, login_error, path):
    login_error(_get(proto, path), 400, "invalid_tenant", 90002)


def test_error_echoes_client_request_id_as_correlation_id(proto, login_error):
    correlation = "0b6e1f7a-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
    response = _get(proto, "/nosuch.example/v2.0/.well-known/openid-configuration",
                    headers={"client-request-id": correlation})
    assert login_error(response, 400, "invalid_tenant", 90002)["correlation_id"] == correlation


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_jwks_verifies_the_id_token_signature(proto):
    body = proto.redeem().json()
    header_b64, payload_b64, signature_b64 = body["id_token"].split(".")
    header = json.loads(_b64(header_b64))
    keys = _get(proto, f"/{proto.CONTOSO}/discovery/v2.0/keys").json()["keys"]
    key = next(k for k in keys if k["kid"] == header["kid"])
    public = rsa.RSAPublicNumbers(int.from_bytes(_b64(key["e"]), "big"),
                                  int.from_bytes(_b64(key["n"]), "big")).public_key()
    public.verify(_b64(signature_b64), f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(),
                  hashes.SHA256())
    assert header["alg"] == "RS256"


def test_token_endpoint_refuses_get(proto, login_error):
    login_error(_get(proto, "/common/oauth2/v2.0/token"), 400, "invalid_request", 900561)


def test_unknown_login_path_is_404(proto):
    assert _get(proto, "/common/oauth2/v2.0/nothing").status_code == 404
