"""The emulator's token-signing key: RS256 JWTs and the JWKS document that publishes the key."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Signer:
    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self._key.public_key().public_numbers()
        self._jwk = {"kty": "RSA", "use": "sig", "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e)}
        self.kid = b64url(hashlib.sha256(self._jwk["n"].encode("ascii")).digest()[:20])
        self._jwk["kid"] = self.kid

    def jwt(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{b64url_json(header)}.{b64url_json(claims)}".encode("ascii")
        signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode('ascii')}.{b64url(signature)}"

    def jwks(self, issuer: str) -> dict:
        return {"keys": [dict(self._jwk, issuer=issuer)]}
