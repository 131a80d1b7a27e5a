from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.parsing.dataloader import DataLoader

from ansible_collections.onedrive.connection.plugins.plugin_utils import vault_yaml
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_yaml import (
    InvalidYaml,
    UndecryptableValue,
    VaultValue,
)

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
_data = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _data, max_size=5))
def test_dump_then_load_gives_the_same_data(data):
    assert vault_yaml.load(vault_yaml.dump(data), vault=None) == data


def test_vault_value_round_trip_keeps_ciphertext(vault):
    secret = vault.secrets[0][1]
    value = VaultValue.encrypt("s3cr3t", vault, secret, "default")
    text = vault_yaml.dump({"token": value})
    assert text.startswith("token: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n")
    loaded = vault_yaml.load(text, vault)["token"]
    assert loaded.ciphertext == value.ciphertext
    assert loaded.plaintext() == "s3cr3t"
    assert "s3cr3t" not in repr(loaded)
    assert vault_yaml.dump({"token": loaded}) == text


def test_undecryptable_value_fails_only_when_read(vault, make_vault):
    value = VaultValue.encrypt("s3cr3t", vault, vault.secrets[0][1], "default")
    loaded = vault_yaml.load(vault_yaml.dump({"token": value}), make_vault(("default", "wrong")))
    with pytest.raises(UndecryptableValue, match="cannot be decrypted with the loaded vault secrets"):
        loaded["token"].plaintext()


@pytest.mark.parametrize("text", ["{{ lookup('pipe', 'id') }}", "a {% raw %}", "{# c #}"])
def test_template_text_is_written_unsafe_so_ansible_keeps_it_verbatim(text, tmp_path):
    dumped = vault_yaml.dump({"v": text})
    assert dumped.startswith("v: !unsafe ")
    assert vault_yaml.load(dumped, vault=None) == {"v": text}
    path = tmp_path / "vars.yml"
    path.write_text(dumped)
    loaded = DataLoader().load_from_file(str(path))
    assert str(loaded["v"]) == text


def test_unsafe_collections_load_as_plain_data():
    assert vault_yaml.load("a: !unsafe [x, y]\nb: !unsafe {k: v}\n", vault=None) == {"a": ["x", "y"], "b": {"k": "v"}}


def test_invalid_yaml_names_the_position_but_never_the_text():
    with pytest.raises(InvalidYaml) as caught:
        vault_yaml.load("a: 1\nb: [hunter2-token\n", vault=None)
    message = str(caught.value)
    assert "is not valid YAML (problem at line" in message
    assert "hunter2" not in message


def test_unknown_tags_are_refused():
    with pytest.raises(InvalidYaml, match="line 1"):
        vault_yaml.load("a: !python/object:os.system x\n", vault=None)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), st.dictionaries(st.text(max_size=10), _data, max_size=4), max_size=4),
       st.sampled_from([{}, {"default_flow_style": True}, {"default_flow_style": None}]))
def test_loading_a_value_at_a_time_gives_what_pyyaml_gives(data, style):
    text = yaml.dump(data, Dumper=yaml.SafeDumper, **style)
    assert vault_yaml.load(text, vault=None) == yaml.safe_load(text) == data


@pytest.mark.parametrize("text", [
    "base: &b {x: 1}\nconnections:\n  one: *b\n  two: {<<: *b, y: 2}\n",
    "connections:\n  <<: {x: 1}\n  y: 2\n",
    "<<: {a: 1}\nb: 2\n",
    "[1, 2]\n",
    "just text\n",
    "",
    "a: !!map {b: 1}\nc: &anchor {d: [1, 2]}\ne: *anchor\n",
    "? [unhashable]\n: 1\n",
    "a: 1\n---\nb: 2\n",
])
def test_anchors_merge_keys_and_other_shapes_load_as_pyyaml_loads_them(text):
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        with pytest.raises(InvalidYaml):
            vault_yaml.load(text, vault=None)
        return
    assert vault_yaml.load(text, vault=None) == expected


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), st.dictionaries(st.text(max_size=10), _data, max_size=4) | _data, max_size=4))
def test_dumping_a_value_at_a_time_writes_what_pyyaml_writes(data):
    whole = yaml.dump(data, Dumper=vault_yaml._Dumper, **vault_yaml._DUMP_OPTIONS)
    assert vault_yaml.dump(data) == whole
