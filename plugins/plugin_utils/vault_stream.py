# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole-file ansible-vault payloads (format 1.1 and 1.2, AES256) read and written a chunk at a time.

The files are the ones `ansible-vault` reads and writes; only the memory differs. VaultLib holds a file
several times over (as text, as a list of its lines, joined, unhexlified), about five times the file's size,
and a vault of a thousand connections is 7 MB. This keeps the payload once, the plaintext once, and the file's
text a chunk at a time. The key derivation, cipher, padding and HMAC are those of the documented format, from
the `cryptography` library ansible-core itself requires.
"""

from __future__ import annotations

import binascii
import functools
import itertools
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_bytes
from ansible.parsing.vault import match_secrets
try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.hmac import HMAC
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
except ImportError:
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

_MAGIC = b"$ANSIBLE_VAULT"
_CIPHER = b"AES256"
_KEY_LENGTH = 32
_IV_LENGTH = 16
_ITERATIONS = 10000
_LINE = 80
# Bytes of ciphertext per chunk written: hex-encoded twice it becomes 4 * 16384 characters, 819 full lines.
_WRITE_CHUNK = 16384
_READ_CHUNK = 1 << 16
_WHITESPACE = b" \t\r\n"


class VaultFormatError(Exception):
    """The file starts like a vault but its payload is not one: damaged or truncated."""


class MissingCryptography(Exception):
    """The cryptography library, which ansible-vault needs as well, is not installed on the controller."""


def _require_cryptography() -> None:
    if not HAS_CRYPTOGRAPHY:
        raise MissingCryptography("the Python library cryptography is needed to read and write vaults; install it")


class NoSecretOpens(Exception):
    """None of the loaded secrets opens the payload; ``vault_id`` is the one its header names."""

    def __init__(self, vault_id: str):
        super().__init__(vault_id)
        self.vault_id = vault_id


@functools.lru_cache(maxsize=16)
def _keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    derived = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=2 * _KEY_LENGTH + _IV_LENGTH, salt=salt, iterations=_ITERATIONS
    ).derive(password)
    return derived[:_KEY_LENGTH], derived[_KEY_LENGTH:2 * _KEY_LENGTH], derived[2 * _KEY_LENGTH:]


def decrypt(handle: BinaryIO, secrets: list) -> bytes:
    """The plaintext of the vault file read from handle, opened with the first of secrets that fits."""
    _require_cryptography()
    # The header ends at the first line break of any kind (a file may have lines ended by CR alone).
    first = handle.read(_READ_CHUNK)
    end = min((index for index in (first.find(b"\n"), first.find(b"\r")) if index >= 0), default=len(first))
    header = first[:end].split(b";")
    if header[0] != _MAGIC or len(header) < 3 or header[2].strip() != _CIPHER:
        raise VaultFormatError("not an AES256 ansible-vault header")
    vault_id = header[3].strip().decode("utf-8", "replace") if len(header) > 3 else C.DEFAULT_VAULT_IDENTITY
    salt, mac, ciphertext = _payload(itertools.chain((first[end:],), iter(functools.partial(handle.read, _READ_CHUNK), b"")))
    # The secrets VaultLib tries, in its order: those of the header's vault id and, unless told to match it,
    # the others; match_secrets keeps the order they were loaded in.
    wanted = [vault_id]
    if not C.DEFAULT_VAULT_ID_MATCH:
        wanted += [loaded for loaded, dummy in secrets if loaded != vault_id]
    for dummy, secret in match_secrets(secrets, wanted):
        key, mac_key, iv = _keys(secret.bytes, salt)
        check = HMAC(mac_key, hashes.SHA256())
        check.update(ciphertext)
        try:
            check.verify(mac)
        except InvalidSignature:
            continue
        decryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
        except ValueError:
            raise VaultFormatError("bad padding") from None
    raise NoSecretOpens(vault_id)


def _payload(blocks: Iterable[bytes]) -> tuple[bytes, bytes, bytes]:
    """Salt, HMAC and ciphertext from the hex lines after the header, read in blocks."""
    inner = bytearray()
    carry = b""
    try:
        for block in blocks:
            digits = carry + block.translate(None, _WHITESPACE)
            even = len(digits) - len(digits) % 2
            inner += binascii.unhexlify(digits[:even])
            carry = digits[even:]
        if carry:
            raise VaultFormatError("odd number of hex digits")
        first = inner.index(b"\n")
        second = inner.index(b"\n", first + 1)
        salt = binascii.unhexlify(inner[:first])
        mac = binascii.unhexlify(inner[first + 1:second])
        ciphertext = binascii.unhexlify(memoryview(inner)[second + 1:])
    except (binascii.Error, ValueError):
        raise VaultFormatError("malformed payload") from None
    if not salt or not ciphertext:
        raise VaultFormatError("empty salt or ciphertext")
    return salt, mac, ciphertext


def encrypt(plaintext: bytes, secret, vault_id: str | None) -> Iterator[bytes]:
    """The vault file for plaintext, in chunks: version 1.2 naming vault_id, or 1.1 for none or 'default'."""
    _require_cryptography()
    return _encrypted(plaintext, secret, vault_id)


def _encrypted(plaintext: bytes, secret, vault_id: str | None) -> Iterator[bytes]:
    salt = to_bytes(C.config.get_config_value("VAULT_ENCRYPT_SALT") or os.urandom(32))
    key, mac_key, iv = _keys(secret.bytes, salt)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    signer = HMAC(mac_key, hashes.SHA256())
    signer.update(ciphertext)
    mac = signer.finalize()

    header = [_MAGIC, b"1.1", _CIPHER]
    if vault_id and vault_id != "default":
        header[1:] = [b"1.2", _CIPHER, to_bytes(vault_id)]
    yield b";".join(header) + b"\n"
    # The payload is hex-encoded twice: once as the fields, then the whole, as VaultLib writes it.
    pending = bytearray(binascii.hexlify(binascii.hexlify(salt) + b"\n" + binascii.hexlify(mac) + b"\n"))
    view = memoryview(ciphertext)
    for start in range(0, len(ciphertext), _WRITE_CHUNK):
        pending += binascii.hexlify(binascii.hexlify(view[start:start + _WRITE_CHUNK]))
        whole = len(pending) - len(pending) % _LINE
        yield _lines(pending, whole)
        del pending[:whole]
    if pending:
        yield bytes(pending) + b"\n"


def _lines(text: bytearray, end: int) -> bytes:
    return b"".join(bytes(text[start:start + _LINE]) + b"\n" for start in range(0, end, _LINE))
