"""Helpers for the emulator's own tests: the default fixtures' names and a protocol driver."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests


class Protocol:
    """Speaks the login and Graph protocol to the emulator the way a client would."""

    PUBLIC = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
    CONFIDENTIAL = "8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
    SECRET = "emu-secret-8c2a9f4e-value"
    SINGLE_TENANT = "1b7e4c2d-3a5f-4e8b-9c0d-6f2a1e3b4c33"
    NO_PUBLIC_FLOWS = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b44"
    PERSONAL_ONLY = "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c55"
    NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
    CONTOSO = "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"
    FABRIKAM = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    CONSUMERS = "9188040d-6c67-4c5b-b112-36a304b66dad"
    ADELE = "adele@contoso.onmicrosoft.com"
    NODRIVE = "nodrive@contoso.onmicrosoft.com"
    MFA = "mfa@contoso.onmicrosoft.com"
    ALEX = "alex@fabrikam.onmicrosoft.com"
    MEGAN = "megan@outlook.com"
    SCOPE = "User.Read Files.Read offline_access openid profile"

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.base = emulator.base_url
        self.ca = emulator.ca_path

    @staticmethod
    def pkce() -> tuple[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        return verifier, challenge

    def authorize_url(self, tenant: str = "common", **params: str | None) -> str:
        query = {"client_id": self.PUBLIC, "response_type": "code", "redirect_uri": self.NATIVE,
                 "scope": self.SCOPE, "state": "st-1"}
        query.update(params)
        return f"{self.base}/{tenant}/oauth2/v2.0/authorize?" + urlencode(
            {k: v for k, v in query.items() if v is not None})

    @staticmethod
    def redirect_params(url: str) -> dict[str, str]:
        parts = urlsplit(url)
        return dict(parse_qsl(parts.fragment or parts.query))

    def code(self, user: str = ADELE, tenant: str = "common", **params: str | None) -> tuple[str, str]:
        """Sign user in with S256 PKCE; returns (code, verifier)."""
        verifier, challenge = self.pkce()
        url = self.authorize_url(tenant, code_challenge=challenge, code_challenge_method="S256", **params)
        return self.redirect_params(self.emulator.sign_in(url, user))["code"], verifier

    def token(self, tenant: str = "common", *, auth: tuple[str, str] | None = None,
              headers: dict | None = None, **form: str) -> requests.Response:
        return requests.post(f"{self.base}/{tenant}/oauth2/v2.0/token", data=form, auth=auth, headers=headers,
                             verify=self.ca, timeout=30)

    def redeem(self, user: str = ADELE, tenant: str = "common", client_id: str = PUBLIC,
               scope: str = SCOPE, redirect_uri: str = NATIVE, **form: str) -> requests.Response:
        code, verifier = self.code(user, tenant, client_id=client_id, scope=scope, redirect_uri=redirect_uri)
        return self.token(tenant, client_id=client_id, grant_type="authorization_code", code=code,
                          redirect_uri=redirect_uri, code_verifier=verifier, **form)

    def refresh(self, refresh_token: str, client_id: str = PUBLIC, tenant: str = "common",
                **form: str) -> requests.Response:
        return self.token(tenant, client_id=client_id, grant_type="refresh_token", refresh_token=refresh_token,
                          **form)

    def graph(self, path: str, access_token: str | None, method: str = "GET", body: dict | None = None,
              headers: dict | None = None) -> requests.Response:
        all_headers = dict(headers or {})
        if access_token is not None:
            all_headers["Authorization"] = f"Bearer {access_token}"
        return requests.request(method, f"{self.base}/v1.0{path}", headers=all_headers, verify=self.ca,
                                data=json.dumps(body) if body is not None else None, timeout=30)


@pytest.fixture
def proto(emulator) -> Protocol:
    return Protocol(emulator)


def assert_login_error(response: requests.Response, status: int, error: str, code: int) -> dict:
    """Check the exact shape of an identity-platform error body; returns it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    description = body["error_description"]
    assert description.startswith(f"AADSTS{code}: ")
    assert f"\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: {body['correlation_id']}\r\n" in description
    assert description.endswith(f"\r\nTimestamp: {body['timestamp']}")
    assert len(body["timestamp"]) == 20 and body["timestamp"].endswith("Z")
    assert body["error_uri"].endswith(f"/error?code={code}")
    return body


@pytest.fixture
def login_error():
    return assert_login_error
