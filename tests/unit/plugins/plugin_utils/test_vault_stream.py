"""vault_stream reads what VaultLib (ansible-vault) writes and writes what it reads, byte for byte in layout."""

from __future__ import annotations

import binascii
import io

import pytest
from hypothesis import assume, given, settings, strategies as st

from ansible.parsing.vault import VaultLib, VaultSecret, format_vaulttext_envelope

from ansible_collections.onedrive.connection.plugins.plugin_utils import vault_stream


def secret(password):
    return VaultSecret(password.encode())


def written(plaintext, password="pw", vault_id=None):
    return b"".join(vault_stream.encrypt(plaintext, secret(password), vault_id))


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=0, max_size=70000))
def test_both_ways_round_trip_with_vaultlib(plaintext):
    assume(not plaintext.startswith(b"$ANSIBLE_VAULT"))  # VaultLib refuses to encrypt twice
    lib = VaultLib([("default", secret("pw"))])
    ours = written(plaintext)
    assert lib.decrypt(ours) == plaintext
    assert vault_stream.decrypt(io.BytesIO(lib.encrypt(plaintext)), lib.secrets) == plaintext


def test_the_layout_is_vaultlibs_header_and_80_column_lines():
    ours = written(b"x" * 5000, vault_id="prod")
    lines = ours.split(b"\n")
    assert lines[0] == b"$ANSIBLE_VAULT;1.2;AES256;prod" and lines[-1] == b""
    assert all(len(line) == 80 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 80
    # The same payload formatted by ansible's own envelope code gives the same file.
    payload = b"".join(lines[1:])
    assert format_vaulttext_envelope(payload, "AES256", vault_id="prod") == ours
    assert written(b"x", vault_id="default").startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    assert written(b"x").startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")


def test_the_secret_of_the_named_vault_id_opens_it_among_others():
    lib = VaultLib([("dev", secret("pw-dev")), ("prod", secret("pw-prod"))])
    ours = written(b"data", "pw-prod", "prod")
    assert vault_stream.decrypt(io.BytesIO(ours), lib.secrets) == b"data"
    # A file labelled with an unloaded id still opens with a loaded secret that fits, as VaultLib's does.
    relabelled = ours.replace(b";prod\n", b";other\n", 1)
    assert vault_stream.decrypt(io.BytesIO(relabelled), lib.secrets) == b"data"


@pytest.mark.parametrize("line_end", [b"\r\n", b"\r"])
def test_other_line_endings_are_read_as_vaultlib_reads_them(line_end):
    ours = written(b"data" * 100).replace(b"\n", line_end)
    assert VaultLib([("default", secret("pw"))]).decrypt(ours) == b"data" * 100
    assert vault_stream.decrypt(io.BytesIO(ours), [("default", secret("pw"))]) == b"data" * 100


def test_a_wrong_password_names_the_vault_id():
    with pytest.raises(vault_stream.NoSecretOpens) as caught:
        vault_stream.decrypt(io.BytesIO(written(b"data", vault_id="prod")), [("prod", secret("nope"))])
    assert caught.value.vault_id == "prod"


@pytest.mark.parametrize("damage", [
    lambda text: text[:-30],  # truncated: odd digits or a short ciphertext
    lambda text: text.replace(b"\n6", b"\nzz", 1),  # not hex
    lambda text: text.split(b"\n")[0] + b"\n",  # no payload
    lambda text: b"$ANSIBLE_VAULT;1.1;DES\n" + text.split(b"\n", 1)[1],  # another cipher
])
def test_damaged_files_are_refused_as_damaged_or_unopenable(damage):
    with pytest.raises((vault_stream.VaultFormatError, vault_stream.NoSecretOpens)):
        vault_stream.decrypt(io.BytesIO(damage(written(b"some data" * 50))), [("default", secret("pw"))])


def test_a_tampered_ciphertext_fails_the_hmac_check():
    inner = bytearray(binascii.unhexlify(b"".join(written(b"some data" * 50).split(b"\n")[1:])))
    inner[-1] = ord("0") if inner[-1] != ord("0") else ord("1")  # still a hex digit, no longer the ciphertext
    tampered = format_vaulttext_envelope(binascii.hexlify(inner), "AES256")
    with pytest.raises(vault_stream.NoSecretOpens):
        vault_stream.decrypt(io.BytesIO(tampered), [("default", secret("pw"))])
